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
      {"", "sust.p.1d.b32.trap [%rd1, {%r1}], {%r2};", "sust.p.1d.b32.trap"},
      {"", "tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [%rd1, {%f5, %f6}], %f7;", "tex.2d.v4.f32.f32"},
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

}  // namespace
}  // namespace gpool::emu::exec
