// Warp-level ops: shfl.sync in every mode with clamps and segment masks,
// vote/ballot, match, redux, activemask, elect, under full and partial
// (divergent) masks.
#include "op_harness.h"

namespace gpool::emu::exec::testing {
namespace {

void iota(Bench& b, const char* reg, uint32_t base = 100) {
  for (int l = 0; l < kWarpSize; ++l) b.r(reg, l) = base + static_cast<uint32_t>(l);
}

// Reference for shfl (the PTX ISA's pseudo code) on a full warp.
struct Ref {
  uint32_t val;
  bool pred;
};
Ref shfl_ref(const std::string& mode, int lane, int bval, uint32_t c) {
  const int cval = static_cast<int>(c & 0x1f), seg = static_cast<int>((c >> 8) & 0x1f);
  const int maxl = (lane & seg) | (cval & ~seg), minl = lane & seg;
  int j;
  bool p;
  if (mode == "up") j = lane - bval, p = j >= maxl;
  else if (mode == "down") j = lane + bval, p = j <= maxl;
  else if (mode == "bfly") j = lane ^ bval, p = j <= maxl;
  else j = minl | (bval & ~seg), p = j <= maxl;
  if (!p) j = lane;
  return {100u + static_cast<uint32_t>(j), p};
}

TEST(Shfl, AllModesClampsAndSegments) {
  const uint32_t cs[] = {0x1f, 0x0, 0x7, 0x181f, 0x1c1f, 0x1f00, 0x0f, 0x1e03};
  for (const std::string mode : {"up", "down", "bfly", "idx"}) {
    for (uint32_t c : cs) {
      for (int bval : {0, 1, 3, 5, 16, 31}) {
        Bench b;
        iota(b, "%a");
        b.set("%b", static_cast<uint32_t>(bval));
        b.set("%c", c);
        b.run("shfl.sync." + mode + ".b32 %d|%p1, %a, %b, %c, -1");
        for (int l = 0; l < kWarpSize; ++l) {
          const Ref r = shfl_ref(mode, l, bval, c);
          ASSERT_EQ(b.r("%d", l), r.val) << mode << " c=" << c << " b=" << bval << " lane " << l;
          ASSERT_EQ((b.p("%p1") >> l) & 1, r.pred ? 1u : 0u) << mode << " lane " << l;
        }
      }
    }
  }
}

TEST(Shfl, ButterflyReductionAndAliasedOperands) {
  Bench b;
  for (int l = 0; l < kWarpSize; ++l) b.r("%v", l) = static_cast<uint32_t>(l + 1);
  // A warp sum: each step reads the other lane's value before any lane writes.
  for (int off : {16, 8, 4, 2, 1}) {
    b.run("shfl.sync.bfly.b32 %t, %v, " + std::to_string(off) + ", 31, -1");
    for (int l = 0; l < kWarpSize; ++l) b.r("%v", l) += b.r("%t", l);
  }
  for (int l = 0; l < kWarpSize; ++l) EXPECT_EQ(b.r("%v", l), 528u);
  // d aliasing a: every lane must still see the old values.
  iota(b, "%x");
  b.run("shfl.sync.down.b32 %x, %x, 1, 31, -1");
  for (int l = 0; l < 31; ++l) EXPECT_EQ(b.r("%x", l), 101u + l);
  EXPECT_EQ(b.r("%x", 31), 131u);
}

TEST(Shfl, InactiveSourceLaneGivesItsCurrentValue) {
  Bench b;
  iota(b, "%a");
  b.set("%d", 0);
  // Only even lanes run; lane 0 reads lane 1 (inactive): its register value.
  b.run("shfl.sync.idx.b32 %d, %a, 1, 31, 0x55555555", 0x55555555u);
  EXPECT_EQ(b.r("%d", 0), 101u);
  EXPECT_EQ(b.r("%d", 2), 101u);
  EXPECT_EQ(b.r("%d", 1), 0u);  // not active: untouched
}

TEST(Vote, AllAnyUniBallotFullAndPartial) {
  Bench b;
  b.p("%p1") = 0x0000ffffu;
  b.run("vote.sync.ballot.b32 %d, %p1, -1");
  EXPECT_EQ(b.r("%d", 7), 0x0000ffffu);
  b.run("vote.sync.ballot.b32 %d, !%p1, -1");
  EXPECT_EQ(b.r("%d", 7), 0xffff0000u);
  b.run("vote.sync.any.pred %p2, %p1, -1");
  EXPECT_EQ(b.p("%p2"), kFullMask);
  b.run("vote.sync.all.pred %p2, %p1, -1");
  EXPECT_EQ(b.p("%p2"), 0u);
  b.run("vote.sync.uni.pred %p2, %p1, -1");
  EXPECT_EQ(b.p("%p2"), 0u);
  // Divergent: only the lanes where %p1 holds run, with their own mask.
  b.p("%p3") = 0;
  b.run("vote.sync.all.pred %p3, %p1, 0x0000ffff", 0x0000ffffu);
  EXPECT_EQ(b.p("%p3"), 0x0000ffffu);
  b.run("vote.sync.uni.pred %p3, %p1, 0x0000ffff", 0x0000ffffu);
  EXPECT_EQ(b.p("%p3"), 0x0000ffffu);
  // Ballot over a subgroup: bits only for lanes in the membermask.
  b.run("vote.sync.ballot.b32 %e, %p1, 0x00ff00ff");
  EXPECT_EQ(b.r("%e", 0), 0x000000ffu);
  // Membermask lanes that are not active contribute nothing.
  b.run("vote.sync.ballot.b32 %e, %p1, -1", 0x0000000fu);
  EXPECT_EQ(b.r("%e", 0), 0x0000000fu);
  // Legacy non-.sync form votes over the active lanes.
  b.run("vote.all.pred %p4, %p1", 0x000000ffu);
  EXPECT_EQ(b.p("%p4") & 0xffu, 0xffu);
}

TEST(Match, AnyAndAll) {
  Bench b;
  for (int l = 0; l < kWarpSize; ++l) b.r("%v", l) = static_cast<uint32_t>(l % 4);
  b.run("match.any.sync.b32 %d, %v, -1");
  for (int l = 0; l < kWarpSize; ++l) EXPECT_EQ(b.r("%d", l), 0x11111111u << (l % 4)) << l;
  b.run("match.all.sync.b32 %d|%p1, %v, -1");
  EXPECT_EQ(b.r("%d", 3), 0u);
  EXPECT_EQ(b.p("%p1"), 0u);
  b.run("match.all.sync.b32 %d|%p1, %v, 0x11111111", 0x11111111u);
  EXPECT_EQ(b.r("%d", 4), 0x11111111u);
  EXPECT_EQ(b.p("%p1"), 0x11111111u);
  // 64-bit values compare all 64 bits.
  for (int l = 0; l < kWarpSize; ++l) b.r("%w", l) = (static_cast<uint64_t>(l & 1) << 40) | 5;
  b.run("match.any.sync.b64 %d, %w, -1");
  EXPECT_EQ(b.r("%d", 0), 0x55555555u);
  EXPECT_EQ(b.r("%d", 1), 0xaaaaaaaau);
}

TEST(Redux, IntegerOpsFullAndPartial) {
  Bench b;
  for (int l = 0; l < kWarpSize; ++l) b.r("%v", l) = static_cast<uint32_t>(l - 10);  // -10 .. 21
  b.run("redux.sync.add.s32 %d, %v, -1");
  EXPECT_EQ(static_cast<int32_t>(b.r("%d", 0)), 176);
  b.run("redux.sync.min.s32 %d, %v, -1");
  EXPECT_EQ(static_cast<int32_t>(b.r("%d", 9)), -10);
  b.run("redux.sync.max.u32 %d, %v, -1");
  EXPECT_EQ(b.r("%d", 3), static_cast<uint32_t>(-1));  // -1 is the largest unsigned
  b.run("redux.sync.max.s32 %d, %v, -1");
  EXPECT_EQ(b.r("%d", 3), 21u);
  b.run("redux.sync.or.b32 %d, %v, 0x0000000f", 0x0000000fu);
  EXPECT_EQ(b.r("%d", 0), static_cast<uint32_t>(-10 | -9 | -8 | -7));
  b.run("redux.sync.xor.b32 %d, %v, 0xf0000000", 0xf0000000u);
  EXPECT_EQ(b.r("%d", 28), 18u ^ 19u ^ 20u ^ 21u);
  b.run("redux.sync.and.b32 %d, %v, -1");
  EXPECT_EQ(b.r("%d", 0), 0u);
  for (int l = 0; l < kWarpSize; ++l) b.r("%f", l) = fp::bits_of(static_cast<float>(l) - 3.5f);
  b.run("redux.sync.min.abs.f32 %d, %f, -1");
  EXPECT_EQ(b.f("%d"), 0.5f);
  EXPECT_FALSE(b.lowers("redux.sync.add.b32 %d, %v, -1"));
}

TEST(Activemask, ReportsExecutingLanes) {
  Bench b;
  b.run("activemask.b32 %m", 0x00f0f0f1u);
  EXPECT_EQ(b.r("%m", 0), 0x00f0f0f1u);
  EXPECT_EQ(b.r("%m", 1), 0u);
}

TEST(Elect, LowestMemberLeads) {
  Bench b;
  b.run("elect.sync %r|%p1, -1", 0xfff0u);
  EXPECT_EQ(b.p("%p1") & 0xfff0u, 0x10u);
  EXPECT_EQ(b.r("%r", 8), 4u);
}

}  // namespace
}  // namespace gpool::emu::exec::testing
