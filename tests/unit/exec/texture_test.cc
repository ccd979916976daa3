// The texel arithmetic of tex/tld4 (emulator/exec/src/texture.cc) on small host-memory
// textures: 9-bit linear filtering weights, every address mode, normalized coordinates, read
// modes, sRGB, cubemap faces, layers and mip levels. Expected values are worked out by hand
// from the CUDA programming guide's texture fetching appendix.
#include "gpool/emu/exec/texture.h"

#include "exec_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace gpool::emu::exec {
namespace {

float f(const TexResult& r, int c) {
  float v;
  std::memcpy(&v, &r.bits[c], 4);
  return v;
}

TexDesc float_1d(const std::vector<float>& v) {
  TexDesc d;
  d.format = TexFormat::F32;
  d.channels = 1;
  d.dims = 1;
  d.level[0].base = reinterpret_cast<uint64_t>(v.data());
  d.level[0].width = static_cast<uint32_t>(v.size());
  d.level[0].pitch = v.size() * 4;
  d.level[0].slice = d.level[0].pitch;
  d.level[0].extent = d.level[0].pitch;
  return d;
}

TexResult at(const TexDesc& d, float x, float y = 0) {
  TexCoords c;
  c.x = x;
  c.y = y;
  return tex_fetch(d, c);
}

TEST(TexArithmetic, WeightsAreNineBitFixedPoint) {
  EXPECT_EQ(tex_weight_9bit(0.0f), 0.0f);
  EXPECT_EQ(tex_weight_9bit(0.5f), 0.5f);
  EXPECT_EQ(tex_weight_9bit(0.1f), 26.0f / 256.0f);   // 25.6 -> 26
  EXPECT_EQ(tex_weight_9bit(0.999f), 1.0f);           // 255.744 -> 256: the weight can reach 1
  EXPECT_EQ(tex_weight_9bit(1.0f / 512.0f), 1.0f / 256.0f);  // half a step rounds up
}

TEST(TexArithmetic, AddressModesOnIndices) {
  EXPECT_EQ(tex_address_index(TexAddress::Wrap, -1, 4), 3);
  EXPECT_EQ(tex_address_index(TexAddress::Wrap, 9, 4), 1);
  EXPECT_EQ(tex_address_index(TexAddress::Clamp, -5, 4), 0);
  EXPECT_EQ(tex_address_index(TexAddress::Clamp, 7, 4), 3);
  EXPECT_EQ(tex_address_index(TexAddress::Mirror, -1, 4), 0);
  EXPECT_EQ(tex_address_index(TexAddress::Mirror, 4, 4), 3);
  EXPECT_EQ(tex_address_index(TexAddress::Mirror, 9, 4), 1);
  EXPECT_EQ(tex_address_index(TexAddress::Border, -1, 4), -1);
  EXPECT_EQ(tex_address_index(TexAddress::Border, 4, 4), -1);
  EXPECT_EQ(tex_address_index(TexAddress::Border, 2, 4), 2);
}

TEST(TexArithmetic, PointAndLinearFiltering1D) {
  std::vector<float> v = {10, 20, 30, 40};
  TexDesc d = float_1d(v);
  EXPECT_EQ(f(at(d, 2.7f), 0), 30.0f);   // point: floor(x)
  EXPECT_EQ(f(at(d, -3.0f), 0), 10.0f);  // clamp
  d.linear_filter = true;
  EXPECT_EQ(f(at(d, 1.5f), 0), 20.0f);   // texel centre: exactly the texel
  EXPECT_EQ(f(at(d, 2.0f), 0), 25.0f);   // halfway between 1 and 2
  // x = 1.6: xB = 1.1, i = 1, alpha = 0.1 -> 26/256 in fixed point.
  EXPECT_FLOAT_EQ(f(at(d, 1.6f), 0), 20.0f + 10.0f * 26.0f / 256.0f);
  d.address[0] = TexAddress::Border;
  d.border[0] = 100;
  EXPECT_EQ(f(at(d, 0.0f), 0), 55.0f);   // (border + texel 0) / 2
  EXPECT_EQ(f(at(d, 9.0f), 0), 100.0f);
}

TEST(TexArithmetic, NormalizedWrapAndMirror) {
  std::vector<float> v = {1, 2, 3, 4};
  TexDesc d = float_1d(v);
  d.normalized_coords = true;
  d.address[0] = TexAddress::Wrap;
  EXPECT_EQ(f(at(d, 1.3f), 0), 2.0f);    // frac 0.3 * 4 = 1.2 -> texel 1
  EXPECT_EQ(f(at(d, -0.1f), 0), 4.0f);   // frac 0.9 -> texel 3
  d.linear_filter = true;
  EXPECT_EQ(f(at(d, 0.0f), 0), 2.5f);    // blends texel 3 and texel 0 across the seam
  d.linear_filter = false;
  d.address[0] = TexAddress::Mirror;
  EXPECT_EQ(f(at(d, 1.1f), 0), 4.0f);    // odd period: 1 - 0.1 = 0.9 -> texel 3
  EXPECT_EQ(f(at(d, 2.1f), 0), 1.0f);    // even period: 0.1 -> texel 0
}

TEST(TexArithmetic, Bilinear2D) {
  std::vector<float> v = {0, 1, 2, 3};  // 2 x 2
  TexDesc d;
  d.format = TexFormat::F32;
  d.dims = 2;
  d.linear_filter = true;
  d.level[0] = TexLevel{reinterpret_cast<uint64_t>(v.data()), 2, 2, 1, 8, 16, 16};
  EXPECT_EQ(f(at(d, 1.0f, 1.0f), 0), 1.5f);  // the average of all four
  EXPECT_EQ(f(at(d, 0.5f, 1.5f), 0), 2.0f);
}

TEST(TexArithmetic, ReadModesAndSrgb) {
  const uint8_t u8[4] = {0, 51, 255, 128};
  TexDesc d;
  d.format = TexFormat::U8;
  d.channels = 4;
  EXPECT_FLOAT_EQ(tex_texel_channel(d, &u8[1], 0), 0.2f);
  d.read_as_integer = true;
  EXPECT_EQ(tex_texel_channel(d, &u8[1], 0), 51.0f);
  EXPECT_FALSE(tex_returns_float(d));
  d.read_as_integer = false;
  d.srgb = true;
  EXPECT_NEAR(tex_texel_channel(d, &u8[3], 0), std::pow((128 / 255.0 + 0.055) / 1.055, 2.4), 1e-6);
  EXPECT_FLOAT_EQ(tex_texel_channel(d, &u8[3], 3), 128 / 255.0f);  // alpha is not converted
  const int8_t s8 = -128;
  d.format = TexFormat::S8;
  EXPECT_EQ(tex_texel_channel(d, reinterpret_cast<const uint8_t*>(&s8), 0), -1.0f);  // clamped to -1
  const uint16_t h = 0x3c00;  // 1.0 in half precision
  d.format = TexFormat::F16;
  EXPECT_EQ(tex_texel_channel(d, reinterpret_cast<const uint8_t*>(&h), 0), 1.0f);
}

TEST(TexArithmetic, CubemapFaces) {
  int face = -1;
  float u = 0, v = 0;
  tex_cube_face(1, 0.5f, 0, &face, &u, &v);
  EXPECT_EQ(face, 0);
  EXPECT_FLOAT_EQ(u, 0.5f);   // s = -z = 0
  EXPECT_FLOAT_EQ(v, 0.25f);  // t = -y = -0.5
  tex_cube_face(0, -2, 1, &face, &u, &v);
  EXPECT_EQ(face, 3);
  EXPECT_FLOAT_EQ(v, 0.25f);  // t = -z / |y| = -0.5
  tex_cube_face(0.2f, 0.1f, -1, &face, &u, &v);
  EXPECT_EQ(face, 5);
  EXPECT_FLOAT_EQ(u, 0.4f);   // s = -x
}

TEST(TexArithmetic, LayersAndMipLevels) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};  // 1D layered: 3 layers of 2 texels
  TexDesc d = float_1d(v);
  d.level[0].width = 2;
  d.level[0].pitch = d.level[0].slice = 8;
  d.layered = true;
  d.layers = 3;
  TexCoords c;
  c.x = 1.5f;
  c.layer = 2;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 6.0f);
  c.layer = 7;  // clamped to the last layer
  EXPECT_EQ(f(tex_fetch(d, c), 0), 6.0f);

  std::vector<float> l0 = {1, 1, 1, 1}, l1 = {9, 9};
  TexDesc m = float_1d(l0);
  m.normalized_coords = true;
  m.num_levels = 2;
  m.max_lod = 1;
  m.level[1] = TexLevel{reinterpret_cast<uint64_t>(l1.data()), 2, 1, 1, 8, 8, 8};
  TexCoords q;
  q.x = 0.5f;
  q.lod = 0.7f;
  EXPECT_EQ(f(tex_fetch(m, q), 0), 9.0f);  // point mip filter: nearest level 1
  m.mip_linear = true;
  EXPECT_FLOAT_EQ(f(tex_fetch(m, q), 0), 1.0f + 8.0f * tex_weight_9bit(0.7f));
}

TEST(TexArithmetic, LinearMemoryOutOfRangeReadsZero) {
  std::vector<float> v = {5, 6};
  TexDesc d = float_1d(v);
  d.linear_memory = true;
  TexCoords c;
  c.int_coords = true;
  c.ix = 1;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 6.0f);
  c.ix = 2;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 0.0f);
  c.ix = -1;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 0.0f);
}

TEST(TexArithmetic, GatherOrder) {
  std::vector<float> v = {0, 1, 2, 3};  // 2 x 2: (x, y) -> x + 2y
  TexDesc d;
  d.format = TexFormat::F32;
  d.dims = 2;
  d.level[0] = TexLevel{reinterpret_cast<uint64_t>(v.data()), 2, 2, 1, 8, 16, 16};
  TexCoords c;
  c.x = 1.0f;
  c.y = 1.0f;
  TexResult r = tex_gather(d, c, 0);
  // (i0, j1), (i1, j1), (i1, j0), (i0, j0) = (0,1), (1,1), (1,0), (0,0)
  EXPECT_EQ(f(r, 0), 2.0f);
  EXPECT_EQ(f(r, 1), 3.0f);
  EXPECT_EQ(f(r, 2), 1.0f);
  EXPECT_EQ(f(r, 3), 0.0f);

  std::vector<float> layers = {0, 1, 2, 3, 10, 11, 12, 13};  // two 2 x 2 layers
  d.level[0] = TexLevel{reinterpret_cast<uint64_t>(layers.data()), 2, 2, 1, 8, 16, 32};
  d.layered = true;
  d.layers = 2;
  c.layer = 1;
  r = tex_gather(d, c, 0);
  EXPECT_EQ(f(r, 0), 12.0f);  // (0, 1) of layer 1
  EXPECT_EQ(f(r, 3), 10.0f);  // (0, 0) of layer 1
}

// What the executor cannot run is refused at load by name, never as a parse error: the
// texture-reference forms, the formatted surface store, and a depth-compare operand.
TEST(TexLowering, UnsupportedFormsAreRefusedByName) {
  const std::string head = ".version 7.0\n.target sm_75\n.address_size 64\n";
  struct Case {
    std::string decls, body, name;
  } cases[] = {
      {".global .texref t;\n.global .samplerref s = { filter_mode = linear };\n",
       "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [t, s, {%f5, %f6}];", "tex.2d.v4.f32.f32"},
      {".global .texref t;\n", "tex.1d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [t, {%f5}];", "tex.1d.v4.f32.f32"},
      {"", "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}], %f7;", "tex.2d.v4.f32.f32"},
      {"", "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}], {%r1, %r2}, %f7;", "tex.2d.v4.f32.f32"},
      {"", "sust.p.1d.b16.trap [%rd1, {%r1}], {%r2};", "sust.p.1d.b16.trap"},
      {"", "tex.cube.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6, %f7, %f7}], {%r1, %r2};",
       "tex.cube.v4.f32.f32"},
  };
  for (const Case& c : cases) {
    const std::string ptx = head + c.decls + ".visible .entry k()\n{\n.reg .f32 %f<8>;\n.reg .b32 %r<3>;\n"
                            ".reg .b64 %rd<2>;\n" + c.body + "\nret;\n}\n";
    std::string err;
    EXPECT_EQ(test::build_ptx(ptx, &err), nullptr) << c.body;
    EXPECT_EQ(err.find("parse:"), std::string::npos) << err;
    EXPECT_NE(err.find("unsupported instruction '" + c.name + "'"), std::string::npos) << err;
  }
}

// The forms this file's arithmetic serves do lower: sust.p in every geometry it has, texel
// offsets on tex and tld4. The depth-compare refusal names the operand.
TEST(TexLowering, FormattedStoresAndOffsetsLower) {
  const std::string head = ".version 7.0\n.target sm_75\n.address_size 64\n";
  const char* bodies[] = {
      "sust.p.1d.b32.trap [%rd1, {%r1}], {%r2};",
      "sust.p.2d.v2.b32.clamp [%rd1, {%r1, %r2}], {%r1, %r2};",
      "sust.p.3d.v4.b32.zero [%rd1, {%r1, %r2, %r1, %r1}], {%f1, %f2, %f3, %f4};",
      "sust.p.a1d.b32.trap [%rd1, {%r1, %r2}], {%r2};",
      "sust.p.a2d.v4.b32.trap [%rd1, {%r1, %r2, %r2, %r2}], {%r1, %r1, %r1, %r1};",
      "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}], {%r1, %r2};",
      "tex.level.1d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5}], %f6, {%r1};",
      "tld4.r.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}], {%r1, %r2};",
      "tex.base.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}];",
  };
  for (const char* body : bodies) {
    const std::string ptx = head + ".visible .entry k()\n{\n.reg .f32 %f<8>;\n.reg .b32 %r<3>;\n"
                            ".reg .b64 %rd<2>;\n" + body + "\nret;\n}\n";
    std::string err;
    EXPECT_NE(test::build_ptx(ptx, &err), nullptr) << body << ": " << err;
  }
  std::string err;
  const std::string depth = head + ".visible .entry k()\n{\n.reg .f32 %f<8>;\n.reg .b64 %rd<2>;\n"
                            "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}], %f7;\nret;\n}\n";
  EXPECT_EQ(test::build_ptx(depth, &err), nullptr);
  EXPECT_NE(err.find("depth-compare operand"), std::string::npos) << err;
}

// ---- sust.p conversions ------------------------------------------------------------------

uint32_t fb(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

TEST(SurfFormatted, ConvertsToTheArrayFormat) {
  struct Case {
    TexFormat format;
    int channels, n;
    std::vector<uint32_t> in;
    std::vector<uint8_t> want;  // the texel's bytes after the store (0xEE: untouched)
  } cases[] = {
      {TexFormat::U8, 4, 4, {7, 255, 256, 0xffffffffu}, {7, 255, 255, 255}},          // u32 saturated
      {TexFormat::U8, 4, 2, {1, 2}, {1, 2, 0xEE, 0xEE}},                              // unreached channels kept
      {TexFormat::U8, 1, 4, {9, 8, 7, 6}, {9, 0xEE, 0xEE, 0xEE}},                     // extra values ignored
      {TexFormat::S8, 2, 2, {static_cast<uint32_t>(-200), 100}, {0x80, 100, 0xEE, 0xEE}},  // s32 saturated
      {TexFormat::U16, 2, 2, {70000, 0x1234}, {0xff, 0xff, 0x34, 0x12}},
      {TexFormat::S16, 1, 1, {static_cast<uint32_t>(-40000)}, {0x00, 0x80, 0xEE, 0xEE}},
      {TexFormat::F16, 2, 2, {fb(1.0f), fb(65520.0f)}, {0x00, 0x3c, 0x00, 0x7c}},    // RNE: 65520 -> inf
      {TexFormat::F16, 2, 2, {fb(-2.0f), fb(1.0f + 1.0f / 4096)}, {0x00, 0xc0, 0x00, 0x3c}},  // tie to even
      {TexFormat::F32, 1, 1, {fb(3.5f)}, {0x00, 0x00, 0x60, 0x40}},
      {TexFormat::S32, 1, 1, {0x80000000u}, {0x00, 0x00, 0x00, 0x80}},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> texel(16, 0xEE);
    surf_store_formatted(c.format, c.channels, texel.data(), c.in.data(), c.n);
    for (size_t i = 0; i < c.want.size(); ++i)
      EXPECT_EQ(texel[i], c.want[i]) << "format " << static_cast<int>(c.format) << " byte " << i;
  }
}

// ---- texel offsets -------------------------------------------------------------------------

TEST(TexArithmetic, TexelOffsetsMoveTheFootprint) {
  std::vector<float> v = {10, 20, 30, 40};
  TexDesc d = float_1d(v);
  TexCoords c;
  c.x = 1.5f;
  c.off[0] = 1;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 30.0f);   // point: texel 1 + 1
  c.off[0] = -3;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 10.0f);   // then clamped
  d.linear_filter = true;
  c.x = 2.0f;
  c.off[0] = 1;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 35.0f);   // halfway between texels 2 and 3
  d.normalized_coords = true;
  d.address[0] = TexAddress::Wrap;
  c.x = 0.125f;  // texel 0's centre; offset -1 wraps to texel 3
  c.off[0] = -1;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 40.0f);
  d = float_1d(v);
  c = TexCoords{};
  c.int_coords = true;
  c.ix = 1;
  c.off[0] = 2;
  EXPECT_EQ(f(tex_fetch(d, c), 0), 40.0f);
  // tld4 moves its 2 x 2 footprint too.
  std::vector<float> g = {0, 1, 2, 3, 4, 5, 6, 7, 8};  // 3 x 3
  TexDesc t;
  t.format = TexFormat::F32;
  t.dims = 2;
  t.level[0] = TexLevel{reinterpret_cast<uint64_t>(g.data()), 3, 3, 1, 12, 36, 36};
  TexCoords q;
  q.x = 1.0f;
  q.y = 1.0f;
  q.off[0] = 1;
  q.off[1] = 1;
  const TexResult r = tex_gather(t, q, 0);
  EXPECT_EQ(f(r, 0), 7.0f);  // (i0, j1) = (1, 2)
  EXPECT_EQ(f(r, 2), 5.0f);  // (i1, j0) = (2, 1)
}

// ---- seamless cubemaps -----------------------------------------------------------------------

TEST(TexCube, NeighbourAcrossEachEdgeIsTheNearestTexel) {
  // Worked by hand for n = 2: past face 0's s = -1 edge lies face 4's last column; past its
  // t = -1 edge, face 2's last row.
  int face = -1;
  int32_t i = -1, j = -1;
  tex_cube_neighbour(0, -1, 0, 2, &face, &i, &j);
  EXPECT_EQ(face, 4);
  EXPECT_EQ(i, 1);
  EXPECT_EQ(j, 0);
  tex_cube_neighbour(0, 0, -1, 2, &face, &i, &j);
  EXPECT_EQ(face, 2);
  EXPECT_EQ(i, 1);
  EXPECT_EQ(j, 1);
  // Every edge of every face, n = 4: the neighbour is another face, and its texel centre is
  // the texel nearest the point one texel past the edge (angle below one texel).
  const int32_t n = 4;
  for (int f0 = 0; f0 < 6; ++f0)
    for (int32_t k = 0; k < n; ++k) {
      const int32_t outs[4][2] = {{-1, k}, {n, k}, {k, -1}, {k, n}};
      for (const auto& o : outs) {
        tex_cube_neighbour(f0, o[0], o[1], n, &face, &i, &j);
        EXPECT_NE(face, f0);
        float a[3], b[3];
        tex_cube_direction(f0, (o[0] + 0.5f) / n, (o[1] + 0.5f) / n, a);
        tex_cube_direction(face, (i + 0.5f) / n, (j + 0.5f) / n, b);
        const float la = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
        const float lb = std::sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2]);
        const float cosang = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (la * lb);
        EXPECT_GT(cosang, std::cos(2.0f / n)) << "face " << f0 << " (" << o[0] << ", " << o[1] << ")";
        // The way back: from the neighbour's texel, stepping out of its face returns here.
        int back = -1;
        int32_t bi = 0, bj = 0;
        const int32_t steps[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
        bool returned = false;
        for (const auto& s : steps) {
          if (s[0] >= 0 && s[0] < n && s[1] >= 0 && s[1] < n) continue;
          tex_cube_neighbour(face, s[0], s[1], n, &back, &bi, &bj);
          returned |= back == f0 && bi == std::clamp(o[0], 0, n - 1) && bj == std::clamp(o[1], 0, n - 1);
        }
        EXPECT_TRUE(returned) << "face " << f0 << " (" << o[0] << ", " << o[1] << ")";
      }
    }
}

// A 2 x 2 cubemap whose texel (i, j) of face f holds 10 f + i + 2 j.
struct Cube {
  std::vector<float> texels = std::vector<float>(24);
  TexDesc d;
  Cube() {
    for (int fc = 0; fc < 6; ++fc)
      for (int k = 0; k < 4; ++k) texels[static_cast<size_t>(fc * 4 + k)] = static_cast<float>(10 * fc + k);
    d.format = TexFormat::F32;
    d.dims = 2;
    d.cubemap = true;
    d.linear_filter = true;
    d.level[0] = TexLevel{reinterpret_cast<uint64_t>(texels.data()), 2, 2, 1, 8, 16, 96};
  }
  float at(int fc, int i, int j) const { return texels[static_cast<size_t>(fc * 4 + i + 2 * j)]; }
  float fetch(float x, float y, float z) const {
    TexCoords c;
    c.x = x, c.y = y, c.z = z;
    return f(tex_fetch(d, c), 0);
  }
};

TEST(TexCube, SeamlessFilteringCrossesEdgesAndCorners) {
  Cube c;
  // The middle of the edge between face 0 (+x) and face 4 (+z): u = 0, v = 0.5 on face 0.
  const float clamped = 0.5f * (c.at(0, 0, 0) + c.at(0, 0, 1));
  EXPECT_FLOAT_EQ(c.fetch(1, 0, 1), clamped);  // without the flag: clamped to face 0
  c.d.seamless_cube = true;
  EXPECT_FLOAT_EQ(c.fetch(1, 0, 1), 0.25f * (c.at(0, 0, 0) + c.at(0, 0, 1) + c.at(4, 1, 0) + c.at(4, 1, 1)));
  // The corner of faces 0, 2 (+y) and 4: the three corner texels weigh the same.
  EXPECT_FLOAT_EQ(c.fetch(1, 1, 1), (c.at(0, 0, 0) + c.at(4, 1, 0) + c.at(2, 1, 1)) / 3.0f);
  // Inside a face nothing changes: texel (1, 1) of face 0 at its centre.
  float dir[3];
  tex_cube_direction(0, 0.75f, 0.75f, dir);
  EXPECT_FLOAT_EQ(c.fetch(dir[0], dir[1], dir[2]), c.at(0, 1, 1));
}

// ---- anisotropic filtering ---------------------------------------------------------------------

TEST(TexAniso, FootprintTable) {
  const float one[3] = {1, 1, 1};
  struct Case {
    float dx[3], dy[3];
    uint32_t max_aniso;
    int samples;
    float lod;
    float step0;
  } cases[] = {
      {{4, 0, 0}, {0, 1, 0}, 16, 4, 0.0f, 1.0f},   // ratio 4: four samples, lod log2(4 / 4)
      {{4, 0, 0}, {0, 1, 0}, 2, 2, 1.0f, 2.0f},    // capped at 2: lod log2(4 / 2)
      {{2, 0, 0}, {0, 2, 0}, 16, 1, 1.0f, 0.0f},   // isotropic: trilinear's lod
      {{0, 0, 0}, {0, 0, 0}, 16, 1, 0.0f, 0.0f},   // no gradient
      {{8, 0, 0}, {0, 0, 0}, 4, 4, 1.0f, 2.0f},    // a line: max_aniso samples
      {{0, 1, 0}, {3, 0, 0}, 16, 3, 0.0f, 1.0f},   // the major axis is ddy
      {{4, 0, 0}, {0, 1.5f, 0}, 16, 3, std::log2(4.0f / 3.0f), 4.0f / 3.0f},  // ceil(4 / 1.5) = 3
  };
  for (const Case& c : cases) {
    const TexFootprint fp = tex_footprint(c.dx, c.dy, one, 2, c.max_aniso);
    EXPECT_EQ(fp.samples, c.samples);
    EXPECT_FLOAT_EQ(fp.lod, c.lod);
    EXPECT_FLOAT_EQ(fp.step[0], c.step0);
  }
}

// An 8 x 2 texture, linear filtering: four samples one texel apart along x land on texel
// centres, so the CPU reference is the plain mean of four texel pairs.
TEST(TexAniso, MatchesTheCpuReference) {
  std::vector<float> v(16);
  for (int k = 0; k < 16; ++k) v[static_cast<size_t>(k)] = static_cast<float>((k * 7) % 11);
  TexDesc d;
  d.format = TexFormat::F32;
  d.dims = 2;
  d.linear_filter = true;
  d.max_aniso = 16;
  d.level[0] = TexLevel{reinterpret_cast<uint64_t>(v.data()), 8, 2, 1, 32, 64, 64};
  TexCoords c;
  c.x = 4.0f;
  c.y = 1.0f;
  c.grad = true;
  c.ddx[0] = 4;
  c.ddy[1] = 1;
  float want = 0;
  for (int x = 2; x <= 5; ++x) want += 0.5f * (v[static_cast<size_t>(x)] + v[static_cast<size_t>(8 + x)]);
  want /= 4;
  EXPECT_FLOAT_EQ(f(tex_fetch(d, c), 0), want);
  d.max_aniso = 1;  // isotropic: one bilinear sample between texels 3 and 4
  EXPECT_FLOAT_EQ(f(tex_fetch(d, c), 0), 0.25f * (v[3] + v[4] + v[11] + v[12]));
}

TEST(TexAniso, Invariants) {
  // Two mip levels of a ramp texture, trilinear.
  std::vector<float> l0(64), l1(16), k0(64, 3.25f), k1(16, 3.25f);
  for (int k = 0; k < 64; ++k) l0[static_cast<size_t>(k)] = static_cast<float>(k % 8 + 3 * (k / 8));
  for (int k = 0; k < 16; ++k) l1[static_cast<size_t>(k)] = static_cast<float>(2 * (k % 4) + 6 * (k / 4));
  auto make = [](std::vector<float>& a, std::vector<float>& b) {
    TexDesc d;
    d.format = TexFormat::F32;
    d.dims = 2;
    d.linear_filter = true;
    d.mip_linear = true;
    d.normalized_coords = true;
    d.address[0] = d.address[1] = TexAddress::Wrap;
    d.num_levels = 2;
    d.max_lod = 1;
    d.level[0] = TexLevel{reinterpret_cast<uint64_t>(a.data()), 8, 8, 1, 32, 256, 256};
    d.level[1] = TexLevel{reinterpret_cast<uint64_t>(b.data()), 4, 4, 1, 16, 64, 64};
    return d;
  };
  TexDesc ramp = make(l0, l1), flat = make(k0, k1);
  for (int t = 0; t < 40; ++t) {
    TexCoords c;
    c.x = 0.03f * static_cast<float>(t);
    c.y = 0.71f - 0.02f * static_cast<float>(t);
    c.grad = true;
    const float a = 0.05f + 0.01f * static_cast<float>(t % 7), ang = 0.3f * static_cast<float>(t);
    // Isotropic gradients (equal length, at right angles): the same bits as max_aniso 1.
    c.ddx[0] = a * std::cos(ang), c.ddx[1] = a * std::sin(ang);
    c.ddy[0] = -a * std::sin(ang), c.ddy[1] = a * std::cos(ang);
    ramp.max_aniso = 16;
    const TexResult an = tex_fetch(ramp, c);
    ramp.max_aniso = 1;
    const TexResult iso = tex_fetch(ramp, c);
    EXPECT_EQ(an.bits[0], iso.bits[0]) << t;
    // Stretched gradients on a constant texture: still the constant.
    c.ddy[0] *= 0.1f, c.ddy[1] *= 0.1f;
    flat.max_aniso = 16;
    EXPECT_FLOAT_EQ(f(tex_fetch(flat, c), 0), 3.25f) << t;
  }
}

}  // namespace
}  // namespace gpool::emu::exec
