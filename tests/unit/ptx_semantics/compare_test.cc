// Float comparisons (lower_float_compare): setp/set on f32, f64 and packed
// halves, ordered vs unordered operators with NaN, boolean combination with
// a predicate, the p|q second destination, .ftz.
#include "op_harness.h"

#include <cmath>
#include <limits>

namespace gpool::emu::exec::testing {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Lane l compares a[l % 4] with b[l % 4] over these pairs.
const float kA[4] = {1.0f, 2.0f, kNaN, -0.0f};
const float kB[4] = {2.0f, 2.0f, 1.0f, 0.0f};

struct CmpCase {
  const char* op;
  bool expect[4];  // for pairs (1,2) (2,2) (NaN,1) (-0,+0)
};

class SetpF32 : public ::testing::TestWithParam<CmpCase> {};

TEST_P(SetpF32, OrderedAndUnorderedOperators) {
  const CmpCase c = GetParam();
  Bench b;
  for (int l = 0; l < kWarpSize; ++l) {
    b.r("%a", l) = fp::bits_of(kA[l % 4]);
    b.r("%b", l) = fp::bits_of(kB[l % 4]);
  }
  b.run(std::string("setp.") + c.op + ".f32 %p1|%p2, %a, %b");
  LaneMask want = 0;
  for (int l = 0; l < kWarpSize; ++l)
    if (c.expect[l % 4]) want |= 1u << l;
  EXPECT_EQ(b.p("%p1"), want) << c.op;
  EXPECT_EQ(b.p("%p2"), ~want) << c.op;
  // The same on f64 operands.
  for (int l = 0; l < kWarpSize; ++l) {
    b.r("%da", l) = fp::bits_of(static_cast<double>(kA[l % 4]));
    b.r("%db", l) = fp::bits_of(static_cast<double>(kB[l % 4]));
  }
  b.run(std::string("setp.") + c.op + ".f64 %p3, %da, %db");
  EXPECT_EQ(b.p("%p3"), want) << c.op;
}

INSTANTIATE_TEST_SUITE_P(
    Operators, SetpF32,
    ::testing::Values(CmpCase{"eq", {false, true, false, true}}, CmpCase{"ne", {true, false, false, false}},
                      CmpCase{"lt", {true, false, false, false}}, CmpCase{"le", {true, true, false, true}},
                      CmpCase{"gt", {false, false, false, false}}, CmpCase{"ge", {false, true, false, true}},
                      CmpCase{"equ", {false, true, true, true}}, CmpCase{"neu", {true, false, true, false}},
                      CmpCase{"ltu", {true, false, true, false}}, CmpCase{"leu", {true, true, true, true}},
                      CmpCase{"gtu", {false, false, true, false}}, CmpCase{"geu", {false, true, true, true}},
                      CmpCase{"num", {true, true, false, true}}, CmpCase{"nan", {false, false, true, false}}),
    [](const auto& info) { return std::string(info.param.op); });

TEST(Setp, BoolCombinationWithPredicate) {
  Bench b;
  for (int l = 0; l < kWarpSize; ++l) {
    b.r("%a", l) = fp::bits_of(static_cast<float>(l));
    b.r("%b", l) = fp::bits_of(16.0f);
  }
  b.p("%p9") = 0x0f0f0f0fu;
  const LaneMask lt = 0x0000ffffu;  // l < 16
  b.run("setp.lt.and.f32 %p1|%p2, %a, %b, %p9");
  EXPECT_EQ(b.p("%p1"), lt & 0x0f0f0f0fu);
  EXPECT_EQ(b.p("%p2"), ~lt & 0x0f0f0f0fu);
  b.run("setp.lt.or.f32 %p1, %a, %b, !%p9");
  EXPECT_EQ(b.p("%p1"), lt | ~0x0f0f0f0fu);
  b.run("setp.lt.xor.f32 %p1, %a, %b, %p9");
  EXPECT_EQ(b.p("%p1"), lt ^ 0x0f0f0f0fu);
}

TEST(Setp, OnlyActiveLanesAreWritten) {
  Bench b;
  b.setf("%a", 1.0f);
  b.setf("%b", 2.0f);
  b.p("%p1") = 0;
  b.p("%p2") = kFullMask;
  b.run("setp.lt.f32 %p1|%p2, %a, %b", 0x000000f0u);
  EXPECT_EQ(b.p("%p1"), 0x000000f0u);
  EXPECT_EQ(b.p("%p2"), 0xffffff0fu);
}

TEST(Setp, FtzComparesSubnormalsAsZero) {
  Bench b;
  b.setf("%a", 0x1p-130f);
  b.setf("%b", 0.0f);
  b.run("setp.eq.f32 %p1, %a, %b");
  EXPECT_EQ(b.p("%p1"), 0u);
  b.run("setp.eq.ftz.f32 %p1, %a, %b");
  EXPECT_EQ(b.p("%p1"), kFullMask);
}

TEST(Setp, PackedHalvesWriteLowToPAndHighToQ) {
  Bench b;
  b.set("%a", 0x3c00u | (0x4000u << 16));  // {lo 1.0, hi 2.0}
  b.set("%b", 0x4000u | (0x3c00u << 16));  // {lo 2.0, hi 1.0}
  b.run("setp.lt.f16x2 %p1|%p2, %a, %b");
  EXPECT_EQ(b.p("%p1"), kFullMask);
  EXPECT_EQ(b.p("%p2"), 0u);
  b.set("%c", 0x3f80u | (0x7fc0u << 16));  // bf16 {1.0, NaN}
  b.set("%d", 0x3f80u | (0x3f80u << 16));
  b.run("setp.equ.bf16x2 %p1|%p2, %c, %d");
  EXPECT_EQ(b.p("%p1"), kFullMask);
  EXPECT_EQ(b.p("%p2"), kFullMask);
  b.run("setp.eq.bf16x2 %p1|%p2, %c, %d");
  EXPECT_EQ(b.p("%p1"), kFullMask);
  EXPECT_EQ(b.p("%p2"), 0u);
  b.set("%h", 0x3c00);
  b.set("%i", 0xbc00);
  b.run("setp.gt.f16 %p3, %h, %i");
  EXPECT_EQ(b.p("%p3"), kFullMask);
  EXPECT_FALSE(b.lowers("setp.lt.f16x2 %p1, %a, %b"));  // needs p|q
}

TEST(Set, WritesTypedTrueValues) {
  Bench b;
  b.setf("%a", 1.0f);
  b.setf("%b", kNaN);
  b.run("set.ltu.u32.f32 %d, %a, %b");
  EXPECT_EQ(b.r("%d"), 0xffffffffu);
  b.run("set.lt.u32.f32 %d, %a, %b");
  EXPECT_EQ(b.r("%d"), 0u);
  b.run("set.neu.f32.f32 %d, %a, %b");
  EXPECT_EQ(b.r("%d"), 0x3f800000u);
  b.p("%p1") = 0;
  b.run("set.neu.and.f32.f32 %d, %a, %b, %p1");
  EXPECT_EQ(b.r("%d"), 0u);
  b.set("%h", 0x3c00u | (0x4000u << 16));
  b.set("%i", 0x3c00u | (0x3c00u << 16));
  b.run("set.eq.f16x2.f16x2 %d, %h, %i");
  EXPECT_EQ(b.r("%d"), 0x3c00u);
  b.run("set.gt.u32.f16x2 %d, %h, %i");
  EXPECT_EQ(b.r("%d"), 0xffff0000u);
}

}  // namespace
}  // namespace gpool::emu::exec::testing
