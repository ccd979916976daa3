// texture_extras: the texture and surface features beyond plain fetches, each checked against a
// CPU reference written here:
//   - formatted surface stores (PTX sust.p, as inline assembly: the surf*write functions use the
//     unformatted sust.b) into float, half, 8-bit and layered arrays, with .trap/.clamp/.zero;
//   - texel offsets of tex (inline assembly: CUDA C has no intrinsic for them);
//   - seamless cubemap filtering (cudaTextureDesc::seamlessCubemap) across edges and corners;
//   - anisotropic filtering (maxAnisotropy with tex2DGrad) on a mipmapped array;
//   - resource views: another format of the same texel size, a range of mip levels, a range of
//     layers;
//   - the memory requirements and sparse properties of ordinary (not deferred-mapping, not
//     sparse) arrays: the driver's cudaErrorInvalidValue.
// Linear filtering uses 9-bit fixed-point weights (the CUDA programming guide's texture fetching
// appendix). Where the hardware's algorithm is not documented (the corners of seamless cubemaps,
// the anisotropic footprint) the reference follows docs/emulator.md, "Textures and surfaces".
//
// Build: nvcc -o texture_extras texture_extras.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./texture_extras
#include "check.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

float w9(float f) { return std::round(f * 256.0f) / 256.0f; }

void expect_near(const char* what, int i, float got, float want, float tol = 1e-5f) {
  if (!(std::fabs(got - want) <= tol * (1.0f + std::fabs(want))))
    example_fail("%s[%d]: got %.7g, expected %.7g", what, i, got, want);
}

// ---- sust.p -----------------------------------------------------------------------------------

__global__ void store_formatted(cudaSurfaceObject_t f2, cudaSurfaceObject_t u8, cudaSurfaceObject_t h1,
                                cudaSurfaceObject_t layered, int w, int h) {
  const int x = threadIdx.x, y = threadIdx.y;
  if (x >= w || y >= h) return;
  const float a = x + 0.25f, b = -y - 0.5f;
  asm volatile("sust.p.2d.v2.b32.trap [%0, {%1, %2}], {%3, %4};" ::"l"(f2), "r"(x), "r"(y), "f"(a), "f"(b)
               : "memory");
  // unsigned 8-bit channels take .u32 values, saturated.
  const unsigned r = x, g = 300, bl = 16 * y, al = 7;
  asm volatile("sust.p.2d.v4.b32.trap [%0, {%1, %2}], {%3, %4, %5, %6};" ::"l"(u8), "r"(x), "r"(y), "r"(r), "r"(g),
               "r"(bl), "r"(al)
               : "memory");
  if (y == 0) {
    const float v = x == 0 ? 65520.0f : x / 3.0f;  // 65520 rounds to infinity in half precision
    asm volatile("sust.p.1d.b32.trap [%0, {%1}], {%2};" ::"l"(h1), "r"(x), "f"(v) : "memory");
    // Out of range: .zero drops the store, .clamp writes the last texel.
    const float z = 99.0f, c = 42.0f;
    asm volatile("sust.p.1d.b32.zero [%0, {%1}], {%2};" ::"l"(h1), "r"(-1 - x), "f"(z) : "memory");
    if (x == 0) asm volatile("sust.p.1d.b32.clamp [%0, {%1}], {%2};" ::"l"(h1), "r"(w + 5), "f"(c) : "memory");
  }
  const int layer = (x + y) % 3;
  const float lv = 100.0f * layer + 10.0f * y + x;
  asm volatile("sust.p.a2d.b32.trap [%0, {%1, %2, %3, %3}], {%4};" ::"l"(layered), "r"(layer), "r"(x), "r"(y),
               "f"(lv)
               : "memory");
}

// f32 -> f16 bits, round to nearest even (finite and overflow cases this test uses).
uint16_t to_half(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  const int exp = static_cast<int>((b >> 23) & 0xff) - 127 + 15;
  uint32_t man = b & 0x7fffffu;
  if (f == 0) return static_cast<uint16_t>(sign);
  if (exp <= 0) {  // subnormal half
    man |= 0x800000u;
    const int shift = 14 - exp;
    uint32_t h = man >> shift;
    const uint32_t rest = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(exp) << 10) | (man >> 13);
  const uint32_t rest = man & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) ++h;
  if (h >= 0x7c00u) h = 0x7c00u;
  return static_cast<uint16_t>(sign | h);
}

void check_formatted_stores() {
  const int w = 8, h = 4;
  auto surface_array = [](const cudaChannelFormatDesc& fd, cudaExtent e, unsigned flags, cudaArray_t* a) {
    CHECK(cudaMalloc3DArray(a, &fd, e, flags | cudaArraySurfaceLoadStore));
    cudaResourceDesc rd{};
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = *a;
    cudaSurfaceObject_t s = 0;
    CHECK(cudaCreateSurfaceObject(&s, &rd));
    return s;
  };
  cudaArray_t af2, au8, ah1, al;
  const cudaSurfaceObject_t sf2 = surface_array(cudaCreateChannelDesc<float2>(), make_cudaExtent(w, h, 0), 0, &af2);
  const cudaSurfaceObject_t su8 = surface_array(cudaCreateChannelDesc<uchar4>(), make_cudaExtent(w, h, 0), 0, &au8);
  const cudaSurfaceObject_t sh1 = surface_array(cudaCreateChannelDescHalf(), make_cudaExtent(w, 0, 0), 0, &ah1);
  const cudaSurfaceObject_t sl =
      surface_array(cudaCreateChannelDesc<float>(), make_cudaExtent(w, h, 3), cudaArrayLayered, &al);
  // Known contents first, so that dropped stores show.
  std::vector<uint16_t> hinit(w, 0x5555);
  CHECK(cudaMemcpy2DToArray(ah1, 0, 0, hinit.data(), w * 2, w * 2, 1, cudaMemcpyHostToDevice));
  std::vector<float> linit(w * h * 3, -1.0f);
  cudaMemcpy3DParms p{};
  p.srcPtr = make_cudaPitchedPtr(linit.data(), w * sizeof(float), w, h);
  p.dstArray = al;
  p.extent = make_cudaExtent(w, h, 3);
  p.kind = cudaMemcpyHostToDevice;
  CHECK(cudaMemcpy3D(&p));

  store_formatted<<<1, dim3(w, h)>>>(sf2, su8, sh1, sl, w, h);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  std::vector<float> f2(w * h * 2);
  CHECK(cudaMemcpy2DFromArray(f2.data(), w * 8, af2, 0, 0, w * 8, h, cudaMemcpyDeviceToHost));
  std::vector<uint8_t> u8(w * h * 4);
  CHECK(cudaMemcpy2DFromArray(u8.data(), w * 4, au8, 0, 0, w * 4, h, cudaMemcpyDeviceToHost));
  std::vector<uint16_t> h1(w);
  CHECK(cudaMemcpy2DFromArray(h1.data(), w * 2, ah1, 0, 0, w * 2, 1, cudaMemcpyDeviceToHost));
  std::vector<float> lay(w * h * 3);
  p = cudaMemcpy3DParms{};
  p.srcArray = al;
  p.dstPtr = make_cudaPitchedPtr(lay.data(), w * sizeof(float), w, h);
  p.extent = make_cudaExtent(w, h, 3);
  p.kind = cudaMemcpyDeviceToHost;
  CHECK(cudaMemcpy3D(&p));

  std::vector<float> want_l(w * h * 3, -1.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int i = y * w + x;
      expect_near("sust.p float2 r", i, f2[2 * i], x + 0.25f, 0);
      expect_near("sust.p float2 g", i, f2[2 * i + 1], -y - 0.5f, 0);
      const unsigned want[4] = {static_cast<unsigned>(x), 255u, std::min(16u * y, 255u), 7u};
      for (int c = 0; c < 4; ++c)
        if (u8[4 * i + c] != want[c]) example_fail("sust.p uchar4 [%d].%d: got %u, expected %u", i, c, u8[4 * i + c], want[c]);
      const int layer = (x + y) % 3;
      want_l[(layer * h + y) * w + x] = 100.0f * layer + 10.0f * y + x;
    }
  for (int x = 0; x < w; ++x) {
    uint16_t want = to_half(x == 0 ? 65520.0f : x / 3.0f);
    if (x == w - 1) want = to_half(42.0f);  // the .clamp store of x = w + 5
    if (h1[x] != want) example_fail("sust.p half [%d]: got %#x, expected %#x", x, h1[x], want);
  }
  for (size_t i = 0; i < lay.size(); ++i) expect_near("sust.p layered", static_cast<int>(i), lay[i], want_l[i], 0);
  CHECK(cudaDestroySurfaceObject(sf2));
  CHECK(cudaDestroySurfaceObject(su8));
  CHECK(cudaDestroySurfaceObject(sh1));
  CHECK(cudaDestroySurfaceObject(sl));
  for (cudaArray_t a : {af2, au8, ah1, al}) CHECK(cudaFreeArray(a));
}

// ---- texture objects over one 2D float array ------------------------------------------------------

cudaTextureObject_t make_tex(const cudaResourceDesc& rd, cudaTextureDesc td, const cudaResourceViewDesc* view = nullptr) {
  cudaTextureObject_t t = 0;
  CHECK(cudaCreateTextureObject(&t, &rd, &td, view));
  return t;
}

cudaResourceDesc array_res(cudaArray_t a) {
  cudaResourceDesc rd{};
  rd.resType = cudaResourceTypeArray;
  rd.res.array.array = a;
  return rd;
}

// Texel offsets: point sampling at (x, y) with offset (+1, -1) is the texel at (x + 1, y - 1).
__global__ void fetch_offset(cudaTextureObject_t t, const float2* q, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v[4];
  asm volatile("tex.2d.v4.f32.f32 {%0, %1, %2, %3}, [%4, {%5, %6}], {%7, %8};"
               : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
               : "l"(t), "f"(q[i].x), "f"(q[i].y), "r"(1), "r"(-1));
  out[i] = v[0];
}

void check_offsets() {
  const int w = 8, h = 8;
  std::vector<float> img(w * h);
  for (int i = 0; i < w * h; ++i) img[i] = static_cast<float>((i * 37) % 101);
  const cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
  cudaArray_t a;
  CHECK(cudaMallocArray(&a, &fd, w, h));
  CHECK(cudaMemcpy2DToArray(a, 0, 0, img.data(), w * 4, w * 4, h, cudaMemcpyHostToDevice));
  cudaTextureDesc td{};
  td.addressMode[0] = td.addressMode[1] = cudaAddressModeClamp;
  td.filterMode = cudaFilterModePoint;
  const cudaTextureObject_t t = make_tex(array_res(a), td);
  std::vector<float2> q;
  for (int k = 0; k < 24; ++k) q.push_back(make_float2(0.37f * k - 0.5f, 7.9f - 0.33f * k));
  const int n = static_cast<int>(q.size());
  float2* dq;
  float* dout;
  CHECK(cudaMalloc(&dq, n * sizeof(float2)));
  CHECK(cudaMalloc(&dout, n * sizeof(float)));
  CHECK(cudaMemcpy(dq, q.data(), n * sizeof(float2), cudaMemcpyHostToDevice));
  fetch_offset<<<1, 32>>>(t, dq, dout, n);
  CHECK(cudaGetLastError());
  std::vector<float> out(n);
  CHECK(cudaMemcpy(out.data(), dout, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int k = 0; k < n; ++k) {
    const int x = std::min(std::max(static_cast<int>(std::floor(q[k].x)) + 1, 0), w - 1);
    const int y = std::min(std::max(static_cast<int>(std::floor(q[k].y)) - 1, 0), h - 1);
    expect_near("texel offset", k, out[k], img[y * w + x], 0);
  }
  CHECK(cudaDestroyTextureObject(t));
  CHECK(cudaFreeArray(a));
  CHECK(cudaFree(dq));
  CHECK(cudaFree(dout));
}

// ---- seamless cubemaps -----------------------------------------------------------------------------

__global__ void fetch_cube(cudaTextureObject_t t, const float4* q, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = texCubemap<float>(t, q[i].x, q[i].y, q[i].z);
}

// Face selection of the PTX ISA (the major axis picks the face) with the programming guide's
// orientation table: face, and (s, t) in [-1, 1].
void cube_face(float x, float y, float z, int* face, float* s, float* t) {
  const float ax = std::fabs(x), ay = std::fabs(y), az = std::fabs(z);
  float m, sc, tc;
  if (ax >= ay && ax >= az) *face = x >= 0 ? 0 : 1, m = ax, sc = x >= 0 ? -z : z, tc = -y;
  else if (ay >= az) *face = y >= 0 ? 2 : 3, m = ay, sc = x, tc = y >= 0 ? z : -z;
  else *face = z >= 0 ? 4 : 5, m = az, sc = z >= 0 ? x : -x, tc = -y;
  *s = sc / m;
  *t = tc / m;
}

// The point (s, t) of `face` as a direction (the table above, inverted).
void cube_dir(int face, float s, float t, float d[3]) {
  const float table[6][3] = {{1, -t, -s}, {-1, -t, s}, {s, 1, t}, {s, -1, -t}, {s, -t, 1}, {-s, -t, -1}};
  for (int k = 0; k < 3; ++k) d[k] = table[face][k];
}

struct CubeRef {
  int n;
  const std::vector<float>* texels;  // face-major, n x n each
  float at(int f, int i, int j) const { return (*texels)[(f * n + j) * n + i]; }
  // Texel (i, j) of face f, any of them possibly one outside the face.
  float texel(int f, int i, int j) const {
    const bool in_i = i >= 0 && i < n, in_j = j >= 0 && j < n;
    if (in_i && in_j) return at(f, i, j);
    if (!in_i && !in_j) {  // a corner: the mean of the three texels that meet there
      const int ic = std::min(std::max(i, 0), n - 1), jc = std::min(std::max(j, 0), n - 1);
      return (at(f, ic, jc) + texel(f, i, jc) + texel(f, ic, j)) / 3.0f;
    }
    float d[3];
    cube_dir(f, 2.0f * (i + 0.5f) / n - 1.0f, 2.0f * (j + 0.5f) / n - 1.0f, d);
    int g;
    float s, t;
    cube_face(d[0], d[1], d[2], &g, &s, &t);
    const int gi = std::min(std::max(static_cast<int>(std::floor((s + 1) * 0.5f * n)), 0), n - 1);
    const int gj = std::min(std::max(static_cast<int>(std::floor((t + 1) * 0.5f * n)), 0), n - 1);
    return at(g, gi, gj);
  }
  float fetch(float x, float y, float z) const {
    int f;
    float s, t;
    cube_face(x, y, z, &f, &s, &t);
    const float u = (s + 1) * 0.5f * n - 0.5f, v = (t + 1) * 0.5f * n - 0.5f;
    const int i = static_cast<int>(std::floor(u)), j = static_cast<int>(std::floor(v));
    const float a = w9(u - std::floor(u)), b = w9(v - std::floor(v));
    return (1 - a) * (1 - b) * texel(f, i, j) + a * (1 - b) * texel(f, i + 1, j) + (1 - a) * b * texel(f, i, j + 1) +
           a * b * texel(f, i + 1, j + 1);
  }
};

void check_seamless_cube() {
  const int n = 4;
  std::vector<float> tex(6 * n * n);
  for (size_t i = 0; i < tex.size(); ++i) tex[i] = static_cast<float>((i * 29) % 53) / 53.0f;
  const cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
  cudaArray_t a;
  CHECK(cudaMalloc3DArray(&a, &fd, make_cudaExtent(n, n, 6), cudaArrayCubemap));
  cudaMemcpy3DParms p{};
  p.srcPtr = make_cudaPitchedPtr(tex.data(), n * sizeof(float), n, n);
  p.dstArray = a;
  p.extent = make_cudaExtent(n, n, 6);
  p.kind = cudaMemcpyHostToDevice;
  CHECK(cudaMemcpy3D(&p));
  cudaTextureDesc td{};
  td.filterMode = cudaFilterModeLinear;
  td.normalizedCoords = 1;
  td.seamlessCubemap = 1;
  const cudaTextureObject_t t = make_tex(array_res(a), td);
  // Directions near every edge and corner, and some inside faces.
  std::vector<float4> q;
  const float pts[] = {-1.0f, -0.97f, -0.6f, 0.0f, 0.35f, 0.93f, 1.0f};
  for (float x : pts)
    for (float y : pts)
      for (float z : {1.0f, -1.0f, 0.99f}) {
        q.push_back(make_float4(x, y, z, 0));
        q.push_back(make_float4(z, x, y, 0));
        q.push_back(make_float4(y, z, x, 0));
      }
  const int m = static_cast<int>(q.size());
  float4* dq;
  float* dout;
  CHECK(cudaMalloc(&dq, m * sizeof(float4)));
  CHECK(cudaMalloc(&dout, m * sizeof(float)));
  CHECK(cudaMemcpy(dq, q.data(), m * sizeof(float4), cudaMemcpyHostToDevice));
  fetch_cube<<<(m + 63) / 64, 64>>>(t, dq, dout, m);
  CHECK(cudaGetLastError());
  std::vector<float> out(m);
  CHECK(cudaMemcpy(out.data(), dout, m * sizeof(float), cudaMemcpyDeviceToHost));
  const CubeRef ref{n, &tex};
  for (int k = 0; k < m; ++k) expect_near("seamless cube", k, out[k], ref.fetch(q[k].x, q[k].y, q[k].z));
  CHECK(cudaDestroyTextureObject(t));
  CHECK(cudaFreeArray(a));
  CHECK(cudaFree(dq));
  CHECK(cudaFree(dout));
}

// ---- anisotropic filtering ---------------------------------------------------------------------------

struct GradQuery {
  float x, y, dxx, dxy, dyx, dyy;
};

__global__ void fetch_grad(cudaTextureObject_t t, const GradQuery* q, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const GradQuery g = q[i];
  out[i] = tex2DGrad<float>(t, g.x, g.y, make_float2(g.dxx, g.dxy), make_float2(g.dyx, g.dyy));
}

struct MipRef {
  std::vector<std::vector<float>> levels;  // level l is (w >> l) x (w >> l)
  int w;
  float bilinear(int l, float u, float v) const {
    const int n = std::max(w >> l, 1);
    const float x = u * n - 0.5f, y = v * n - 0.5f;
    const int i = static_cast<int>(std::floor(x)), j = static_cast<int>(std::floor(y));
    const float a = w9(x - std::floor(x)), b = w9(y - std::floor(y));
    auto at = [&](int xi, int yi) {
      xi = std::min(std::max(xi, 0), n - 1);
      yi = std::min(std::max(yi, 0), n - 1);
      return levels[l][yi * n + xi];
    };
    return (1 - a) * (1 - b) * at(i, j) + a * (1 - b) * at(i + 1, j) + (1 - a) * b * at(i, j + 1) +
           a * b * at(i + 1, j + 1);
  }
  // Footprint (docs/emulator.md): N = min(ceil(Pmax / Pmin), max_aniso) samples along the longer
  // gradient, at level log2(Pmax / N), trilinear.
  float fetch(const GradQuery& g, int max_aniso) const {
    const float fw = static_cast<float>(w);
    const float ax = g.dxx * fw, ay = g.dxy * fw, bx = g.dyx * fw, by = g.dyy * fw;
    const float lx = std::sqrt(ax * ax + ay * ay), ly = std::sqrt(bx * bx + by * by);
    const bool major_y = ly > lx;
    const float pmax = major_y ? ly : lx, pmin = major_y ? lx : ly;
    int n = 1;
    float lod = 0;
    if (pmax > 0) {
      n = static_cast<int>(std::min(pmin > 0 ? std::ceil(pmax / pmin) : static_cast<float>(max_aniso),
                                    static_cast<float>(max_aniso)));
      lod = std::log2(pmax / n);
    }
    const float top = static_cast<float>(levels.size() - 1);
    lod = std::min(std::max(lod, 0.0f), top);
    const int l0 = static_cast<int>(std::floor(lod));
    const float a = w9(lod - std::floor(lod));
    const float sx = (major_y ? g.dyx : g.dxx) / n, sy = (major_y ? g.dyy : g.dxy) / n;
    float sum = 0;
    for (int k = 0; k < n; ++k) {
      const float o = k - 0.5f * (n - 1);
      const float u = g.x + o * sx, v = g.y + o * sy;
      const float v0 = bilinear(l0, u, v), v1 = bilinear(std::min(l0 + 1, static_cast<int>(top)), u, v);
      sum += (1 - a) * v0 + a * v1;
    }
    return sum / n;
  }
};

void check_anisotropic() {
  const int w = 16, levels = 5, max_aniso = 8;
  MipRef ref;
  ref.w = w;
  const cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
  cudaMipmappedArray_t m;
  CHECK(cudaMallocMipmappedArray(&m, &fd, make_cudaExtent(w, w, 0), levels));
  for (int l = 0; l < levels; ++l) {
    const int n = w >> l;
    std::vector<float> img(n * n);
    for (int i = 0; i < n * n; ++i) img[i] = static_cast<float>(((i + 3 * l) * 13) % 31) / 31.0f;
    cudaArray_t a;
    CHECK(cudaGetMipmappedArrayLevel(&a, m, l));
    CHECK(cudaMemcpy2DToArray(a, 0, 0, img.data(), n * 4, n * 4, n, cudaMemcpyHostToDevice));
    ref.levels.push_back(img);
  }
  cudaResourceDesc rd{};
  rd.resType = cudaResourceTypeMipmappedArray;
  rd.res.mipmap.mipmap = m;
  cudaTextureDesc td{};
  td.filterMode = cudaFilterModeLinear;
  td.mipmapFilterMode = cudaFilterModeLinear;
  td.normalizedCoords = 1;
  td.addressMode[0] = td.addressMode[1] = cudaAddressModeClamp;
  td.maxMipmapLevelClamp = levels - 1;
  td.maxAnisotropy = max_aniso;
  const cudaTextureObject_t t = make_tex(rd, td);
  std::vector<GradQuery> q;
  for (int k = 0; k < 40; ++k) {
    // Length ratios away from whole numbers, so that ceil(Pmax / Pmin) does not hang on rounding.
    const float ang = 0.41f * k, len = 0.02f + 0.013f * (k % 9), ratio = 1.3f + (k % 11);
    const float c = std::cos(ang), s = std::sin(ang);
    q.push_back({0.1f + 0.021f * k, 0.83f - 0.017f * k, len * c, len * s, -len * s / ratio, len * c / ratio});
  }
  q.push_back({0.5f, 0.5f, 0, 0, 0, 0});         // no gradient: level 0
  q.push_back({0.3f, 0.6f, 0.25f, 0, 0, 0});      // a line: max_aniso samples
  const int n = static_cast<int>(q.size());
  GradQuery* dq;
  float* dout;
  CHECK(cudaMalloc(&dq, n * sizeof(GradQuery)));
  CHECK(cudaMalloc(&dout, n * sizeof(float)));
  CHECK(cudaMemcpy(dq, q.data(), n * sizeof(GradQuery), cudaMemcpyHostToDevice));
  fetch_grad<<<(n + 63) / 64, 64>>>(t, dq, dout, n);
  CHECK(cudaGetLastError());
  std::vector<float> out(n);
  CHECK(cudaMemcpy(out.data(), dout, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int k = 0; k < n; ++k) expect_near("anisotropic", k, out[k], ref.fetch(q[k], max_aniso), 1e-4f);
  CHECK(cudaDestroyTextureObject(t));
  CHECK(cudaFreeMipmappedArray(m));
  CHECK(cudaFree(dq));
  CHECK(cudaFree(dout));
}

// ---- resource views ------------------------------------------------------------------------------------

__global__ void fetch_views(cudaTextureObject_t bits, cudaTextureObject_t mips, cudaTextureObject_t layers,
                            unsigned* out_bits, float* out_mip, float* out_layer, int n) {
  const int i = threadIdx.x;
  if (i >= n) return;
  out_bits[i] = tex2D<unsigned>(bits, i + 0.5f, 0.5f);
  out_mip[i] = tex2DLod<float>(mips, (i + 0.5f) / n, 0.5f, 0.0f);
  out_layer[i] = tex2DLayered<float>(layers, i + 0.5f, 0.5f, i % 2);
}

void check_views() {
  const int n = 8;
  const cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
  // (1) A float array read through a 32-bit unsigned view: the bits.
  std::vector<float> row(n);
  for (int i = 0; i < n; ++i) row[i] = 0.5f + i;
  cudaArray_t a;
  CHECK(cudaMallocArray(&a, &fd, n, 1));
  CHECK(cudaMemcpy2DToArray(a, 0, 0, row.data(), n * 4, n * 4, 1, cudaMemcpyHostToDevice));
  cudaTextureDesc td{};
  cudaResourceViewDesc v{};
  v.format = cudaResViewFormatUnsignedInt1;
  v.width = n;
  v.height = 1;
  const cudaTextureObject_t tb = make_tex(array_res(a), td, &v);
  // (2) Mip levels 1..2 of a 4-level mipmapped array: lod 0 is level 1.
  cudaMipmappedArray_t m;
  CHECK(cudaMallocMipmappedArray(&m, &fd, make_cudaExtent(2 * n, 2, 0), 4));
  std::vector<float> lv1(n);
  for (int l = 0; l < 4; ++l) {
    const int lw = std::max((2 * n) >> l, 1), lh = std::max(2 >> l, 1);
    std::vector<float> img(lw * lh);
    for (int i = 0; i < lw * lh; ++i) img[i] = 1000.0f * l + i;
    if (l == 1) lv1 = img;
    cudaArray_t la;
    CHECK(cudaGetMipmappedArrayLevel(&la, m, l));
    CHECK(cudaMemcpy2DToArray(la, 0, 0, img.data(), lw * 4, lw * 4, lh, cudaMemcpyHostToDevice));
  }
  cudaResourceDesc rm{};
  rm.resType = cudaResourceTypeMipmappedArray;
  rm.res.mipmap.mipmap = m;
  cudaTextureDesc tdm{};
  tdm.normalizedCoords = 1;
  tdm.maxMipmapLevelClamp = 1;
  cudaResourceViewDesc vm{};
  vm.width = 2 * n;
  vm.height = 2;
  vm.firstMipmapLevel = 1;
  vm.lastMipmapLevel = 2;
  const cudaTextureObject_t tm = make_tex(rm, tdm, &vm);
  // (3) Layers 2..3 of a 4-layer array: layer 0 of the view is layer 2.
  cudaArray_t la;
  CHECK(cudaMalloc3DArray(&la, &fd, make_cudaExtent(n, 1, 4), cudaArrayLayered));
  std::vector<float> limg(n * 4);
  for (int i = 0; i < n * 4; ++i) limg[i] = 10.0f * (i / n) + (i % n) * 0.125f;
  cudaMemcpy3DParms p{};
  p.srcPtr = make_cudaPitchedPtr(limg.data(), n * sizeof(float), n, 1);
  p.dstArray = la;
  p.extent = make_cudaExtent(n, 1, 4);
  p.kind = cudaMemcpyHostToDevice;
  CHECK(cudaMemcpy3D(&p));
  cudaResourceViewDesc vl{};
  vl.width = n;
  vl.height = 1;
  vl.firstLayer = 2;
  vl.lastLayer = 3;
  const cudaTextureObject_t tl = make_tex(array_res(la), cudaTextureDesc{}, &vl);

  unsigned* db;
  float *dm, *dl;
  CHECK(cudaMalloc(&db, n * sizeof(unsigned)));
  CHECK(cudaMalloc(&dm, n * sizeof(float)));
  CHECK(cudaMalloc(&dl, n * sizeof(float)));
  fetch_views<<<1, n>>>(tb, tm, tl, db, dm, dl, n);
  CHECK(cudaGetLastError());
  std::vector<unsigned> ob(n);
  std::vector<float> om(n), ol(n);
  CHECK(cudaMemcpy(ob.data(), db, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(om.data(), dm, n * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(ol.data(), dl, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    uint32_t want;
    std::memcpy(&want, &row[i], 4);
    if (ob[i] != want) example_fail("format view [%d]: got %#x, expected %#x", i, ob[i], want);
    expect_near("mip level view", i, om[i], lv1[i], 0);  // level 1 is n x 1: row 0
    expect_near("layer view", i, ol[i], limg[(2 + i % 2) * n + i], 0);
  }
  // A view of another texel size is invalid.
  cudaResourceViewDesc bad{};
  bad.format = cudaResViewFormatUnsignedShort1;
  bad.width = n;
  bad.height = 1;
  cudaTextureObject_t tx = 0;
  const cudaResourceDesc ra = array_res(a);
  EXPECT_ERR(cudaCreateTextureObject(&tx, &ra, &td, &bad), cudaErrorInvalidValue);

  // Ordinary arrays have no deferred-mapping memory requirements and no sparse layout.
  cudaArrayMemoryRequirements req{};
  EXPECT_ERR(cudaArrayGetMemoryRequirements(&req, a, 0), cudaErrorInvalidValue);
  EXPECT_ERR(cudaMipmappedArrayGetMemoryRequirements(&req, m, 0), cudaErrorInvalidValue);
  cudaArraySparseProperties sp{};
  EXPECT_ERR(cudaArrayGetSparseProperties(&sp, a), cudaErrorInvalidValue);
  EXPECT_ERR(cudaMipmappedArrayGetSparseProperties(&sp, m), cudaErrorInvalidValue);

  for (cudaTextureObject_t t : {tb, tm, tl}) CHECK(cudaDestroyTextureObject(t));
  CHECK(cudaFreeArray(a));
  CHECK(cudaFreeArray(la));
  CHECK(cudaFreeMipmappedArray(m));
  CHECK(cudaFree(db));
  CHECK(cudaFree(dm));
  CHECK(cudaFree(dl));
}

}  // namespace

int main() {
  check_formatted_stores();
  check_offsets();
  check_seamless_cube();
  check_anisotropic();
  check_views();
  return example_pass();
}
