// Float arithmetic handlers through their lowerers (op_harness.h): rounding
// modes checked against an exact integer reference, .ftz/.sat, half types,
// min/max/abs/neg/copysign/testp and the approximate functions within the
// PTX ISA's documented error bounds.
#include "op_harness.h"

#include <cfenv>
#include <cmath>
#include <random>

namespace gpool::emu::exec::testing {
namespace {

using fp::Rnd;

const char* kRndName[] = {"rn", "rz", "rm", "rp"};

// Exact value (-1)^neg * m * 2^e rounded into f (m may exceed 64 bits).
uint64_t pack128(const fp::Format& f, bool neg, unsigned __int128 m, int e, Rnd r) {
  bool sticky = false;
  while (m >> 64) {
    sticky = sticky || (m & 1);
    m >>= 1;
    ++e;
  }
  return fp::round_pack(f, neg, static_cast<uint64_t>(m), e, sticky, r);
}

// Exact reference for add/sub/mul/fma on finite, nonzero inputs whose
// exponents are close enough for the aligned sum to fit in 128 bits.
uint64_t reference(const fp::Format& f, const std::string& op, uint64_t a, uint64_t b, uint64_t c, Rnd r) {
  fp::Unpacked x = fp::unpack(f, a), y = fp::unpack(f, b), z = fp::unpack(f, c);
  struct Term {
    __int128 m;
    int e;
  };
  auto sum = [&](Term p, Term q) {
    int e = std::min(p.e, q.e);
    __int128 s = (p.m << (p.e - e)) + (q.m << (q.e - e));
    bool neg = s < 0;
    unsigned __int128 mag = neg ? static_cast<unsigned __int128>(-s) : static_cast<unsigned __int128>(s);
    if (mag == 0) return (r == Rnd::RM) ? f.sign_bit() : uint64_t{0};
    return pack128(f, neg, mag, e, r);
  };
  const Term tx{x.neg ? -static_cast<__int128>(x.mant) : static_cast<__int128>(x.mant), x.exp};
  const Term ty{y.neg ? -static_cast<__int128>(y.mant) : static_cast<__int128>(y.mant), y.exp};
  if (op == "add") return sum(tx, ty);
  if (op == "sub") return sum(tx, Term{-ty.m, ty.e});
  const unsigned __int128 p = static_cast<unsigned __int128>(x.mant) * y.mant;
  if (op == "mul") return pack128(f, x.neg != y.neg, p, x.exp + y.exp, r);
  const Term tp{(x.neg != y.neg) ? -static_cast<__int128>(p) : static_cast<__int128>(p), x.exp + y.exp};
  const Term tz{z.neg ? -static_cast<__int128>(z.mant) : static_cast<__int128>(z.mant), z.exp};
  return sum(tp, tz);
}

// Random finite nonzero values with unbiased exponents in [lo, hi].
uint64_t random_value(std::mt19937_64& rng, const fp::Format& f, int lo, int hi) {
  const uint64_t frac = rng() & f.frac_mask();
  const uint64_t e = static_cast<uint64_t>(lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1)) + f.bias());
  return ((rng() & 1) ? f.sign_bit() : 0) | (e << f.mbits) | frac;
}

struct ArithCase {
  const char* type;
  const fp::Format* fmt;
  int exp_range;  // operands' exponents in [-exp_range, exp_range]: keeps the reference in 128 bits
};

class RoundingModes : public ::testing::TestWithParam<ArithCase> {};

TEST_P(RoundingModes, AddSubMulFmaMatchExactReference) {
  const ArithCase tc = GetParam();
  std::mt19937_64 rng(7);
  for (const std::string op : {"add", "sub", "mul", "fma"}) {
    for (int rm = 0; rm < 4; ++rm) {
      Bench b;
      const bool ternary = op == "fma";
      for (int l = 0; l < kWarpSize; ++l) {
        b.r("%a", l) = random_value(rng, *tc.fmt, -tc.exp_range, tc.exp_range);
        b.r("%b", l) = random_value(rng, *tc.fmt, -tc.exp_range, tc.exp_range);
        b.r("%c", l) = random_value(rng, *tc.fmt, -tc.exp_range, tc.exp_range);
      }
      const std::string text = op + "." + kRndName[rm] + "." + tc.type + " %d, %a, %b" + (ternary ? ", %c" : "");
      b.run(text);
      for (int l = 0; l < kWarpSize; ++l) {
        const uint64_t want = reference(*tc.fmt, op, b.r("%a", l), b.r("%b", l), b.r("%c", l), static_cast<Rnd>(rm));
        ASSERT_EQ(b.r("%d", l), want) << text << " lane " << l << std::hex << " a=" << b.r("%a", l)
                                      << " b=" << b.r("%b", l) << " c=" << b.r("%c", l);
      }
    }
  }
  EXPECT_EQ(std::fegetround(), FE_TONEAREST) << "handlers must restore the host rounding mode";
}

INSTANTIATE_TEST_SUITE_P(FloatTypes, RoundingModes,
                         ::testing::Values(ArithCase{"f32", &fp::kF32, 20}, ArithCase{"f64", &fp::kF64, 4}),
                         [](const auto& info) { return std::string(info.param.type); });

TEST(FloatArith, SubnormalResultsAndFtz) {
  Bench b;
  // 2^-126 * 0.5 is subnormal: kept without .ftz, flushed (sign kept) with it.
  EXPECT_EQ(b.f32_op("mul.rn.f32", 0x1p-126f, 0.5f), fp::bits_of(0x1p-127f));
  EXPECT_EQ(b.f32_op("mul.rn.ftz.f32", 0x1p-126f, -0.5f), 0x80000000u);
  // A subnormal input is read as zero with .ftz.
  EXPECT_EQ(b.f32_op("add.ftz.f32", 0x1p-130f, 0.0f), 0u);
  EXPECT_EQ(b.f32_op("add.f32", 0x1p-130f, 0.0f), fp::bits_of(0x1p-130f));
  EXPECT_EQ(b.f32_op("add.rz.ftz.f32", -0x1p-130f, -0.0f), 0x80000000u);
}

TEST(FloatArith, SaturateClampsAndZeroesNaN) {
  Bench b;
  EXPECT_EQ(b.f32_op("add.sat.f32", 0.75f, 0.5f), fp::bits_of(1.0f));
  EXPECT_EQ(b.f32_op("add.sat.f32", -0.75f, 0.5f), 0u);
  EXPECT_EQ(b.f32_op("mul.sat.f32", 0.25f, 2.0f), fp::bits_of(0.5f));
  EXPECT_EQ(b.f32_op("add.sat.f32", INFINITY, -INFINITY), 0u);  // NaN -> +0
}

TEST(FloatArith, NaNResultsAreCanonical) {
  Bench b;
  EXPECT_EQ(b.f32_op("add.f32", std::bit_cast<float>(0xffc01234u), 1.0f), 0x7fffffffu);
  EXPECT_EQ(b.f32_op("mul.rz.f32", 0.0f, INFINITY), 0x7fffffffu);
}

TEST(FloatArith, ImmediateOperandsAndPartialMask) {
  Bench b;
  b.setf("%x", 2.0f);
  b.setf("%y", -1.0f);
  b.run("fma.rn.f32 %y, %x, 0f40400000, 0f3F800000", 0x0000ff00u);  // 2*3+1 on lanes 8..15
  for (int l = 0; l < kWarpSize; ++l) EXPECT_EQ(b.f("%y", l), (l >= 8 && l < 16) ? 7.0f : -1.0f) << l;
}

TEST(FloatArith, DivisionForms) {
  Bench b;
  EXPECT_EQ(b.f32_op("div.rn.f32", 1.0f, 3.0f), fp::bits_of(1.0f / 3.0f));
  EXPECT_EQ(b.f32_op("div.rz.f32", 1.0f, 3.0f), 0x3eaaaaaau);
  EXPECT_EQ(b.f32_op("div.rp.f32", 1.0f, 3.0f), 0x3eaaaaabu);
  EXPECT_EQ(b.f32_op("div.full.f32", 10.0f, 4.0f), fp::bits_of(2.5f));
  // div.approx: within 2 ulp, and 0 for 2^126 < |b| < 2^128.
  const float q = fp::f32_from_bits(b.f32_op("div.approx.f32", 1.0f, 3.0f));
  EXPECT_LE(std::fabs(q - 1.0f / 3.0f), 2 * std::nextafter(1.0f / 3.0f, 1.0f) - 2 * (1.0f / 3.0f));
  EXPECT_EQ(b.f32_op("div.approx.f32", 5.0f, 0x1.8p126f), 0u);
  EXPECT_EQ(b.f32_op("div.approx.f32", INFINITY, 0x1.8p126f), 0x7fffffffu);
  b.setd("%p0d", 1.0);
  b.setd("%q0d", 3.0);
  b.run("div.rm.f64 %r0d, %p0d, %q0d");
  EXPECT_EQ(b.r("%r0d"), 0x3fd5555555555555ull);
  b.run("div.rp.f64 %r0d, %p0d, %q0d");
  EXPECT_EQ(b.r("%r0d"), 0x3fd5555555555556ull);
}

TEST(FloatArith, DirectedDivSqrtRcpMatchHostInSameMode) {
  std::mt19937_64 rng(11);
  const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
  for (int rm = 0; rm < 4; ++rm) {
    Bench b;
    for (int l = 0; l < kWarpSize; ++l) {
      b.r("%a", l) = random_value(rng, fp::kF32, -60, 60);
      b.r("%b", l) = random_value(rng, fp::kF32, -60, 60) & 0x7fffffffu;
    }
    b.run(std::string("div.") + kRndName[rm] + ".f32 %q, %a, %b");
    b.run(std::string("sqrt.") + kRndName[rm] + ".f32 %s, %b");
    b.run(std::string("rcp.") + kRndName[rm] + ".f32 %i, %a");
    for (int l = 0; l < kWarpSize; ++l) {
      // Reference: double in the same directed mode, then to float in that
      // mode (same-direction double rounding is exact).
      std::fesetround(modes[rm]);
      volatile double x = b.f("%a", l), y = b.f("%b", l);
      volatile double qd = x / y, sd = std::sqrt(y), id = 1.0 / x;
      volatile float q = static_cast<float>(qd), s = static_cast<float>(sd), i = static_cast<float>(id);
      std::fesetround(FE_TONEAREST);
      ASSERT_EQ(b.r("%q", l), fp::bits_of(static_cast<float>(q))) << rm << " lane " << l;
      ASSERT_EQ(b.r("%s", l), fp::bits_of(static_cast<float>(s))) << rm << " lane " << l;
      ASSERT_EQ(b.r("%i", l), fp::bits_of(static_cast<float>(i))) << rm << " lane " << l;
    }
  }
}

TEST(HalfArith, F16AndBF16MatchExactReference) {
  std::mt19937_64 rng(5);
  for (const std::string op : {"add", "sub", "mul", "fma"}) {
    for (const bool bf : {false, true}) {
      const fp::Format& F = bf ? fp::kBF16 : fp::kF16;
      Bench b;
      for (int l = 0; l < kWarpSize; ++l) {
        b.r("%a", l) = random_value(rng, F, -8, 8) | (random_value(rng, F, -8, 8) << 16);
        b.r("%b", l) = random_value(rng, F, -8, 8) | (random_value(rng, F, -8, 8) << 16);
        b.r("%c", l) = random_value(rng, F, -8, 8) | (random_value(rng, F, -8, 8) << 16);
      }
      const std::string t = bf ? "bf16x2" : "f16x2";
      const std::string text = op + ".rn." + t + " %d, %a, %b" + (op == "fma" ? ", %c" : "");
      b.run(text);
      for (int l = 0; l < kWarpSize; ++l) {
        for (int h = 0; h < 2; ++h) {
          auto half = [&](const char* n) { return (b.r(n, l) >> (16 * h)) & 0xffff; };
          const uint64_t want = reference(F, op, half("%a"), half("%b"), half("%c"), Rnd::RN);
          ASSERT_EQ((b.r("%d", l) >> (16 * h)) & 0xffff, want) << text << " lane " << l << " half " << h;
        }
      }
    }
  }
}

TEST(HalfArith, ScalarFormsSatFtzRelu) {
  Bench b;
  b.set("%a", 0x3c00);  // 1.0
  b.set("%b", 0x3800);  // 0.5
  b.run("add.f16 %d, %a, %b");
  EXPECT_EQ(b.r("%d"), 0x3e00u);  // 1.5
  b.run("add.sat.f16 %d, %a, %b");
  EXPECT_EQ(b.r("%d"), 0x3c00u);  // clamped to 1.0
  b.set("%n", 0xbc00);  // -1.0
  b.run("fma.rn.relu.f16 %d, %n, %b, %b");  // -0.5 + 0.5... -1*0.5+0.5 = 0
  EXPECT_EQ(b.r("%d"), 0x0000u);
  b.run("fma.rn.relu.f16 %d, %n, %a, %b");  // -0.5 -> 0
  EXPECT_EQ(b.r("%d"), 0x0000u);
  b.set("%s", 0x0001);  // f16 subnormal
  b.run("mul.ftz.f16 %d, %s, %a");
  EXPECT_EQ(b.r("%d"), 0x0000u);
  b.run("mul.f16 %d, %s, %a");
  EXPECT_EQ(b.r("%d"), 0x0001u);
  b.set("%x", 0x3f80);  // bf16 1.0
  b.run("mul.rn.bf16 %d, %x, %x");
  EXPECT_EQ(b.r("%d"), 0x3f80u);
  EXPECT_FALSE(b.lowers("add.rz.f16 %d, %a, %b"));
  EXPECT_FALSE(b.lowers("add.sat.bf16 %d, %a, %b"));
  EXPECT_FALSE(b.lowers("div.rn.f16 %d, %a, %b"));
}

TEST(MinMax, NaNZerosAndXorSign) {
  Bench b;
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(b.f32_op("min.f32", 1.0f, qnan), fp::bits_of(1.0f));
  EXPECT_EQ(b.f32_op("max.f32", qnan, -3.0f), fp::bits_of(-3.0f));
  EXPECT_EQ(b.f32_op("min.f32", qnan, qnan), 0x7fffffffu);
  EXPECT_EQ(b.f32_op("min.NaN.f32", 1.0f, qnan), 0x7fffffffu);
  EXPECT_EQ(b.f32_op("min.f32", 0.0f, -0.0f), 0x80000000u);
  EXPECT_EQ(b.f32_op("max.f32", -0.0f, 0.0f), 0u);
  EXPECT_EQ(b.f32_op("min.xorsign.abs.f32", -2.0f, 3.0f), fp::bits_of(-2.0f));
  EXPECT_EQ(b.f32_op("max.xorsign.abs.f32", -2.0f, -3.0f), fp::bits_of(3.0f));
  EXPECT_EQ(b.f32_op("min.ftz.f32", 0x1p-130f, 0x1p-131f), 0u);
  b.set("%ha", 0x3c00 | (0x7e00u << 16));  // {1.0, NaN}
  b.set("%hb", 0xc000 | (0x4000u << 16));  // {-2.0, 2.0}
  b.run("max.f16x2 %hd, %ha, %hb");
  EXPECT_EQ(b.r("%hd"), 0x3c00u | (0x4000u << 16));
  b.run("max.NaN.f16x2 %hd, %ha, %hb");
  EXPECT_EQ(b.r("%hd"), 0x3c00u | (0x7fffu << 16));
  b.setd("%da", -1.5);
  b.setd("%db", 2.5);
  b.run("min.f64 %dd, %da, %db");
  EXPECT_EQ(b.d("%dd"), -1.5);
}

TEST(Unary, AbsNegCopysignTestp) {
  Bench b;
  b.setf("%a", -0x1p-130f);
  b.run("abs.f32 %d, %a");
  EXPECT_EQ(b.f("%d"), 0x1p-130f);
  b.run("abs.ftz.f32 %d, %a");
  EXPECT_EQ(b.r("%d"), 0u);
  b.run("neg.ftz.f32 %d, %a");
  EXPECT_EQ(b.r("%d"), 0u);  // flushed to -0, negated
  b.run("neg.f32 %d, %a");
  EXPECT_EQ(b.f("%d"), 0x1p-130f);
  b.set("%h", 0xbc00);
  b.run("abs.f16 %e, %h");
  EXPECT_EQ(b.r("%e"), 0x3c00u);
  b.run("neg.bf16x2 %e, %h");
  EXPECT_EQ(b.r("%e"), 0x3c00u | 0x80000000u);
  b.setf("%x", -1.0f);
  b.setf("%y", 5.0f);
  b.run("copysign.f32 %z, %x, %y");
  EXPECT_EQ(b.f("%z"), -5.0f);

  const float vals[] = {1.0f, 0x1p-130f, INFINITY, -INFINITY, std::numeric_limits<float>::quiet_NaN(), 0.0f};
  for (int l = 0; l < kWarpSize; ++l) b.r("%t", l) = fp::bits_of(vals[l % 6]);
  auto lanes = [](std::initializer_list<int> which) {
    LaneMask m = 0;
    for (int l = 0; l < kWarpSize; ++l)
      for (int w : which)
        if (l % 6 == w) m |= 1u << l;
    return m;
  };
  b.run("testp.finite.f32 %p1, %t");
  EXPECT_EQ(b.p("%p1"), lanes({0, 1, 5}));
  b.run("testp.infinite.f32 %p1, %t");
  EXPECT_EQ(b.p("%p1"), lanes({2, 3}));
  b.run("testp.notanumber.f32 %p1, %t");
  EXPECT_EQ(b.p("%p1"), lanes({4}));
  b.run("testp.number.f32 %p1, %t");
  EXPECT_EQ(b.p("%p1"), lanes({0, 1, 2, 3, 5}));
  b.run("testp.normal.f32 %p1, %t");
  EXPECT_EQ(b.p("%p1"), lanes({0}));
  b.run("testp.subnormal.f32 %p1, %t");
  EXPECT_EQ(b.p("%p1"), lanes({1}));
}

// Relative distance in ulps of f32 result r from the exact value x.
double ulps(float r, double x) {
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(x)) - 23);
  return std::fabs(r - x) / ulp;
}

TEST(Approx, WithinDocumentedErrorBounds) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> angle(-100 * 3.14159265f, 100 * 3.14159265f);
  std::uniform_real_distribution<float> expo(-100.0f, 100.0f);
  std::uniform_real_distribution<float> pos(1e-30f, 1e30f);
  std::uniform_real_distribution<float> small(-8.0f, 8.0f);
  Bench b;
  for (int l = 0; l < kWarpSize; ++l) {
    b.r("%ang", l) = fp::bits_of(angle(rng));
    b.r("%e", l) = fp::bits_of(expo(rng));
    b.r("%p", l) = fp::bits_of(pos(rng) * (l % 3 == 0 ? 1e-20f : 1.0f));
    b.r("%s", l) = fp::bits_of(small(rng));
  }
  b.run("sin.approx.f32 %o1, %ang");
  b.run("cos.approx.ftz.f32 %o2, %ang");
  b.run("ex2.approx.f32 %o3, %e");
  b.run("lg2.approx.f32 %o4, %p");
  b.run("rsqrt.approx.f32 %o5, %p");
  b.run("rcp.approx.f32 %o6, %p");
  b.run("tanh.approx.f32 %o7, %s");
  b.run("sqrt.approx.f32 %o8, %p");
  for (int l = 0; l < kWarpSize; ++l) {
    const double ang = b.f("%ang", l), e = b.f("%e", l), p = b.f("%p", l), s = b.f("%s", l);
    EXPECT_LE(std::fabs(b.f("%o1", l) - std::sin(ang)), std::ldexp(1.0, -20) * 0.54);  // 2^-20.9
    EXPECT_LE(std::fabs(b.f("%o2", l) - std::cos(ang)), std::ldexp(1.0, -20) * 0.54);
    EXPECT_LE(ulps(b.f("%o3", l), std::exp2(e)), 2.0);
    // lg2: 2^-22.6 absolute on the mantissa's log, plus the result's own rounding.
    EXPECT_LE(std::fabs(b.f("%o4", l) - std::log2(p)),
              std::ldexp(1.0, -22) + std::ldexp(1.0, std::ilogb(b.f("%o4", l)) - 24));
    EXPECT_LE(std::fabs(b.f("%o5", l) * std::sqrt(p) - 1.0), std::ldexp(1.0, -22));  // 2^-22.9 rel
    EXPECT_LE(ulps(b.f("%o6", l), 1.0 / p), 1.0);
    EXPECT_LE(std::fabs(b.f("%o7", l) - std::tanh(s)), std::ldexp(std::fabs(std::tanh(s)), -11));
    EXPECT_LE(std::fabs(b.f("%o8", l) / std::sqrt(p) - 1.0), std::ldexp(1.0, -23));
  }
  // Special values.
  b.setf("%z", 0.0f);
  b.run("lg2.approx.f32 %o, %z");
  EXPECT_EQ(b.f("%o"), -INFINITY);
  b.setf("%z", -1.0f);
  b.run("lg2.approx.f32 %o, %z");
  EXPECT_EQ(b.r("%o"), 0x7fffffffu);
  b.setf("%z", -0.0f);
  b.run("rsqrt.approx.f32 %o, %z");
  EXPECT_EQ(b.f("%o"), -INFINITY);
  b.setf("%z", 0x1p-130f);
  b.run("lg2.approx.ftz.f32 %o, %z");
  EXPECT_EQ(b.f("%o"), -INFINITY);
  b.setf("%z", -200.0f);
  b.run("ex2.approx.ftz.f32 %o, %z");
  EXPECT_EQ(b.r("%o"), 0u);
  b.run("ex2.approx.f32 %o, %z");
  EXPECT_EQ(b.r("%o"), 0u);  // 2^-200 underflows f32 to 0 either way
  b.set("%h", 0x4000);  // f16 2.0
  b.run("ex2.approx.f16 %o, %h");
  EXPECT_EQ(b.r("%o"), 0x4400u);  // 4.0
  b.set("%h", 0x3f80 | (0x4000u << 16));  // bf16 {1.0, 2.0}
  b.run("ex2.approx.ftz.bf16x2 %o, %h");
  EXPECT_EQ(b.r("%o"), 0x4000u | (0x4080u << 16));
  b.setd("%dd", 4.0);
  b.run("rcp.approx.ftz.f64 %do, %dd");
  EXPECT_EQ(b.d("%do"), 0.25);
  b.run("rsqrt.approx.f64 %do, %dd");
  EXPECT_EQ(b.d("%do"), 0.5);
  EXPECT_FALSE(b.lowers("sin.approx.f64 %do, %dd"));
  EXPECT_FALSE(b.lowers("rcp.approx.f64 %do, %dd"));
}

}  // namespace
}  // namespace gpool::emu::exec::testing
