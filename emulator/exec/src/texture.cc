// Texel arithmetic of tex / tld4 (see gpool/emu/exec/texture.h): addressing,
// point and linear filtering with 1.8 fixed-point weights, read modes, sRGB,
// cubemap face selection and mip level choice, after the CUDA programming
// guide's texture fetching appendix.
#include "gpool/emu/exec/texture.h"

#include "float_bits.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gpool::emu::exec {
namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -24);
  } else if (exp == 31) {
    v = man ? std::nanf("") : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

float srgb_to_linear(float c) {
  return c <= 0.04045f ? c / 12.92f : std::pow((c + 0.055f) / 1.055f, 2.4f);
}

uint32_t fbits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Integer value of one channel (sign-extended), for integer reads.
int64_t channel_int(TexFormat f, const uint8_t* p) {
  switch (f) {
    case TexFormat::U8: return p[0];
    case TexFormat::S8: return static_cast<int8_t>(p[0]);
    case TexFormat::U16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case TexFormat::S16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case TexFormat::U32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case TexFormat::S32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case TexFormat::F16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case TexFormat::F32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
  }
  return 0;
}

const TexLevel& level_of(const TexDesc& d, uint32_t l) { return d.level[std::min(l, d.num_levels - 1)]; }

// Address of texel (x, y, z) of layer `layer` of level `lv`. Indices are in range.
const uint8_t* texel_at(const TexDesc& d, const TexLevel& lv, int32_t x, int32_t y, int32_t z, int32_t layer) {
  const uint64_t tb = tex_format_bytes(d.format) * d.channels;
  const uint64_t zz = d.dims == 3 ? static_cast<uint64_t>(z) : static_cast<uint64_t>(layer);
  return reinterpret_cast<const uint8_t*>(lv.base + zz * lv.slice + static_cast<uint64_t>(y) * lv.pitch +
                                          static_cast<uint64_t>(x) * tb);
}

struct Value {
  float f[4] = {0, 0, 0, 1};
  int64_t i[4] = {0, 0, 0, 1};
};

Value border_value(const TexDesc& d) {
  Value v;
  for (int c = 0; c < 4; ++c) {
    v.f[c] = d.border[c];
    v.i[c] = static_cast<int64_t>(d.border[c]);
  }
  return v;
}

Value read_texel(const TexDesc& d, const uint8_t* t) {
  Value v;
  const uint32_t cb = tex_format_bytes(d.format);
  for (int c = 0; c < d.channels; ++c) {
    v.f[c] = tex_texel_channel(d, t + c * cb, c);
    v.i[c] = channel_int(d.format, t + c * cb);
  }
  return v;
}

// The texel at integer indices after addressing (border texels give the border colour).
Value texel(const TexDesc& d, const TexLevel& lv, int32_t x, int32_t y, int32_t z, int32_t layer) {
  const int32_t w = static_cast<int32_t>(lv.width), h = static_cast<int32_t>(lv.height),
                dp = static_cast<int32_t>(lv.depth);
  x = tex_address_index(d.address[0], x, w);
  y = d.dims >= 2 ? tex_address_index(d.address[1], y, h) : 0;
  z = d.dims >= 3 ? tex_address_index(d.address[2], z, dp) : 0;
  if (x < 0 || y < 0 || z < 0) return border_value(d);
  return read_texel(d, texel_at(d, lv, x, y, z, layer));
}

// A coordinate in texel space: normalized coordinates are wrapped or
// mirrored (those modes exist only for them) and scaled by the size.
float texel_space(const TexDesc& d, int axis, float v, uint32_t n) {
  if (!d.normalized_coords) return v;
  if (d.address[axis] == TexAddress::Wrap) {
    v = v - std::floor(v);
  } else if (d.address[axis] == TexAddress::Mirror) {
    const float fl = std::floor(v);
    v = v - fl;
    if (static_cast<int64_t>(fl) & 1) v = 1.0f - v;
  }
  return v * static_cast<float>(n);
}

// floor() as an index, saturated so that huge or NaN coordinates stay defined.
int32_t ifloor(float v) {
  if (!(v == v)) return 0;
  const float f = std::floor(v);
  if (f < -1e9f) return -1000000000;
  if (f > 1e9f) return 1000000000;
  return static_cast<int32_t>(f);
}

Value sample_level(const TexDesc& d, const TexLevel& lv, const TexCoords& c, int32_t layer, float cx, float cy,
                   float cz) {
  const uint32_t n[3] = {lv.width, lv.height, lv.depth};
  if (c.int_coords) return texel(d, lv, c.ix + c.off[0], c.iy + c.off[1], c.iz + c.off[2], layer);
  float v[3] = {texel_space(d, 0, cx, n[0]), d.dims >= 2 ? texel_space(d, 1, cy, n[1]) : 0.f,
                d.dims >= 3 ? texel_space(d, 2, cz, n[2]) : 0.f};
  for (int k = 0; k < 3; ++k) v[k] += static_cast<float>(c.off[k]);
  if (!d.linear_filter) return texel(d, lv, ifloor(v[0]), ifloor(v[1]), ifloor(v[2]), layer);
  int32_t i0[3] = {0, 0, 0};
  float a[3] = {0, 0, 0};
  for (int k = 0; k < d.dims; ++k) {
    const float b = v[k] - 0.5f;
    i0[k] = ifloor(b);
    a[k] = tex_weight_9bit(b - std::floor(b));
  }
  Value out;
  for (int ch = 0; ch < 4; ++ch) out.f[ch] = 0;
  const int nz = d.dims >= 3 ? 2 : 1, ny = d.dims >= 2 ? 2 : 1;
  for (int dz = 0; dz < nz; ++dz)
    for (int dy = 0; dy < ny; ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        float wgt = dx ? a[0] : 1.0f - a[0];
        if (d.dims >= 2) wgt *= dy ? a[1] : 1.0f - a[1];
        if (d.dims >= 3) wgt *= dz ? a[2] : 1.0f - a[2];
        const Value t = texel(d, lv, i0[0] + dx, i0[1] + dy, i0[2] + dz, layer);
        for (int ch = 0; ch < 4; ++ch) out.f[ch] += wgt * t.f[ch];
      }
  return out;
}

// One texel of cube `base` (its first face layer) for seamless filtering: the
// neighbouring face's texel across an edge; at a corner (both indices
// outside) the average of the three texels that meet there.
Value cube_texel(const TexDesc& d, const TexLevel& lv, int32_t base, int face, int32_t i, int32_t j) {
  const int32_t n = static_cast<int32_t>(lv.width);
  const bool in_i = i >= 0 && i < n, in_j = j >= 0 && j < n;
  auto at = [&](int f, int32_t x, int32_t y) { return read_texel(d, texel_at(d, lv, x, y, 0, base + f)); };
  auto across = [&](int32_t x, int32_t y) {
    int f = face;
    int32_t ox = 0, oy = 0;
    tex_cube_neighbour(face, x, y, n, &f, &ox, &oy);
    return at(f, ox, oy);
  };
  if (in_i && in_j) return at(face, i, j);
  if (in_i || in_j) return across(i, j);
  const int32_t ic = std::clamp(i, 0, n - 1), jc = std::clamp(j, 0, n - 1);
  const Value a = at(face, ic, jc), b = across(i, jc), e = across(ic, j);
  Value out;
  for (int ch = 0; ch < 4; ++ch) out.f[ch] = (a.f[ch] + b.f[ch] + e.f[ch]) / 3.0f;
  return out;
}

// Bilinear filtering at (u, v) of one face of a cubemap (layer = cube * 6 +
// face) whose footprint may cross into the neighbouring faces.
Value sample_cube_seamless(const TexDesc& d, const TexLevel& lv, int32_t layer, float u, float v) {
  const int face = layer % 6;
  const int32_t base = layer - face;
  const float n = static_cast<float>(lv.width);
  const float x = u * n - 0.5f, y = v * n - 0.5f;
  const int32_t i0 = ifloor(x), j0 = ifloor(y);
  const float a = tex_weight_9bit(x - std::floor(x)), b = tex_weight_9bit(y - std::floor(y));
  Value out;
  for (int ch = 0; ch < 4; ++ch) out.f[ch] = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const float wgt = (dx ? a : 1.0f - a) * (dy ? b : 1.0f - b);
      const Value t = cube_texel(d, lv, base, face, i0 + dx, j0 + dy);
      for (int ch = 0; ch < 4; ++ch) out.f[ch] += wgt * t.f[ch];
    }
  return out;
}

// One level sampled over the footprint: the average of fp.samples points
// spread along fp.step around the coordinate (a single point when isotropic).
Value sample_footprint(const TexDesc& d, const TexLevel& lv, const TexCoords& c, int32_t layer, float x, float y,
                       float z, const TexFootprint& fp) {
  if (d.cubemap && d.seamless_cube && d.linear_filter && !c.int_coords) return sample_cube_seamless(d, lv, layer, x, y);
  if (fp.samples <= 1) return sample_level(d, lv, c, layer, x, y, z);
  Value out;
  for (int ch = 0; ch < 4; ++ch) out.f[ch] = 0;
  const float mid = 0.5f * static_cast<float>(fp.samples - 1);
  for (int k = 0; k < fp.samples; ++k) {
    const float t = static_cast<float>(k) - mid;
    const Value v = sample_level(d, lv, c, layer, x + t * fp.step[0], y + t * fp.step[1], z + t * fp.step[2]);
    for (int ch = 0; ch < 4; ++ch) out.f[ch] += v.f[ch];
  }
  for (int ch = 0; ch < 4; ++ch) out.f[ch] /= static_cast<float>(fp.samples);
  return out;
}

TexResult to_result(const TexDesc& d, const Value& v) {
  TexResult r;
  r.is_float = tex_returns_float(d);
  for (int c = 0; c < 4; ++c) r.bits[c] = r.is_float ? fbits(v.f[c]) : static_cast<uint32_t>(v.i[c]);
  return r;
}

}  // namespace

uint32_t tex_format_bytes(TexFormat f) {
  switch (f) {
    case TexFormat::U8: case TexFormat::S8: return 1;
    case TexFormat::U16: case TexFormat::S16: case TexFormat::F16: return 2;
    default: return 4;
  }
}

bool tex_returns_float(const TexDesc& d) {
  switch (d.format) {
    case TexFormat::F16: case TexFormat::F32: return true;
    case TexFormat::U32: case TexFormat::S32: return false;
    default: return !d.read_as_integer;
  }
}

float tex_texel_channel(const TexDesc& d, const uint8_t* p, int channel) {
  const bool norm = !d.read_as_integer;
  switch (d.format) {
    case TexFormat::U8: {
      if (!norm) return p[0];
      float v = static_cast<float>(p[0]) / 255.0f;
      return d.srgb && channel < 3 ? srgb_to_linear(v) : v;
    }
    case TexFormat::S8:
      return norm ? std::max(static_cast<float>(static_cast<int8_t>(p[0])) / 127.0f, -1.0f)
                  : static_cast<float>(static_cast<int8_t>(p[0]));
    case TexFormat::U16: { uint16_t v; std::memcpy(&v, p, 2); return norm ? v / 65535.0f : v; }
    case TexFormat::S16: {
      int16_t v; std::memcpy(&v, p, 2);
      return norm ? std::max(static_cast<float>(v) / 32767.0f, -1.0f) : static_cast<float>(v);
    }
    case TexFormat::U32: { uint32_t v; std::memcpy(&v, p, 4); return static_cast<float>(v); }
    case TexFormat::S32: { int32_t v; std::memcpy(&v, p, 4); return static_cast<float>(v); }
    case TexFormat::F16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v); }
    case TexFormat::F32: { float v; std::memcpy(&v, p, 4); return v; }
  }
  return 0;
}

float tex_weight_9bit(float f) {
  // 9-bit fixed point with 8 fractional bits: 0, 1/256, ..., 256/256.
  return std::round(f * 256.0f) / 256.0f;
}

int32_t tex_address_index(TexAddress mode, int32_t i, int32_t n) {
  if (n <= 0) return -1;
  switch (mode) {
    case TexAddress::Wrap: {
      int32_t m = i % n;
      return m < 0 ? m + n : m;
    }
    case TexAddress::Mirror: {
      int64_t period = 2 * static_cast<int64_t>(n);
      int64_t m = i % period;
      if (m < 0) m += period;
      return static_cast<int32_t>(m < n ? m : period - 1 - m);
    }
    case TexAddress::Clamp:
      return std::clamp(i, 0, n - 1);
    case TexAddress::Border:
      return (i < 0 || i >= n) ? -1 : i;
  }
  return -1;
}

void tex_cube_face(float x, float y, float z, int* face, float* u, float* v) {
  const float ax = std::fabs(x), ay = std::fabs(y), az = std::fabs(z);
  float s, t, m;
  if (ax >= ay && ax >= az) {
    m = ax;
    *face = x >= 0 ? 0 : 1;
    s = x >= 0 ? -z : z;
    t = -y;
  } else if (ay >= az) {
    m = ay;
    *face = y >= 0 ? 2 : 3;
    s = x;
    t = y >= 0 ? z : -z;
  } else {
    m = az;
    *face = z >= 0 ? 4 : 5;
    s = z >= 0 ? x : -x;
    t = -y;
  }
  if (m == 0) m = 1;
  *u = (s / m + 1.0f) * 0.5f;
  *v = (t / m + 1.0f) * 0.5f;
}

void tex_cube_direction(int face, float u, float v, float dir[3]) {
  const float s = 2.0f * u - 1.0f, t = 2.0f * v - 1.0f;
  switch (face) {
    case 0: dir[0] = 1, dir[1] = -t, dir[2] = -s; break;
    case 1: dir[0] = -1, dir[1] = -t, dir[2] = s; break;
    case 2: dir[0] = s, dir[1] = 1, dir[2] = t; break;
    case 3: dir[0] = s, dir[1] = -1, dir[2] = -t; break;
    case 4: dir[0] = s, dir[1] = -t, dir[2] = 1; break;
    default: dir[0] = -s, dir[1] = -t, dir[2] = -1; break;
  }
}

void tex_cube_neighbour(int face, int32_t i, int32_t j, int32_t n, int* out_face, int32_t* oi, int32_t* oj) {
  // The texel centre as a direction, projected again: past an edge the major
  // axis changes and the centre lands in the edge row of the other face.
  const float fn = static_cast<float>(n);
  float dir[3];
  tex_cube_direction(face, (static_cast<float>(i) + 0.5f) / fn, (static_cast<float>(j) + 0.5f) / fn, dir);
  float u = 0, v = 0;
  tex_cube_face(dir[0], dir[1], dir[2], out_face, &u, &v);
  *oi = std::clamp(ifloor(u * fn), 0, n - 1);
  *oj = std::clamp(ifloor(v * fn), 0, n - 1);
}

TexFootprint tex_footprint(const float ddx[3], const float ddy[3], const float size[3], int dims,
                           uint32_t max_aniso) {
  TexFootprint fp;
  float len[2] = {0, 0};
  const float* g[2] = {ddx, ddy};
  for (int k = 0; k < 2; ++k) {
    float s = 0;
    for (int i = 0; i < dims && i < 3; ++i) {
      const float t = g[k][i] * size[i];
      s += t * t;
    }
    len[k] = std::sqrt(s);
  }
  const int major = len[1] > len[0] ? 1 : 0;
  const float pmax = len[major], pmin = len[1 - major];
  if (!(pmax > 0)) return fp;  // no gradient (or NaN): level 0, one sample
  int n = 1;
  if (max_aniso > 1) {
    const float ratio = pmin > 0 ? std::ceil(pmax / pmin) : static_cast<float>(max_aniso);
    n = static_cast<int>(std::min(ratio, static_cast<float>(max_aniso)));
    n = std::max(n, 1);
  }
  fp.samples = n;
  fp.lod = std::log2(pmax / static_cast<float>(n));
  if (n > 1)
    for (int i = 0; i < dims && i < 3; ++i) fp.step[i] = g[major][i] / static_cast<float>(n);
  return fp;
}

void surf_store_formatted(TexFormat format, int channels, uint8_t* texel, const uint32_t* values, int n) {
  const uint32_t cb = tex_format_bytes(format);
  for (int c = 0; c < channels && c < n; ++c) {
    uint8_t* p = texel + static_cast<size_t>(c) * cb;
    const uint32_t u = values[c];
    const int32_t i = static_cast<int32_t>(u);
    switch (format) {
      case TexFormat::U8: p[0] = static_cast<uint8_t>(std::min<uint32_t>(u, 0xffu)); break;
      case TexFormat::U16: { const uint16_t v = static_cast<uint16_t>(std::min<uint32_t>(u, 0xffffu)); std::memcpy(p, &v, 2); break; }
      case TexFormat::S8: p[0] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp<int32_t>(i, -128, 127))); break;
      case TexFormat::S16: { const int16_t v = static_cast<int16_t>(std::clamp<int32_t>(i, -32768, 32767)); std::memcpy(p, &v, 2); break; }
      case TexFormat::F16: {
        float f;
        std::memcpy(&f, &u, 4);
        const uint16_t h = fp::f16_from_f32(f);
        std::memcpy(p, &h, 2);
        break;
      }
      case TexFormat::U32: case TexFormat::S32: case TexFormat::F32: std::memcpy(p, &u, 4); break;
    }
  }
}

TexResult tex_fetch(const TexDesc& d, const TexCoords& c) {
  if (d.linear_memory) {
    // tex1Dfetch: integer index into linear memory, no filtering; out of range reads zero.
    const TexLevel& lv = d.level[0];
    const int32_t i = (c.int_coords ? c.ix : ifloor(c.x)) + c.off[0];
    if (i < 0 || static_cast<uint32_t>(i) >= lv.width) return to_result(d, Value{{0, 0, 0, 0}, {0, 0, 0, 0}});
    return to_result(d, read_texel(d, texel_at(d, lv, i, 0, 0, 0)));
  }
  float x = c.x, y = c.y, z = c.z;
  int32_t layer = d.layered ? std::clamp<int32_t>(c.layer, 0, static_cast<int32_t>(d.layers) - 1) : 0;
  TexDesc cube;
  const TexDesc* dd = &d;
  if (d.cubemap) {
    int face = 0;
    tex_cube_face(c.x, c.y, c.z, &face, &x, &y);
    layer = layer * 6 + face;
    cube = d;
    cube.normalized_coords = true;
    cube.address[0] = cube.address[1] = TexAddress::Clamp;
    dd = &cube;
  }
  TexFootprint fp;
  float lod_in = c.lod;
  if (c.grad) {
    // Gradients in texels of level 0: normalized ones scale by the size. Cubemaps take the
    // longer gradient only (their footprint is on a face, not along the direction vector).
    const float size[3] = {static_cast<float>(d.level[0].width), static_cast<float>(d.level[0].height),
                           static_cast<float>(d.level[0].depth)};
    const float one[3] = {1, 1, 1};
    const bool aniso = !d.cubemap && tex_returns_float(d);
    fp = tex_footprint(c.ddx, c.ddy, d.normalized_coords ? size : one, d.cubemap ? 3 : d.dims,
                       aniso ? d.max_aniso : 1);
    lod_in = fp.lod;
  }
  if (d.num_levels <= 1) return to_result(d, sample_footprint(*dd, d.level[0], c, layer, x, y, z, fp));
  const float lod = std::clamp(lod_in + d.lod_bias, d.min_lod, std::max(d.min_lod, d.max_lod));
  const float top = static_cast<float>(d.num_levels - 1);
  const float l = std::clamp(lod, 0.0f, top);
  if (!d.mip_linear) {
    const uint32_t li = static_cast<uint32_t>(std::nearbyint(l));
    return to_result(d, sample_footprint(*dd, level_of(d, li), c, layer, x, y, z, fp));
  }
  const uint32_t l0 = static_cast<uint32_t>(std::floor(l));
  const float a = tex_weight_9bit(l - std::floor(l));
  Value v0 = sample_footprint(*dd, level_of(d, l0), c, layer, x, y, z, fp);
  Value v1 = sample_footprint(*dd, level_of(d, l0 + 1), c, layer, x, y, z, fp);
  for (int ch = 0; ch < 4; ++ch) v0.f[ch] = (1 - a) * v0.f[ch] + a * v1.f[ch];
  return to_result(d, v0);
}

TexResult tex_gather(const TexDesc& d, const TexCoords& c, int comp) {
  const TexLevel& lv = d.level[0];
  const float u = texel_space(d, 0, c.x, lv.width) + static_cast<float>(c.off[0]) - 0.5f;
  const float v = texel_space(d, 1, c.y, lv.height) + static_cast<float>(c.off[1]) - 0.5f;
  const int32_t i0 = ifloor(u), j0 = ifloor(v);
  const int32_t xs[4] = {i0, i0 + 1, i0 + 1, i0}, ys[4] = {j0 + 1, j0 + 1, j0, j0};
  const int32_t layer = d.layered ? std::clamp<int32_t>(c.layer, 0, static_cast<int32_t>(d.layers) - 1) : 0;
  Value out;
  for (int k = 0; k < 4; ++k) {
    const Value t = texel(d, lv, xs[k], ys[k], 0, layer);
    out.f[k] = t.f[comp & 3];
    out.i[k] = t.i[comp & 3];
  }
  return to_result(d, out);
}

}  // namespace gpool::emu::exec
