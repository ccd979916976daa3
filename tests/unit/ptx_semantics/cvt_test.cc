// cvt through its lowerer and handlers: the integer/float matrix edges
// (INT_MIN, -0.0, NaN, infinities, .5 ties, f16 65504, bf16 rounding), all
// rounding modes, saturation, .ftz, integer widths, packed forms.
#include "op_harness.h"

#include <cmath>
#include <limits>

namespace gpool::emu::exec::testing {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Runs `cvt.<mods> %d, %a` with %a = a on all lanes and returns lane 0.
uint64_t cvt(Bench& b, const std::string& mods, uint64_t a) {
  b.set("%a", a);
  b.set("%d", 0xdeadbeefdeadbeefull);
  b.run("cvt." + mods + " %d, %a");
  for (int l = 1; l < kWarpSize; ++l) EXPECT_EQ(b.r("%d", l), b.r("%d", 0)) << mods;
  return b.r("%d");
}
uint64_t f(float x) { return fp::bits_of(x); }
uint64_t d(double x) { return fp::bits_of(x); }

TEST(CvtFloatToInt, RoundingSaturationNaN) {
  Bench b;
  EXPECT_EQ(cvt(b, "rzi.s32.f32", f(-2.9f)), static_cast<uint32_t>(-2));
  EXPECT_EQ(cvt(b, "rni.s32.f32", f(2.5f)), 2u);
  EXPECT_EQ(cvt(b, "rni.s32.f32", f(-3.5f)), static_cast<uint32_t>(-4));
  EXPECT_EQ(cvt(b, "rmi.s32.f32", f(-0.5f)), static_cast<uint32_t>(-1));
  EXPECT_EQ(cvt(b, "rpi.s32.f32", f(0.25f)), 1u);
  EXPECT_EQ(cvt(b, "rzi.s32.f32", f(kNaN)), 0u);
  EXPECT_EQ(cvt(b, "rzi.s32.f32", f(INFINITY)), 0x7fffffffu);
  EXPECT_EQ(cvt(b, "rzi.s32.f32", f(-INFINITY)), 0x80000000u);
  EXPECT_EQ(cvt(b, "rzi.s32.f32", f(-2147483648.0f)), 0x80000000u);
  EXPECT_EQ(cvt(b, "rzi.u32.f32", f(-5.0f)), 0u);
  EXPECT_EQ(cvt(b, "rzi.u32.f32", f(5e9f)), 0xffffffffu);
  EXPECT_EQ(cvt(b, "rzi.s64.f64", d(-9.3e18)), 0x8000000000000000ull);
  EXPECT_EQ(cvt(b, "rzi.u64.f64", d(1.8e19)), 18000000000000000000ull);
  EXPECT_EQ(cvt(b, "rzi.u64.f32", f(kNaN)), 0u);
  EXPECT_EQ(cvt(b, "rni.s16.f32", f(40000.0f)), 0x7fffu);
  EXPECT_EQ(cvt(b, "rni.u8.f32", f(255.5f)), 0xffu);
  EXPECT_EQ(cvt(b, "rni.s8.f64", d(-1000.0)), 0x80u);
  EXPECT_EQ(cvt(b, "rzi.s32.f16", 0xc500u /* -5.0 */), static_cast<uint32_t>(-5));
  EXPECT_EQ(cvt(b, "rpi.s32.f32", f(0x1p-140f)), 1u);
  EXPECT_EQ(cvt(b, "rpi.ftz.s32.f32", f(0x1p-140f)), 0u);
  EXPECT_EQ(cvt(b, "rzi.s32.bf16", 0x4049u /* 3.140625 */), 3u);
}

TEST(CvtIntToFloat, RoundingModes) {
  Bench b;
  EXPECT_EQ(cvt(b, "rn.f32.s32", 0x80000000u), f(-2147483648.0f));
  EXPECT_EQ(cvt(b, "rn.f32.s32", 16777217u), f(16777216.0f));
  EXPECT_EQ(cvt(b, "rp.f32.s32", 16777217u), f(16777218.0f));
  EXPECT_EQ(cvt(b, "rm.f32.s32", static_cast<uint32_t>(-16777217)), f(-16777218.0f));
  EXPECT_EQ(cvt(b, "rz.f32.u32", 0xffffffffu), f(4294967040.0f));
  EXPECT_EQ(cvt(b, "rn.f32.u32", 0xffffffffu), f(4294967296.0f));
  EXPECT_EQ(cvt(b, "rn.f32.u64", ~0ull), f(18446744073709551616.0f));
  EXPECT_EQ(cvt(b, "rn.f64.s64", 0x8000000000000000ull), d(-0x1p63));
  EXPECT_EQ(cvt(b, "rz.f64.u64", ~0ull), 0x43efffffffffffffull);
  EXPECT_EQ(cvt(b, "rn.f16.s32", 65520u), 0x7c00u);
  EXPECT_EQ(cvt(b, "rz.f16.s32", 65520u), 0x7bffu);
  EXPECT_EQ(cvt(b, "rn.f16.u16", 2049u), 0x6800u);  // 2049 ties to 2048
  EXPECT_EQ(cvt(b, "rn.f32.s8", 0xffu), f(-1.0f));   // s8 source: sign from bit 7
  EXPECT_EQ(cvt(b, "rn.f32.u8", 0x1ffu), f(255.0f)); // only the low 8 bits count
  EXPECT_EQ(cvt(b, "rn.bf16.s32", 257u), 0x4380u);  // 257 -> 256 in bf16
  EXPECT_EQ(cvt(b, "rn.sat.f32.s32", 5u), f(1.0f));
}

TEST(CvtFloatToFloat, NarrowingWideningAndSpecials) {
  Bench b;
  EXPECT_EQ(cvt(b, "rn.f16.f32", f(65504.0f)), 0x7bffu);
  EXPECT_EQ(cvt(b, "rn.f16.f32", f(65520.0f)), 0x7c00u);
  EXPECT_EQ(cvt(b, "rz.f16.f32", f(65520.0f)), 0x7bffu);
  EXPECT_EQ(cvt(b, "rn.f16.f32", f(-0.0f)), 0x8000u);
  EXPECT_EQ(cvt(b, "rn.f16.f32", f(kNaN)), 0x7fffu);
  EXPECT_EQ(cvt(b, "rm.f16.f32", f(-0x1p-30f)), 0x8001u);
  EXPECT_EQ(cvt(b, "f32.f16", 0x7bffu), f(65504.0f));
  EXPECT_EQ(cvt(b, "f32.f16", 0x0001u), f(0x1p-24f));
  EXPECT_EQ(cvt(b, "f32.f16", 0xfc00u), f(-INFINITY));
  EXPECT_EQ(cvt(b, "f32.f16", 0x7e01u), 0x7fffffffu);
  EXPECT_EQ(cvt(b, "f64.f16", 0x3555u), d(0.333251953125));
  EXPECT_EQ(cvt(b, "rn.bf16.f32", 0x3f808000u), 0x3f80u);
  EXPECT_EQ(cvt(b, "rn.bf16.f32", 0x3f818000u), 0x3f82u);
  EXPECT_EQ(cvt(b, "rp.bf16.f32", 0x3f800001u), 0x3f81u);
  EXPECT_EQ(cvt(b, "f32.bf16", 0xc049u), 0xc0490000u);
  EXPECT_EQ(cvt(b, "f64.f32", f(0.1f)), d(static_cast<double>(0.1f)));
  EXPECT_EQ(cvt(b, "f64.f32", f(kNaN)), 0x7fffffffffffffffull);
  EXPECT_EQ(cvt(b, "ftz.f64.f32", f(0x1p-130f)), d(0.0));
  EXPECT_EQ(cvt(b, "rn.f32.f64", d(0.1)), f(0.1f));
  EXPECT_EQ(cvt(b, "rz.f32.f64", d(0.1)), 0x3dccccccu);
  EXPECT_EQ(cvt(b, "rp.f32.f64", d(1e300)), f(INFINITY));
  EXPECT_EQ(cvt(b, "rz.f32.f64", d(1e300)), 0x7f7fffffu);
  EXPECT_EQ(cvt(b, "rn.f32.f64", d(1e-50)), 0u);
  EXPECT_EQ(cvt(b, "rn.ftz.f32.f64", d(0x1p-130)), 0u);
  EXPECT_EQ(cvt(b, "rn.f32.f64", d(0x1p-130)), f(0x1p-130f));
  EXPECT_EQ(cvt(b, "rn.relu.f16.f32", f(-3.0f)), 0u);
  EXPECT_EQ(cvt(b, "rn.relu.f16.f32", f(kNaN)), 0x7fffu);
}

TEST(CvtFloatToFloat, IntegralRoundingAndSatFtz) {
  Bench b;
  EXPECT_EQ(cvt(b, "rni.f32.f32", f(2.5f)), f(2.0f));
  EXPECT_EQ(cvt(b, "rni.f32.f32", f(-0.5f)), f(-0.0f));
  EXPECT_EQ(cvt(b, "rmi.f32.f32", f(-0.5f)), f(-1.0f));
  EXPECT_EQ(cvt(b, "rpi.f64.f64", d(1.000001)), d(2.0));
  EXPECT_EQ(cvt(b, "rzi.f32.f32", f(-7.9f)), f(-7.0f));
  EXPECT_EQ(cvt(b, "rzi.f32.f32", f(kNaN)), 0x7fffffffu);
  EXPECT_EQ(cvt(b, "sat.f32.f32", f(1.5f)), f(1.0f));
  EXPECT_EQ(cvt(b, "sat.f32.f32", f(-1.5f)), 0u);
  EXPECT_EQ(cvt(b, "sat.f32.f32", f(kNaN)), 0u);
  EXPECT_EQ(cvt(b, "sat.f32.f32", f(0.25f)), f(0.25f));
  EXPECT_EQ(cvt(b, "ftz.f32.f32", f(-0x1p-130f)), 0x80000000u);
  EXPECT_EQ(cvt(b, "rni.f16.f16", 0x3e00u /* 1.5 */), 0x4000u);
}

TEST(CvtIntToInt, ExtensionTruncationSaturation) {
  Bench b;
  EXPECT_EQ(cvt(b, "s32.s8", 0x80u), 0xffffff80u);
  EXPECT_EQ(cvt(b, "u32.s8", 0x80u), 0xffffff80u);  // sign-extended per the source type
  EXPECT_EQ(cvt(b, "u32.u8", 0xff80u), 0x80u);
  EXPECT_EQ(cvt(b, "s64.s32", 0xfffffffeu), 0xfffffffffffffffeull);
  EXPECT_EQ(cvt(b, "u64.u32", 0xfffffffeu), 0xfffffffeull);
  EXPECT_EQ(cvt(b, "u64.s16", 0x8000u), 0xffffffffffff8000ull);
  EXPECT_EQ(cvt(b, "u16.u32", 0x12345678u), 0x5678u);
  EXPECT_EQ(cvt(b, "s8.s32", 0x12345680u), 0x80u);  // raw 8-bit result in the register cell
  EXPECT_EQ(cvt(b, "sat.s8.s32", 1000u), 0x7fu);
  EXPECT_EQ(cvt(b, "sat.s8.s32", static_cast<uint32_t>(-1000)), 0x80u);
  EXPECT_EQ(cvt(b, "sat.u8.s32", static_cast<uint32_t>(-5)), 0u);
  EXPECT_EQ(cvt(b, "sat.u32.s64", 0x100000000ull), 0xffffffffu);
  EXPECT_EQ(cvt(b, "sat.s32.u32", 0x80000000u), 0x7fffffffu);
  EXPECT_EQ(cvt(b, "sat.u64.s64", 0x8000000000000000ull), 0u);
  EXPECT_EQ(cvt(b, "sat.s64.u64", ~0ull), 0x7fffffffffffffffull);
  EXPECT_EQ(cvt(b, "s32.s32", 0xdeadbeefu), 0xdeadbeefu);
}

TEST(CvtPacked, HalfPairsFp8Tf32) {
  Bench b;
  b.setf("%x", 1.0f);
  b.setf("%y", -2.0f);
  b.run("cvt.rn.f16x2.f32 %d, %x, %y");
  EXPECT_EQ(b.r("%d"), (0x3c00u << 16) | 0xc000u);  // first source in the upper half
  b.run("cvt.rn.bf16x2.f32 %d, %x, %y");
  EXPECT_EQ(b.r("%d"), (0x3f80u << 16) | 0xc000u);
  b.run("cvt.rn.relu.f16x2.f32 %d, %x, %y");
  EXPECT_EQ(b.r("%d"), 0x3c00u << 16);
  b.setf("%z", 1000.0f);
  b.run("cvt.rn.satfinite.e4m3x2.f32 %e, %z, %x");
  EXPECT_EQ(b.r("%e"), (0x7eu << 8) | 0x38u);
  b.set("%h", (0x3c00u << 16) | 0xc000u);  // f16x2 {hi 1.0, lo -2.0}
  b.run("cvt.rn.satfinite.e5m2x2.f16x2 %e, %h");
  EXPECT_EQ(b.r("%e"), (0x3cu << 8) | 0xc0u);
  b.set("%q", (0x38u << 8) | 0x7eu);  // e4m3x2 {hi 1.0, lo 448}
  b.run("cvt.rn.f16x2.e4m3x2 %g, %q");
  EXPECT_EQ(b.r("%g"), (0x3c00u << 16) | fp::f16_from_f32(448.0f));
  b.set("%t", 0x3f801000u);
  b.run("cvt.rna.tf32.f32 %u, %t");
  EXPECT_EQ(b.r("%u"), 0x3f802000u);
  b.run("cvt.rn.tf32.f32 %u, %t");
  EXPECT_EQ(b.r("%u"), 0x3f800000u);
  EXPECT_FALSE(b.lowers("cvt.rn.e4m3x2.f32 %e, %z, %x"));  // fp8 needs .satfinite
  EXPECT_FALSE(b.lowers("cvt.rn.s32.f32 %e, %z"));          // float rounding into an integer
  EXPECT_FALSE(b.lowers("cvt.rni.f32.s32 %e, %z"));         // integer rounding of an integer
}

TEST(CvtFastPaths, PartialMaskAndImmediate) {
  Bench b;
  b.set("%d", 7);
  for (int l = 0; l < kWarpSize; ++l) b.r("%i", l) = static_cast<uint32_t>(l - 16);
  b.run("cvt.rn.f32.s32 %d, %i", 0xaaaaaaaau);
  for (int l = 0; l < kWarpSize; ++l)
    EXPECT_EQ(b.r("%d", l), (l & 1) ? f(static_cast<float>(l - 16)) : 7u) << l;
  b.run("cvt.rzi.s32.f32 %e, 0fC0490FDB");  // -pi
  EXPECT_EQ(b.r("%e", 5), static_cast<uint32_t>(-3));
}

}  // namespace
}  // namespace gpool::emu::exec::testing
