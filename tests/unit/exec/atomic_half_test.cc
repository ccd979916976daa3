// atom.add.noftz on f16, bf16, f16x2 and bf16x2 and atom.cas.b16, as cuSPARSE's half-precision
// SpMM kernels use them (written as nvcc's cuda_fp16.hpp does: generic addresses, .b16 registers).
// Each lane adds its own operand to its own location, so the expected sums are single roundings:
// ties to even, subnormals kept (.noftz), overflow to infinity; the old value comes back. A
// contended kernel adds from all 32 lanes to one location in global and in shared memory.
#include "exec_test_util.h"

#include <cstdint>

namespace gpool::emu::exec::test {
namespace {

const char* kAtomics = R"(
.visible .entry add16(.param .u64 mem, .param .u64 vals, .param .u64 olds, .param .u32 bf)
{
  .reg .pred %p<2>;
  .reg .b16 %rs<4>;
  .reg .b32 %r<4>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [mem];
  ld.param.u64 %rd2, [vals];
  ld.param.u64 %rd3, [olds];
  ld.param.u32 %r2, [bf];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd4, %r1, 2;
  add.s64 %rd5, %rd1, %rd4;
  add.s64 %rd6, %rd2, %rd4;
  add.s64 %rd7, %rd3, %rd4;
  ld.global.u16 %rs1, [%rd6];
  setp.ne.u32 %p1, %r2, 0;
  @%p1 bra BF;
  { atom.add.noftz.f16 %rs2,[%rd5],%rs1; }
  bra.uni DONE;
BF:
  { atom.add.noftz.bf16 %rs2,[%rd5],%rs1; }
DONE:
  st.global.u16 [%rd7], %rs2;
  ret;
}

.visible .entry add16x2(.param .u64 mem, .param .u64 vals, .param .u64 olds, .param .u32 bf)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [mem];
  ld.param.u64 %rd2, [vals];
  ld.param.u64 %rd3, [olds];
  ld.param.u32 %r2, [bf];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd4, %r1, 4;
  add.s64 %rd5, %rd1, %rd4;
  add.s64 %rd6, %rd2, %rd4;
  add.s64 %rd7, %rd3, %rd4;
  ld.global.u32 %r3, [%rd6];
  setp.ne.u32 %p1, %r2, 0;
  @%p1 bra BF;
  { atom.add.noftz.f16x2 %r4,[%rd5],%r3; }
  bra.uni DONE;
BF:
  { atom.global.add.noftz.bf16x2 %r4,[%rd5],%r3; }
DONE:
  st.global.u32 [%rd7], %r4;
  ret;
}

// All lanes add 1.0 (f16 0x3c00) to out[0] in global memory, and 1.0 | 0.5 << 16 as f16x2 to a
// shared word that lane 0 copies to out[1] afterwards.
.visible .entry contended(.param .u64 out)
{
  .reg .pred %p<2>;
  .reg .b16 %rs<4>;
  .reg .b32 %r<6>;
  .reg .b64 %rd<4>;
  .shared .align 4 .b32 acc;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  setp.eq.u32 %p1, %r1, 0;
  @%p1 st.shared.u32 [acc], 0;
  bar.sync 0;
  mov.b16 %rs1, 0x3c00;
  atom.global.add.noftz.f16 %rs2, [%rd1], %rs1;
  mov.b32 %r2, 0x38003c00;
  atom.shared.add.noftz.f16x2 %r3, [acc], %r2;
  bar.sync 0;
  @!%p1 bra END;
  ld.shared.u32 %r4, [acc];
  st.global.u32 [%rd1+4], %r4;
END:
  ret;
}

// cas.b16 on the low halfword of a word: succeeds when it holds `cmp`, leaves the high one alone.
.visible .entry cas16(.param .u64 mem, .param .u64 old, .param .u32 cmp)
{
  .reg .b16 %rs<4>;
  .reg .b32 %r<2>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [mem];
  ld.param.u64 %rd2, [old];
  ld.param.u32 %r1, [cmp];
  cvt.u16.u32 %rs1, %r1;
  mov.b16 %rs2, 0x1234;
  atom.global.cas.b16 %rs3, [%rd1], %rs1, %rs2;
  st.global.u16 [%rd2], %rs3;
  ret;
}
)";

struct Case {
  uint16_t mem, val, want;
};

void run_add16(bool bf, const std::vector<Case>& cases) {
  std::string err;
  auto p = build_ptx(ptx_module(kAtomics), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  uint32_t n = static_cast<uint32_t>(cases.size());
  auto* m = mem.alloc<uint16_t>(n);
  auto* v = mem.alloc<uint16_t>(n);
  auto* o = mem.alloc<uint16_t>(n, 0xdead);
  for (uint32_t i = 0; i < n; ++i) {
    m[i] = cases[i].mem;
    v[i] = cases[i].val;
  }
  auto r = run(*p, "add16", Launch{{1, 1, 1}, {n, 1, 1}}, {m, v, o, bf ? 1u : 0u}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(m[i], cases[i].want) << (bf ? "bf16" : "f16") << " case " << i;
    EXPECT_EQ(o[i], cases[i].mem) << "old value, case " << i;
  }
}

TEST(ExecAtomicHalf, AddF16RoundsOnceToNearestEven) {
  run_add16(false, {
      {0x3c00, 0x3c00, 0x4000},  // 1 + 1 = 2
      {0x3c00, 0x1000, 0x3c00},  // 1 + 2^-11 (half an ulp): tie, stays at the even 1
      {0x3c01, 0x1000, 0x3c02},  // (1 + 2^-10) + 2^-11: tie, goes up to the even 1 + 2^-9
      {0x3c00, 0x1001, 0x3c01},  // just over half an ulp rounds up
      {0x0001, 0x0001, 0x0002},  // 2^-24 + 2^-24: subnormals are kept (.noftz)
      {0x7bff, 0x7bff, 0x7c00},  // 65504 + 65504 overflows to +inf
      {0x4500, 0xc500, 0x0000},  // 5 + -5 = +0
      {0xbc00, 0x3800, 0xb800},  // -1 + 0.5 = -0.5
  });
}

TEST(ExecAtomicHalf, AddBF16RoundsOnceToNearestEven) {
  run_add16(true, {
      {0x3f80, 0x3f80, 0x4000},  // 1 + 1 = 2
      {0x3f80, 0x3b80, 0x3f80},  // 1 + 2^-8 (half an ulp): tie, stays at 1
      {0x3f81, 0x3b80, 0x3f82},  // (1 + 2^-7) + 2^-8: tie, up to the even neighbour
      {0x0001, 0x0001, 0x0002},  // the smallest subnormal doubled (kept)
      {0x4040, 0xbf80, 0x4000},  // 3 + -1 = 2
      {0x7f7f, 0x7f7f, 0x7f80},  // the largest finite value doubled: +inf
  });
}

TEST(ExecAtomicHalf, AddPairsUpdateBothHalves) {
  std::string err;
  auto p = build_ptx(ptx_module(kAtomics), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  for (bool bf : {false, true}) {
    auto* m = mem.alloc<uint32_t>(2);
    auto* v = mem.alloc<uint32_t>(2);
    auto* o = mem.alloc<uint32_t>(2);
    // f16: (1, 2) + (1, 2^-11 tie) and (0.5, -1) + (0.25, 1); bf16: the same values encoded.
    if (!bf) {
      m[0] = 0x3c00 | 0x4000u << 16, v[0] = 0x3c00 | 0x1000u << 16;
      m[1] = 0x3800 | 0xbc00u << 16, v[1] = 0x3400 | 0x3c00u << 16;
    } else {
      m[0] = 0x3f80 | 0x4000u << 16, v[0] = 0x3f80 | 0x3b80u << 16;
      m[1] = 0x3f00 | 0xbf80u << 16, v[1] = 0x3e80 | 0x3f80u << 16;
    }
    uint32_t before[2] = {m[0], m[1]};
    auto r = run(*p, "add16x2", Launch{{1, 1, 1}, {2, 1, 1}}, {m, v, o, bf ? 1u : 0u}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
    if (!bf) {
      EXPECT_EQ(m[0], 0x4000 | 0x4000u << 16);  // 2, and 2 + 2^-11 rounds back to 2
      EXPECT_EQ(m[1], 0x3a00 | 0x0000u << 16);  // 0.75, and -1 + 1 = +0
    } else {
      EXPECT_EQ(m[0], 0x4000 | 0x4000u << 16);
      EXPECT_EQ(m[1], 0x3f40 | 0x0000u << 16);
    }
    EXPECT_EQ(o[0], before[0]);
    EXPECT_EQ(o[1], before[1]);
  }
}

TEST(ExecAtomicHalf, ContendedAddsFromAWholeWarp) {
  std::string err;
  auto p = build_ptx(ptx_module(kAtomics), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint16_t>(4, 0);
  auto r = run(*p, "contended", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(out[0], 0x5000);  // 32.0
  EXPECT_EQ(out[2], 0x5000);  // 32 x 1.0 in the low half (shared f16x2)
  EXPECT_EQ(out[3], 0x4c00);  // 32 x 0.5 = 16.0 in the high half
}

TEST(ExecAtomicHalf, CasB16TouchesOnlyItsHalfword) {
  std::string err;
  auto p = build_ptx(ptx_module(kAtomics), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* m = mem.alloc<uint16_t>(2);
  auto* old = mem.alloc<uint16_t>(1);
  m[0] = 0x7777;
  m[1] = 0xabcd;
  auto r = run(*p, "cas16", Launch{{1, 1, 1}, {1, 1, 1}}, {m, old, 0x1111u}, mem);  // compare fails
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(m[0], 0x7777);
  EXPECT_EQ(old[0], 0x7777);
  r = run(*p, "cas16", Launch{{1, 1, 1}, {1, 1, 1}}, {m, old, 0x7777u}, mem);  // succeeds
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(m[0], 0x1234);
  EXPECT_EQ(old[0], 0x7777);
  EXPECT_EQ(m[1], 0xabcd);
}

TEST(ExecAtomicHalf, FormsOutsideTheIsaAreRefused) {
  // add without .noftz, min on f16, add on b16: not in the ISA, refused by name at load.
  for (const char* form : {"atom.global.add.f16 %rs2, [%rd1], %rs1;", "atom.global.min.noftz.f16 %rs2, [%rd1], %rs1;",
                           "atom.global.add.b16 %rs2, [%rd1], %rs1;"}) {
    std::string body = std::string(R"(
.visible .entry k(.param .u64 p)
{
  .reg .b16 %rs<4>;
  .reg .b64 %rd<2>;
  ld.param.u64 %rd1, [p];
  mov.b16 %rs1, 1;
  )") + form + "\n  ret;\n}\n";
    std::string err;
    EXPECT_FALSE(build_ptx(ptx_module(body.c_str()), &err)) << form;
    EXPECT_NE(err.find("unsupported instruction"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace gpool::emu::exec::test
