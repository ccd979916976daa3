// textures: texture objects over CUDA arrays, mipmapped arrays, linear and pitch-2D memory,
// fetched with every geometry (1D, 2D, 3D, 1D/2D layered, cubemap), point and linear filtering,
// every address mode (wrap, clamp, mirror, border), normalized and unnormalized coordinates,
// element-type and normalized-float read modes, sRGB, explicit level of detail and gather.
// Every fetched value is compared with a CPU reference written here from the CUDA programming
// guide's texture fetching appendix (linear filtering weights in 9-bit fixed point).
//
// Build: nvcc -o textures textures.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./textures
#include "check.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

enum Kind { K1D, K2D, K3D, K1DL, K2DL, KCUBE, K2DLOD, KGATHER, KFETCH, K2DU8 };

struct Query {
  float x, y, z, w;  // coordinates; w = layer or level of detail
};

__global__ void fetch(cudaTextureObject_t t, int kind, const Query* q, float4* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const Query c = q[i];
  float4 r = make_float4(0, 0, 0, 0);
  switch (kind) {
    case K1D: r = tex1D<float4>(t, c.x); break;
    case K2D: r = tex2D<float4>(t, c.x, c.y); break;
    case K3D: r = tex3D<float4>(t, c.x, c.y, c.z); break;
    case K1DL: r = tex1DLayered<float4>(t, c.x, static_cast<int>(c.w)); break;
    case K2DL: r = tex2DLayered<float4>(t, c.x, c.y, static_cast<int>(c.w)); break;
    case KCUBE: r = texCubemap<float4>(t, c.x, c.y, c.z); break;
    case K2DLOD: r = tex2DLod<float4>(t, c.x, c.y, c.w); break;
    case KGATHER: r = tex2Dgather<float4>(t, c.x, c.y, 0); break;
    case KFETCH: {
      const int v = tex1Dfetch<int>(t, static_cast<int>(c.x));
      r = make_float4(static_cast<float>(v), 0, 0, 0);
      break;
    }
    case K2DU8: r = tex2D<float4>(t, c.x, c.y); break;
  }
  out[i] = r;
}

// ---- CPU reference ----------------------------------------------------------------------------

struct Ref {
  const float* data = nullptr;  // texels as floats (already normalized for 8-bit reads), 4 channels
  int w = 1, h = 1, d = 1, layers = 1, dims = 1;
  cudaTextureAddressMode mode[3] = {cudaAddressModeClamp, cudaAddressModeClamp, cudaAddressModeClamp};
  bool linear = false, normalized = false;
  float border[4] = {0, 0, 0, 0};
};

int wrap_index(cudaTextureAddressMode m, int i, int n) {
  switch (m) {
    case cudaAddressModeWrap: return ((i % n) + n) % n;
    case cudaAddressModeMirror: {
      int p = ((i % (2 * n)) + 2 * n) % (2 * n);
      return p < n ? p : 2 * n - 1 - p;
    }
    case cudaAddressModeBorder: return (i < 0 || i >= n) ? -1 : i;
    default: return i < 0 ? 0 : (i >= n ? n - 1 : i);
  }
}

void texel(const Ref& r, int x, int y, int z, int layer, float* out) {
  const int n[3] = {r.w, r.h, r.d};
  int idx[3] = {x, y, z};
  for (int k = 0; k < r.dims; ++k) {
    idx[k] = wrap_index(r.mode[k], idx[k], n[k]);
    if (idx[k] < 0) {
      for (int c = 0; c < 4; ++c) out[c] = r.border[c];
      return;
    }
  }
  if (r.dims < 2) idx[1] = 0;
  if (r.dims < 3) idx[2] = 0;
  const size_t off = ((static_cast<size_t>(layer) * r.d + idx[2]) * r.h + idx[1]) * r.w + idx[0];
  for (int c = 0; c < 4; ++c) out[c] = r.data[off * 4 + c];
}

float to_texel_space(const Ref& r, int k, float v, int n) {
  if (!r.normalized) return v;
  if (r.mode[k] == cudaAddressModeWrap) v -= std::floor(v);
  if (r.mode[k] == cudaAddressModeMirror) {
    float f = std::floor(v);
    v -= f;
    if (static_cast<long>(f) % 2 != 0) v = 1.0f - v;
  }
  return v * n;
}

void ref_fetch(const Ref& r, float x, float y, float z, int layer, float* out) {
  const int n[3] = {r.w, r.h, r.d};
  float v[3] = {x, y, z};
  for (int k = 0; k < r.dims; ++k) v[k] = to_texel_space(r, k, v[k], n[k]);
  if (!r.linear) {
    texel(r, static_cast<int>(std::floor(v[0])), static_cast<int>(std::floor(v[1])),
          static_cast<int>(std::floor(v[2])), layer, out);
    return;
  }
  int i[3] = {0, 0, 0};
  float a[3] = {0, 0, 0};
  for (int k = 0; k < r.dims; ++k) {
    float b = v[k] - 0.5f;
    i[k] = static_cast<int>(std::floor(b));
    a[k] = std::round((b - std::floor(b)) * 256.0f) / 256.0f;  // 9-bit fixed point, 8 fraction bits
  }
  for (int c = 0; c < 4; ++c) out[c] = 0;
  for (int dz = 0; dz < (r.dims >= 3 ? 2 : 1); ++dz)
    for (int dy = 0; dy < (r.dims >= 2 ? 2 : 1); ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        float wgt = dx ? a[0] : 1 - a[0];
        if (r.dims >= 2) wgt *= dy ? a[1] : 1 - a[1];
        if (r.dims >= 3) wgt *= dz ? a[2] : 1 - a[2];
        float t[4];
        texel(r, i[0] + dx, i[1] + dy, i[2] + dz, layer, t);
        for (int c = 0; c < 4; ++c) out[c] += wgt * t[c];
      }
}

// ---- running and checking --------------------------------------------------------------------

int g_checked = 0;

std::vector<float4> run(cudaTextureObject_t t, Kind kind, const std::vector<Query>& qs) {
  Query* dq = nullptr;
  float4* dout = nullptr;
  const int n = static_cast<int>(qs.size());
  CHECK(cudaMalloc(&dq, n * sizeof(Query)));
  CHECK(cudaMalloc(&dout, n * sizeof(float4)));
  CHECK(cudaMemcpy(dq, qs.data(), n * sizeof(Query), cudaMemcpyHostToDevice));
  fetch<<<(n + 63) / 64, 64>>>(t, kind, dq, dout, n);
  CHECK(cudaGetLastError());
  std::vector<float4> out(n);
  CHECK(cudaMemcpy(out.data(), dout, n * sizeof(float4), cudaMemcpyDeviceToHost));
  CHECK(cudaFree(dq));
  CHECK(cudaFree(dout));
  return out;
}

void expect(const char* what, const Query& q, const float4& got, const float* want, int channels) {
  const float g[4] = {got.x, got.y, got.z, got.w};
  for (int c = 0; c < channels; ++c) {
    if (std::fabs(g[c] - want[c]) > 1e-4f * (1.0f + std::fabs(want[c])))
      example_fail("%s at (%g, %g, %g, %g) channel %d: got %.6f, expected %.6f", what, q.x, q.y, q.z, q.w, c, g[c],
                   want[c]);
  }
  ++g_checked;
}

std::vector<Query> sweep(int dims, float lo, float hi, int steps, float w = 0) {
  std::vector<Query> qs;
  for (int i = 0; i < steps; ++i) {
    const float a = lo + (hi - lo) * i / (steps - 1);
    const float b = lo + (hi - lo) * ((i * 7) % steps) / (steps - 1);
    const float c = lo + (hi - lo) * ((i * 13) % steps) / (steps - 1);
    qs.push_back(Query{a, dims >= 2 ? b : 0.f, dims >= 3 ? c : 0.f, w});
  }
  return qs;
}

cudaTextureDesc tex_desc(cudaTextureAddressMode m, bool linear, bool normalized) {
  cudaTextureDesc td;
  std::memset(&td, 0, sizeof td);
  td.addressMode[0] = td.addressMode[1] = td.addressMode[2] = m;
  td.filterMode = linear ? cudaFilterModeLinear : cudaFilterModePoint;
  td.readMode = cudaReadModeElementType;
  td.normalizedCoords = normalized;
  td.borderColor[0] = 0.25f;
  td.borderColor[1] = 0.5f;
  td.borderColor[2] = 0.75f;
  td.borderColor[3] = 1.0f;
  return td;
}

cudaTextureObject_t make_tex(cudaArray_t a, const cudaTextureDesc& td) {
  cudaResourceDesc rd;
  std::memset(&rd, 0, sizeof rd);
  rd.resType = cudaResourceTypeArray;
  rd.res.array.array = a;
  cudaTextureObject_t t = 0;
  CHECK(cudaCreateTextureObject(&t, &rd, &td, nullptr));
  return t;
}

// Checks one texture in every address mode x filter x coordinate normalization.
void all_modes(const char* name, cudaArray_t a, Kind kind, Ref r, int layer) {
  const cudaTextureAddressMode modes[4] = {cudaAddressModeWrap, cudaAddressModeClamp, cudaAddressModeMirror,
                                           cudaAddressModeBorder};
  for (int norm = 0; norm < 2; ++norm)
    for (int lin = 0; lin < 2; ++lin)
      for (int m = 0; m < 4; ++m) {
        // Wrap and mirror exist only for normalized coordinates.
        if (!norm && (modes[m] == cudaAddressModeWrap || modes[m] == cudaAddressModeMirror)) continue;
        cudaTextureObject_t t = make_tex(a, tex_desc(modes[m], lin, norm));
        r.mode[0] = r.mode[1] = r.mode[2] = modes[m];
        r.linear = lin;
        r.normalized = norm;
        r.border[0] = 0.25f, r.border[1] = 0.5f, r.border[2] = 0.75f, r.border[3] = 1.0f;
        const float lo = norm ? -1.3f : -3.0f, hi = norm ? 2.2f : r.w + 3.0f;
        std::vector<Query> qs = sweep(r.dims, lo, hi, 61, static_cast<float>(layer));
        std::vector<float4> got = run(t, kind, qs);
        for (size_t i = 0; i < qs.size(); ++i) {
          float want[4];
          ref_fetch(r, qs[i].x, qs[i].y, qs[i].z, layer, want);
          char what[128];
          std::snprintf(what, sizeof what, "%s (mode %d, %s, %s)", name, m, lin ? "linear" : "point",
                        norm ? "normalized" : "texel coordinates");
          expect(what, qs[i], got[i], want, 4);
        }
        CHECK(cudaDestroyTextureObject(t));
      }
}

std::vector<float> pattern(size_t texels, float scale) {
  std::vector<float> v(texels * 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f) * scale + static_cast<float>(i % 5);
  return v;
}

int main() {
  const cudaChannelFormatDesc f4 = cudaCreateChannelDesc<float4>();

  // 1D array.
  {
    const int w = 13;
    std::vector<float> data = pattern(w, 3);
    cudaArray_t a;
    CHECK(cudaMallocArray(&a, &f4, w, 0));
    CHECK(cudaMemcpy2DToArray(a, 0, 0, data.data(), w * 16, w * 16, 1, cudaMemcpyHostToDevice));
    Ref r;
    r.data = data.data(), r.w = w, r.dims = 1;
    all_modes("1D", a, K1D, r, 0);
    CHECK(cudaFreeArray(a));
  }
  // 2D array, written with an asynchronous 2D copy from a pitched host buffer.
  {
    const int w = 9, h = 7;
    std::vector<float> data = pattern(w * h, 2);
    std::vector<float> pitched(w * 4 * h + 64 * h);
    const size_t hp = w * 16 + 64;
    for (int y = 0; y < h; ++y) std::memcpy(reinterpret_cast<char*>(pitched.data()) + y * hp, &data[y * w * 4], w * 16);
    cudaArray_t a;
    CHECK(cudaMallocArray(&a, &f4, w, h));
    CHECK(cudaMemcpy2DToArrayAsync(a, 0, 0, pitched.data(), hp, w * 16, h, cudaMemcpyHostToDevice, 0));
    CHECK(cudaStreamSynchronize(0));
    Ref r;
    r.data = data.data(), r.w = w, r.h = h, r.dims = 2;
    all_modes("2D", a, K2D, r, 0);
    // The array reads back as written (array -> host 2D copy).
    std::vector<float> back(w * h * 4);
    CHECK(cudaMemcpy2DFromArray(back.data(), w * 16, a, 0, 0, w * 16, h, cudaMemcpyDeviceToHost));
    if (back != data) example_fail("2D array did not read back as written");
    CHECK(cudaFreeArray(a));
  }
  // 3D array through cudaMemcpy3D.
  {
    const int w = 5, h = 4, d = 3;
    std::vector<float> data = pattern(w * h * d, 1.5f);
    cudaArray_t a;
    CHECK(cudaMalloc3DArray(&a, &f4, make_cudaExtent(w, h, d)));
    cudaMemcpy3DParms p;
    std::memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(data.data(), w * 16, w, h);
    p.dstArray = a;
    p.extent = make_cudaExtent(w, h, d);
    p.kind = cudaMemcpyHostToDevice;
    CHECK(cudaMemcpy3D(&p));
    Ref r;
    r.data = data.data(), r.w = w, r.h = h, r.d = d, r.dims = 3;
    all_modes("3D", a, K3D, r, 0);
    CHECK(cudaFreeArray(a));
  }
  // Layered 1D and 2D arrays, and a cubemap.
  {
    const int w = 6, h = 5, layers = 3;
    std::vector<float> data = pattern(w * h * layers, 2.5f);
    cudaArray_t a;
    CHECK(cudaMalloc3DArray(&a, &f4, make_cudaExtent(w, h, layers), cudaArrayLayered));
    cudaMemcpy3DParms p;
    std::memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(data.data(), w * 16, w, h);
    p.dstArray = a;
    p.extent = make_cudaExtent(w, h, layers);
    p.kind = cudaMemcpyHostToDevice;
    CHECK(cudaMemcpy3D(&p));
    Ref r;
    r.data = data.data(), r.w = w, r.h = h, r.dims = 2, r.layers = layers;
    for (int l = 0; l < layers; ++l) all_modes("2D layered", a, K2DL, r, l);
    CHECK(cudaFreeArray(a));

    std::vector<float> d1 = pattern(w * layers, 1.0f);
    CHECK(cudaMalloc3DArray(&a, &f4, make_cudaExtent(w, 0, layers), cudaArrayLayered));
    std::memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(d1.data(), w * 16, w, 1);
    p.dstArray = a;
    p.extent = make_cudaExtent(w, 1, layers);
    p.kind = cudaMemcpyHostToDevice;
    CHECK(cudaMemcpy3D(&p));
    Ref r1;
    r1.data = d1.data(), r1.w = w, r1.dims = 1, r1.layers = layers;
    for (int l = 0; l < layers; ++l) all_modes("1D layered", a, K1DL, r1, l);
    CHECK(cudaFreeArray(a));
  }
  {
    // Cubemap: face f holds the constant value f + 10 (and its texel index in channel 1), so the
    // face selection of the programming guide's cubemap table is checked directly.
    const int w = 4;
    std::vector<float> data(w * w * 6 * 4);
    for (int f = 0; f < 6; ++f)
      for (int i = 0; i < w * w; ++i) {
        float* t = &data[(f * w * w + i) * 4];
        t[0] = f + 10.0f, t[1] = static_cast<float>(i), t[2] = 0, t[3] = 1;
      }
    cudaArray_t a;
    CHECK(cudaMalloc3DArray(&a, &f4, make_cudaExtent(w, w, 6), cudaArrayCubemap));
    cudaMemcpy3DParms p;
    std::memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(data.data(), w * 16, w, w);
    p.dstArray = a;
    p.extent = make_cudaExtent(w, w, 6);
    p.kind = cudaMemcpyHostToDevice;
    CHECK(cudaMemcpy3D(&p));
    cudaTextureObject_t t = make_tex(a, tex_desc(cudaAddressModeClamp, false, true));
    const Query qs[] = {{1, 0.2f, -0.3f, 0}, {-1, 0.2f, 0.3f, 0}, {0.1f, 1, 0.4f, 0},
                        {0.1f, -1, -0.4f, 0}, {0.3f, -0.2f, 1, 0}, {0.3f, -0.2f, -1, 0}};
    std::vector<Query> qv(qs, qs + 6);
    std::vector<float4> got = run(t, KCUBE, qv);
    for (int f = 0; f < 6; ++f) {
      // Face coordinates (s, t) and major axis m of the guide's table.
      const float x = qs[f].x, y = qs[f].y, z = qs[f].z;
      float s, tt, m;
      if (f == 0) s = -z, tt = -y, m = std::fabs(x);
      else if (f == 1) s = z, tt = -y, m = std::fabs(x);
      else if (f == 2) s = x, tt = z, m = std::fabs(y);
      else if (f == 3) s = x, tt = -z, m = std::fabs(y);
      else if (f == 4) s = x, tt = -y, m = std::fabs(z);
      else s = -x, tt = -y, m = std::fabs(z);
      const int u = static_cast<int>(std::floor((s / m + 1) / 2 * w)), v = static_cast<int>(std::floor((tt / m + 1) / 2 * w));
      const float want[2] = {f + 10.0f, static_cast<float>(v * w + u)};
      expect("cubemap", qs[f], got[f], want, 2);
    }
    CHECK(cudaDestroyTextureObject(t));
    CHECK(cudaFreeArray(a));
  }
  // 8-bit RGBA read as normalized floats, plain and sRGB, with linear filtering.
  {
    const int w = 8, h = 6;
    std::vector<uchar4> px(w * h);
    for (int i = 0; i < w * h; ++i)
      px[i] = make_uchar4(static_cast<unsigned char>(i * 37), static_cast<unsigned char>(255 - i * 11),
                          static_cast<unsigned char>(i * 5), static_cast<unsigned char>(200));
    const cudaChannelFormatDesc u4 = cudaCreateChannelDesc<uchar4>();
    cudaArray_t a;
    CHECK(cudaMallocArray(&a, &u4, w, h));
    CHECK(cudaMemcpy2DToArray(a, 0, 0, px.data(), w * 4, w * 4, h, cudaMemcpyHostToDevice));
    for (int srgb = 0; srgb < 2; ++srgb) {
      std::vector<float> data(w * h * 4);
      for (int i = 0; i < w * h; ++i) {
        const unsigned char c[4] = {px[i].x, px[i].y, px[i].z, px[i].w};
        for (int k = 0; k < 4; ++k) {
          float v = c[k] / 255.0f;
          if (srgb && k < 3) v = v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
          data[i * 4 + k] = v;
        }
      }
      cudaTextureDesc td = tex_desc(cudaAddressModeClamp, true, false);
      td.readMode = cudaReadModeNormalizedFloat;
      td.sRGB = srgb;
      cudaTextureObject_t t = make_tex(a, td);
      Ref r;
      r.data = data.data(), r.w = w, r.h = h, r.dims = 2, r.linear = true;
      std::vector<Query> qs = sweep(2, -1.0f, 9.0f, 41);
      std::vector<float4> got = run(t, K2DU8, qs);
      for (size_t i = 0; i < qs.size(); ++i) {
        float want[4];
        ref_fetch(r, qs[i].x, qs[i].y, 0, 0, want);
        expect(srgb ? "uchar4 sRGB" : "uchar4 normalized float", qs[i], got[i], want, 4);
      }
      CHECK(cudaDestroyTextureObject(t));
    }
    CHECK(cudaFreeArray(a));
  }
  // tex1Dfetch on linear memory (integers, out of range reads 0) and a pitch-2D texture.
  {
    const int n = 50;
    std::vector<int> v(n);
    for (int i = 0; i < n; ++i) v[i] = i * i - 7;
    int* dv = nullptr;
    CHECK(cudaMalloc(&dv, n * sizeof(int)));
    CHECK(cudaMemcpy(dv, v.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeLinear;
    rd.res.linear.devPtr = dv;
    rd.res.linear.desc = cudaCreateChannelDesc<int>();
    rd.res.linear.sizeInBytes = n * sizeof(int);
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, false, false);
    cudaTextureObject_t t = 0;
    CHECK(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    std::vector<Query> qs;
    for (int i = -3; i < n + 3; ++i) qs.push_back(Query{static_cast<float>(i), 0, 0, 0});
    std::vector<float4> got = run(t, KFETCH, qs);
    for (size_t i = 0; i < qs.size(); ++i) {
      const int k = static_cast<int>(qs[i].x);
      const float want = (k < 0 || k >= n) ? 0.0f : static_cast<float>(v[k]);
      expect("tex1Dfetch", qs[i], got[i], &want, 1);
    }
    CHECK(cudaDestroyTextureObject(t));
    CHECK(cudaFree(dv));

    const int w = 7, h = 5;
    std::vector<float> data = pattern(w * h, 4);
    float4* dp = nullptr;
    size_t pitch = 0;
    CHECK(cudaMallocPitch(&dp, &pitch, w * 16, h));
    CHECK(cudaMemcpy2D(dp, pitch, data.data(), w * 16, w * 16, h, cudaMemcpyHostToDevice));
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypePitch2D;
    rd.res.pitch2D.devPtr = dp;
    rd.res.pitch2D.desc = f4;
    rd.res.pitch2D.width = w;
    rd.res.pitch2D.height = h;
    rd.res.pitch2D.pitchInBytes = pitch;
    td = tex_desc(cudaAddressModeBorder, true, false);
    CHECK(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    Ref r;
    r.data = data.data(), r.w = w, r.h = h, r.dims = 2, r.linear = true;
    r.mode[0] = r.mode[1] = cudaAddressModeBorder;
    r.border[0] = 0.25f, r.border[1] = 0.5f, r.border[2] = 0.75f, r.border[3] = 1.0f;
    qs = sweep(2, -2.0f, 9.0f, 41);
    got = run(t, K2D, qs);
    for (size_t i = 0; i < qs.size(); ++i) {
      float want[4];
      ref_fetch(r, qs[i].x, qs[i].y, 0, 0, want);
      expect("pitch2D", qs[i], got[i], want, 4);
    }
    CHECK(cudaDestroyTextureObject(t));
    CHECK(cudaFree(dp));
  }
  // Mipmapped array: level l holds the constant l * 100 + texel index, fetched with tex2DLod
  // (point mipmap filter: the nearest level), and tex2Dgather on a plain 2D array.
  {
    const int w = 8, h = 8, levels = 4;
    cudaMipmappedArray_t m;
    CHECK(cudaMallocMipmappedArray(&m, &f4, make_cudaExtent(w, h, 0), levels));
    for (int l = 0; l < levels; ++l) {
      cudaArray_t a;
      CHECK(cudaGetMipmappedArrayLevel(&a, m, l));
      const int lw = w >> l, lh = h >> l;
      std::vector<float> d(lw * lh * 4);
      for (int i = 0; i < lw * lh; ++i) d[i * 4] = l * 100.0f + i, d[i * 4 + 1] = static_cast<float>(l);
      CHECK(cudaMemcpy2DToArray(a, 0, 0, d.data(), lw * 16, lw * 16, lh, cudaMemcpyHostToDevice));
    }
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeMipmappedArray;
    rd.res.mipmap.mipmap = m;
    cudaTextureDesc td = tex_desc(cudaAddressModeClamp, false, true);
    td.mipmapFilterMode = cudaFilterModePoint;
    td.maxMipmapLevelClamp = levels - 1;
    cudaTextureObject_t t = 0;
    CHECK(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    std::vector<Query> qs;
    for (int i = 0; i < 12; ++i) qs.push_back(Query{0.1f + 0.07f * i, 0.8f - 0.05f * i, 0, 0.4f * i - 0.5f});
    std::vector<float4> got = run(t, K2DLOD, qs);
    for (size_t i = 0; i < qs.size(); ++i) {
      float lod = qs[i].w < 0 ? 0 : (qs[i].w > levels - 1 ? levels - 1 : qs[i].w);
      const int l = static_cast<int>(std::nearbyint(lod));
      const int lw = w >> l, lh = h >> l;
      const int x = static_cast<int>(std::floor(qs[i].x * lw)), y = static_cast<int>(std::floor(qs[i].y * lh));
      const float want[2] = {l * 100.0f + y * lw + x, static_cast<float>(l)};
      expect("tex2DLod", qs[i], got[i], want, 2);
    }
    CHECK(cudaDestroyTextureObject(t));
    CHECK(cudaFreeMipmappedArray(m));

    std::vector<float> data = pattern(w * h, 1);
    cudaArray_t a;
    CHECK(cudaMallocArray(&a, &f4, w, h, cudaArrayTextureGather));
    CHECK(cudaMemcpy2DToArray(a, 0, 0, data.data(), w * 16, w * 16, h, cudaMemcpyHostToDevice));
    t = make_tex(a, tex_desc(cudaAddressModeClamp, false, false));
    qs = sweep(2, -0.5f, 9.0f, 25);
    got = run(t, KGATHER, qs);
    Ref r;
    r.data = data.data(), r.w = w, r.h = h, r.dims = 2;
    for (size_t i = 0; i < qs.size(); ++i) {
      // tld4 order: (i0, j1), (i1, j1), (i1, j0), (i0, j0) of the bilinear footprint, channel 0.
      const int i0 = static_cast<int>(std::floor(qs[i].x - 0.5f)), j0 = static_cast<int>(std::floor(qs[i].y - 0.5f));
      const int xs[4] = {i0, i0 + 1, i0 + 1, i0}, ys[4] = {j0 + 1, j0 + 1, j0, j0};
      float want[4];
      for (int k = 0; k < 4; ++k) {
        float tv[4];
        texel(r, xs[k], ys[k], 0, 0, tv);
        want[k] = tv[0];
      }
      expect("tex2Dgather", qs[i], got[i], want, 4);
    }
    CHECK(cudaDestroyTextureObject(t));
    CHECK(cudaFreeArray(a));
  }
  std::printf("%d fetches checked\n", g_checked);
  return example_pass();
}
