// Pure format/rounding helpers (emulator/exec/src/float_bits.h): f16, bf16,
// tf32, fp8 encodings against known bit patterns, every rounding mode,
// saturation, NaN and subnormals, float <-> integer conversion.
#include "float_bits.h"

#include <gtest/gtest.h>

#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace gpool::emu::exec::fp {
namespace {

uint64_t f32b(float f) { return bits_of(f); }

TEST(F16, KnownEncodings) {
  EXPECT_EQ(f16_from_f32(1.0f), 0x3c00);
  EXPECT_EQ(f16_from_f32(-2.0f), 0xc000);
  EXPECT_EQ(f16_from_f32(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(f16_from_f32(0.1f), 0x2e66);
  EXPECT_EQ(f16_from_f32(0.0f), 0x0000);
  EXPECT_EQ(f16_from_f32(-0.0f), 0x8000);
  EXPECT_EQ(f16_from_f32(INFINITY), 0x7c00);
  EXPECT_EQ(f16_from_f32(-INFINITY), 0xfc00);
  EXPECT_EQ(f16_from_f32(std::numeric_limits<float>::quiet_NaN()), 0x7fff);
  EXPECT_EQ(f16_from_f32(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f16_from_f32(0x1p-14f), 0x0400);  // smallest normal
}

TEST(F16, RoundingAtOverflowAndTies) {
  // 65520 is halfway between 65504 (odd mantissa) and 65536 (overflow).
  EXPECT_EQ(f16_from_f32(65520.0f, Rnd::RN), 0x7c00);
  EXPECT_EQ(f16_from_f32(65519.0f, Rnd::RN), 0x7bff);
  EXPECT_EQ(f16_from_f32(65520.0f, Rnd::RZ), 0x7bff);
  EXPECT_EQ(f16_from_f32(1e6f, Rnd::RZ), 0x7bff);
  EXPECT_EQ(f16_from_f32(1e6f, Rnd::RM), 0x7bff);
  EXPECT_EQ(f16_from_f32(1e6f, Rnd::RP), 0x7c00);
  EXPECT_EQ(f16_from_f32(-1e6f, Rnd::RM), 0xfc00);
  EXPECT_EQ(f16_from_f32(-1e6f, Rnd::RP), 0xfbff);
  // Ties to even at 1.0: 1 + 2^-11 -> 1.0, 1 + 3*2^-11 -> 1 + 2^-9.
  EXPECT_EQ(f16_from_f32(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(f16_from_f32(1.0f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(f16_from_f32(1.0f + 0x1p-11f, Rnd::RNA), 0x3c01);
  EXPECT_EQ(f16_from_f32(1.0f + 0x1p-12f, Rnd::RP), 0x3c01);
  EXPECT_EQ(f16_from_f32(-(1.0f + 0x1p-12f), Rnd::RM), 0xbc01);
  EXPECT_EQ(f16_from_f32(-(1.0f + 0x1p-12f), Rnd::RZ), 0xbc00);
}

TEST(F16, Subnormals) {
  EXPECT_EQ(f16_from_f32(0x1p-25f), 0x0000);         // tie between 0 and 2^-24: even
  EXPECT_EQ(f16_from_f32(0x1.8p-25f), 0x0001);
  EXPECT_EQ(f16_from_f32(0x1p-30f, Rnd::RP), 0x0001);
  EXPECT_EQ(f16_from_f32(0x1p-30f, Rnd::RM), 0x0000);
  EXPECT_EQ(f16_from_f32(-0x1p-30f, Rnd::RM), 0x8001);
  EXPECT_EQ(f16_from_f32(-0x1p-30f, Rnd::RN), 0x8000);  // sign kept on underflow
  EXPECT_EQ(f16_from_f32(0x1.ffcp-15f), 0x0400);        // tie rounds up into the normal range
  EXPECT_EQ(f16_from_f32(0x1.ff8p-15f), 0x03ff);
  EXPECT_EQ(f32_from_f16(0x0001), 0x1p-24f);
  EXPECT_EQ(f32_from_f16(0x03ff), 0x3ffp-24f);
  EXPECT_EQ(f32_from_f16(0x8001), -0x1p-24f);
}

TEST(F16, WideningIsExactForEveryEncoding) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f32_from_f16(static_cast<uint16_t>(h));
    const float fast = f16_bits_to_f32(h);
    const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (nan) {
      ASSERT_TRUE(f != f) << h;
      ASSERT_TRUE(fast != fast) << h;
      ASSERT_EQ(f32b(f), 0x7fffffffu);
      continue;
    }
    ASSERT_EQ(f32b(f), f32b(fast)) << std::hex << h;
    ASSERT_EQ(f16_from_f32(f), h) << std::hex << h;  // round trip
    ASSERT_EQ(f16_from_f64(f64_from_f16(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

#ifdef __FLT16_MAX__
// The compiler's own _Float16 conversion (correctly rounded, RN) as an
// independent oracle over a spread of f32 and f64 inputs.
TEST(F16, MatchesCompilerFloat16Conversion) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = rng();
    if (i % 2) b = (b & 0x807fffffu) | ((100u + rng() % 50u) << 23);  // concentrate near f16 range
    float f = std::bit_cast<float>(b);
    if (f != f) continue;
    _Float16 h = static_cast<_Float16>(f);
    uint16_t hb;
    std::memcpy(&hb, &h, 2);
    ASSERT_EQ(f16_from_f32(f), hb) << std::hex << b;
    double d = static_cast<double>(f) * (1.0 + 0x1p-30 * (rng() % 7));
    _Float16 h2 = static_cast<_Float16>(d);
    std::memcpy(&hb, &h2, 2);
    ASSERT_EQ(f16_from_f64(d), hb) << d;
  }
}
#endif

TEST(BF16, KnownEncodingsAndRounding) {
  EXPECT_EQ(bf16_from_f32(1.0f), 0x3f80);
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x40490fdbu)), 0x4049);  // pi
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // FLT_MAX -> inf
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x7f7fffffu), Rnd::RZ), 0x7f7f);
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x7fc00001u)), 0x7fff);  // NaN canonical
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x00008000u)), 0x0000);  // subnormal tie -> even
  EXPECT_EQ(bf16_from_f32(std::bit_cast<float>(0x00018000u)), 0x0002);
  EXPECT_EQ(bf16_from_f32(-0.0f), 0x8000);
  EXPECT_EQ(f32_from_bf16(0x4049), std::bit_cast<float>(0x40490000u));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue;
    ASSERT_EQ(bf16_from_f32(f32_from_bf16(static_cast<uint16_t>(h))), h);
  }
}

TEST(TF32, RoundingModes) {
  const uint64_t tie = 0x3f801000;  // exactly half a tf32 ulp above 1.0
  EXPECT_EQ(convert(kF32, kTF32, tie, Rnd::RNA) << 13, 0x3f802000u);
  EXPECT_EQ(convert(kF32, kTF32, tie, Rnd::RN) << 13, 0x3f800000u);
  EXPECT_EQ(convert(kF32, kTF32, 0x3f803000, Rnd::RN) << 13, 0x3f804000u);
  EXPECT_EQ(convert(kF32, kTF32, 0x3f801fff, Rnd::RZ) << 13, 0x3f800000u);
  EXPECT_EQ(convert(kF32, kTF32, 0x7f7fffff, Rnd::RNA) << 13, 0x7f800000u);  // overflow
  EXPECT_EQ(convert(kF32, kTF32, 0x7f7fffff, Rnd::RNA, true) << 13, 0x7f7fe000u);  // satfinite
}

TEST(FP8, E4M3AndE5M2) {
  EXPECT_EQ(convert(kF32, kE4M3, f32b(1.0f), Rnd::RN, true), 0x38u);
  EXPECT_EQ(convert(kF32, kE4M3, f32b(448.0f), Rnd::RN, true), 0x7eu);
  EXPECT_EQ(convert(kF32, kE4M3, f32b(500.0f), Rnd::RN, true), 0x7eu);
  EXPECT_EQ(convert(kF32, kE4M3, f32b(-1e9f), Rnd::RN, true), 0xfeu);
  EXPECT_EQ(convert(kF32, kE4M3, f32b(INFINITY), Rnd::RN, true), 0x7eu);
  EXPECT_EQ(convert(kF32, kE4M3, f32b(NAN), Rnd::RN, true), 0x7fu);
  EXPECT_EQ(convert(kF32, kE4M3, f32b(0x1p-9f), Rnd::RN, true), 0x01u);  // smallest subnormal
  EXPECT_EQ(convert(kE4M3, kF32, 0x7e, Rnd::RN), f32b(448.0f));
  EXPECT_EQ(convert(kE4M3, kF32, 0x7f, Rnd::RN), 0x7fffffffu);
  EXPECT_EQ(convert(kF32, kE5M2, f32b(1.0f), Rnd::RN, true), 0x3cu);
  EXPECT_EQ(convert(kF32, kE5M2, f32b(57344.0f), Rnd::RN, true), 0x7bu);
  EXPECT_EQ(convert(kF32, kE5M2, f32b(1e6f), Rnd::RN, true), 0x7bu);
  EXPECT_EQ(convert(kF32, kE5M2, f32b(1e6f), Rnd::RN, false), 0x7cu);
}

TEST(IntToFloat, RoundingModes) {
  EXPECT_EQ(int_to_float(kF32, true, 32, 0x80000000u, Rnd::RN), 0xcf000000u);  // INT_MIN
  const uint64_t big = (1u << 24) + 1;  // 16777217
  EXPECT_EQ(f32_from_bits(int_to_float(kF32, true, 32, big, Rnd::RN)), 16777216.0f);
  EXPECT_EQ(f32_from_bits(int_to_float(kF32, true, 32, big, Rnd::RP)), 16777218.0f);
  EXPECT_EQ(f32_from_bits(int_to_float(kF32, true, 32, big, Rnd::RZ)), 16777216.0f);
  EXPECT_EQ(f32_from_bits(int_to_float(kF32, true, 32, (-static_cast<int64_t>(big)) & 0xffffffff, Rnd::RM)),
            -16777218.0f);
  EXPECT_EQ(int_to_float(kF32, false, 64, ~0ull, Rnd::RN), 0x5f800000u);  // 2^64
  EXPECT_EQ(int_to_float(kF32, false, 64, ~0ull, Rnd::RZ), 0x5f7fffffu);
  EXPECT_EQ(int_to_float(kF64, true, 64, 0x8000000000000000ull, Rnd::RN), bits_of(-0x1p63));
  EXPECT_EQ(int_to_float(kF16, true, 32, 65520, Rnd::RN), 0x7c00u);
  EXPECT_EQ(int_to_float(kF16, true, 32, 65519, Rnd::RN), 0x7bffu);
  EXPECT_EQ(int_to_float(kF16, true, 8, 0xff, Rnd::RN), 0xbc00u);  // s8 -1
  EXPECT_EQ(int_to_float(kF16, false, 8, 0xff, Rnd::RN), f16_from_f32(255.0f));
}

TEST(FloatToInt, RoundingSaturationAndNaN) {
  auto s32 = [](float f, Rnd r) { return static_cast<int32_t>(float_to_int(kF32, f32b(f), true, 32, r)); };
  auto u32 = [](float f, Rnd r) { return static_cast<uint32_t>(float_to_int(kF32, f32b(f), false, 32, r)); };
  EXPECT_EQ(s32(2.5f, Rnd::RN), 2);
  EXPECT_EQ(s32(3.5f, Rnd::RN), 4);
  EXPECT_EQ(s32(-2.5f, Rnd::RN), -2);
  EXPECT_EQ(s32(2.5f, Rnd::RM), 2);
  EXPECT_EQ(s32(-2.5f, Rnd::RM), -3);
  EXPECT_EQ(s32(2.1f, Rnd::RP), 3);
  EXPECT_EQ(s32(-2.9f, Rnd::RZ), -2);
  EXPECT_EQ(s32(NAN, Rnd::RZ), 0);
  EXPECT_EQ(s32(INFINITY, Rnd::RZ), INT32_MAX);
  EXPECT_EQ(s32(-INFINITY, Rnd::RZ), INT32_MIN);
  EXPECT_EQ(s32(3e9f, Rnd::RZ), INT32_MAX);
  EXPECT_EQ(s32(-2147483648.0f, Rnd::RZ), INT32_MIN);
  EXPECT_EQ(s32(-0.0f, Rnd::RZ), 0);
  EXPECT_EQ(u32(-1.0f, Rnd::RZ), 0u);
  EXPECT_EQ(u32(-0.5f, Rnd::RM), 0u);
  EXPECT_EQ(u32(4294967296.0f, Rnd::RZ), UINT32_MAX);
  EXPECT_EQ(u32(4294967040.0f, Rnd::RZ), 4294967040u);
  EXPECT_EQ(float_to_int(kF64, bits_of(9.3e18), true, 64, Rnd::RZ), static_cast<uint64_t>(INT64_MAX));
  EXPECT_EQ(float_to_int(kF64, bits_of(-9.3e18), true, 64, Rnd::RZ), 0x8000000000000000ull);
  EXPECT_EQ(float_to_int(kF64, bits_of(-0x1p63), true, 64, Rnd::RZ), 0x8000000000000000ull);
  EXPECT_EQ(float_to_int(kF64, bits_of(1.8e19), false, 64, Rnd::RZ), 18000000000000000000ull);
  EXPECT_EQ(float_to_int(kF64, bits_of(2e19), false, 64, Rnd::RZ), ~0ull);
  EXPECT_EQ(float_to_int(kF32, f32b(127.6f), true, 8, Rnd::RN), 0x7fu);
  EXPECT_EQ(float_to_int(kF32, f32b(-129.0f), true, 8, Rnd::RN), 0x80u);
  EXPECT_EQ(float_to_int(kF32, f32b(300.0f), false, 8, Rnd::RN), 0xffu);
  EXPECT_EQ(float_to_int(kF16, 0xfc00, true, 16, Rnd::RN), 0x8000u);  // f16 -inf -> s16 min
  EXPECT_EQ(float_to_int(kF32, f32b(0x1p-140f), true, 32, Rnd::RP), 1u);  // subnormal, not flushed
}

TEST(RoundToIntegral, KeepsFormatAndSign) {
  EXPECT_EQ(round_to_integral(kF32, f32b(2.5f), Rnd::RN), f32b(2.0f));
  EXPECT_EQ(round_to_integral(kF32, f32b(-0.3f), Rnd::RN), 0x80000000u);
  EXPECT_EQ(round_to_integral(kF32, f32b(-0.3f), Rnd::RM), f32b(-1.0f));
  EXPECT_EQ(round_to_integral(kF32, f32b(0.3f), Rnd::RP), f32b(1.0f));
  EXPECT_EQ(round_to_integral(kF32, f32b(1e30f), Rnd::RZ), f32b(1e30f));
  EXPECT_EQ(round_to_integral(kF32, f32b(INFINITY), Rnd::RZ), f32b(INFINITY));
  EXPECT_EQ(round_to_integral(kF32, 0x7fc12345, Rnd::RZ), 0x7fffffffu);
  EXPECT_EQ(round_to_integral(kF64, bits_of(-7.5), Rnd::RN), bits_of(-8.0));
  EXPECT_EQ(round_to_integral(kF16, 0x3e00 /*1.5*/, Rnd::RN), 0x4000u);
}

// round_pack against the host's conversions in every mode, on random f64 -> f32.
TEST(RoundPack, MatchesHostNarrowingInEveryMode) {
  std::mt19937_64 rng(99);
  const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
  const Rnd rnds[] = {Rnd::RN, Rnd::RZ, Rnd::RM, Rnd::RP};
  for (int i = 0; i < 100000; ++i) {
    uint64_t b = rng();
    // Exponents spread over f32's normal, subnormal and overflow ranges.
    b = (b & 0x800fffffffffffffull) | (static_cast<uint64_t>(1023 - 160 + rng() % 300) << 52);
    const volatile double d = f64_from_bits(b);
    for (int m = 0; m < 4; ++m) {
      std::fesetround(modes[m]);
      const volatile float host = static_cast<float>(d);
      std::fesetround(FE_TONEAREST);
      ASSERT_EQ(convert(kF64, kF32, b, rnds[m]), f32b(host)) << std::hex << b << " mode " << m;
    }
  }
}

TEST(AddRoundOdd, GivesCorrectlyRoundedHalfSums) {
  // A sum whose double rounding would go wrong without round-to-odd:
  // 1 + 2^-11 + 2^-70 must round up in f16 (above the tie).
  const double s = add_round_odd(1.0 + 0x1p-11, 0x1p-70);
  EXPECT_EQ(f16_from_f64(s), 0x3c01);
  EXPECT_EQ(f16_from_f64(add_round_odd(1.0 + 0x1p-11, -0x1p-70)), 0x3c00);
  EXPECT_TRUE(std::isinf(add_round_odd(INFINITY, 1.0)));
}

}  // namespace
}  // namespace gpool::emu::exec::fp
