// Table-driven integer, bit, compare, mov and carry-chain instructions: each
// row is a PTX body run by one thread over inputs a, b, c, checked against
// the expected result.
//
// Registers available to a body: %a %b %c (.b32, the low words of the
// inputs), %la %lb %lc (.b64 inputs), %p %q (.pred). A 32-bit row writes %e,
// a 64-bit row writes %d.
#include "exec_test_util.h"

#include <fmt/format.h>

namespace gpool::emu::exec::test {
namespace {

struct Row {
  const char* body;
  uint64_t a, b, c;
  uint64_t want;
  bool wide = false;  // result in %d (64-bit) instead of %e
};

std::string kernel_for(const Row& r) {
  return ptx_module(fmt::format(R"(
.visible .entry t(.param .u64 out, .param .u64 in)
{{
  .reg .b32 %a, %b, %c, %e, %t;
  .reg .b64 %la, %lb, %lc, %d, %po, %pi;
  .reg .pred %p, %q;
  ld.param.u64 %po, [out];
  ld.param.u64 %pi, [in];
  ld.global.u64 %la, [%pi];
  ld.global.u64 %lb, [%pi+8];
  ld.global.u64 %lc, [%pi+16];
  ld.global.u32 %a, [%pi];
  ld.global.u32 %b, [%pi+8];
  ld.global.u32 %c, [%pi+16];
  mov.u32 %e, 0;
  mov.u64 %d, 0;
  {}
  {}
  ret;
}}
)",
                                r.body, r.wide ? "st.global.u64 [%po], %d;" : "st.global.u32 [%po], %e;"));
}

const Row kRows[] = {
    {"add.s32 %e, %a, %b;", 5, 7, 0, 12},
    {"sub.s32 %e, %a, %b;", 5, 7, 0, 0xfffffffe},
    {"add.sat.s32 %e, %a, %b;", 0x7fffffff, 5, 0, 0x7fffffff},
    {"mul.lo.s32 %e, %a, %b;", static_cast<uint32_t>(-3), 7, 0, static_cast<uint32_t>(-21)},
    {"mul.hi.u32 %e, %a, %b;", 0x80000000u, 4, 0, 2},
    {"mul.hi.s32 %e, %a, %b;", 0x80000000u, 4, 0, 0xfffffffe},
    {"mul.wide.s32 %d, %a, %b;", static_cast<uint32_t>(-3), 0x40000000, 0, static_cast<uint64_t>(-3ll * 0x40000000), true},
    {"mul.wide.u32 %d, %a, %b;", 0xffffffffu, 0xffffffffu, 0, 0xfffffffe00000001ull, true},
    {"mad.lo.s32 %e, %a, %b, %c;", 6, 7, 100, 142},
    {"mad.wide.u32 %d, %a, %b, %lc;", 0x10000, 0x10000, 5, 0x100000005ull, true},
    {"mul24.lo.u32 %e, %a, %b;", 0x01000003, 2, 0, 6},
    {"mad24.lo.s32 %e, %a, %b, %c;", 3, 4, 5, 17},
    {"div.s32 %e, %a, %b;", static_cast<uint32_t>(-7), 2, 0, static_cast<uint32_t>(-3)},
    {"rem.s32 %e, %a, %b;", static_cast<uint32_t>(-7), 2, 0, static_cast<uint32_t>(-1)},
    {"div.u32 %e, %a, %b;", 9, 0, 0, 0xffffffff},
    {"div.u64 %d, %la, %lb;", 1ull << 40, 3, 0, (1ull << 40) / 3, true},
    {"rem.u64 %d, %la, %lb;", (1ull << 40) + 2, 3, 0, ((1ull << 40) + 2) % 3, true},
    {"min.s32 %e, %a, %b;", 0xffffffff, 1, 0, 0xffffffff},
    {"min.u32 %e, %a, %b;", 0xffffffff, 1, 0, 1},
    {"max.s64 %d, %la, %lb;", static_cast<uint64_t>(-5), 3, 0, 3, true},
    {"abs.s32 %e, %a;", static_cast<uint32_t>(-5), 0, 0, 5},
    {"neg.s32 %e, %a;", 5, 0, 0, static_cast<uint32_t>(-5)},
    {"sad.u32 %e, %a, %b, %c;", 3, 10, 100, 107},
    {"shl.b32 %e, %a, %b;", 1, 31, 0, 0x80000000u},
    {"shl.b32 %e, %a, %b;", 1, 32, 0, 0},
    {"shr.s32 %e, %a, %b;", 0x80000000u, 4, 0, 0xf8000000u},
    {"shr.u32 %e, %a, %b;", 0x80000000u, 4, 0, 0x08000000u},
    {"shr.s32 %e, %a, %b;", 0x80000000u, 40, 0, 0xffffffffu},
    {"shl.b64 %d, %la, %b;", 1, 40, 0, 1ull << 40, true},
    {"and.b32 %e, %a, %b;", 0xff00ff00u, 0x0ff00ff0u, 0, 0x0f000f00u},
    {"or.b32 %e, %a, 15;", 0xf0, 0, 0, 0xff},
    {"xor.b64 %d, %la, %lb;", 0xffff0000ffff0000ull, 0xffffffffffffffffull, 0, 0x0000ffff0000ffffull, true},
    {"not.b32 %e, %a;", 0, 0, 0, 0xffffffffu},
    {"cnot.b32 %e, %a;", 0, 0, 0, 1},
    {"popc.b32 %e, %a;", 0xf0f0, 0, 0, 8},
    {"popc.b64 %e, %la;", 0xffffffffffffffffull, 0, 0, 64},
    {"clz.b32 %e, %a;", 1, 0, 0, 31},
    {"clz.b64 %e, %la;", 0, 0, 0, 64},
    {"brev.b32 %e, %a;", 1, 0, 0, 0x80000000u},
    {"bfe.u32 %e, %a, 8, 8;", 0x12345678, 0, 0, 0x56},
    {"bfe.s32 %e, %a, 8, 8;", 0x00008000, 0, 0, 0xffffff80u},
    {"bfi.b32 %e, %a, %b, 8, 8;", 0xab, 0x11111111, 0, 0x1111ab11u},
    {"bfind.u32 %e, %a;", 0x10, 0, 0, 4},
    {"bfind.s32 %e, %a;", 0xffffffff, 0, 0, 0xffffffffu},
    {"bfind.shiftamt.u32 %e, %a;", 0x10, 0, 0, 27},
    {"fns.b32 %e, %a, 0, 3;", 0b101101, 0, 0, 3},
    {"prmt.b32 %e, %a, %b, %c;", 0x33221100, 0x77665544, 0x5140, 0x55114400},
    {"prmt.b32 %e, %a, %b, 0x8888;", 0x00000080, 0, 0, 0xffffffffu},
    {"shf.l.wrap.b32 %e, %a, %b, %c;", 0x80000000u, 1, 1, 3},
    {"shf.r.clamp.b32 %e, %a, %b, %c;", 0, 0xffffffffu, 40, 0xffffffffu},
    {"shf.r.wrap.b32 %e, %a, %b, %c;", 0x12345678, 0x9abcdef0, 8, 0xf0123456u},
    {"lop3.b32 %e, %a, %b, %c, 0xe8;", 0b1100, 0b1010, 0b0110, 0b1110},
    // Scalar video shifts (cuSPARSE's SpGEMM uses vshr.u32.u32.u32.clamp.add).
    {"vshr.u32.u32.u32.clamp.add %e, %a, %b, %c;", 0x80000000u, 4, 5, 0x08000005u},
    {"vshr.u32.u32.u32.clamp.add %e, %a, %b, %c;", 0x80000000u, 40, 7, 7},  // count clamped to 32
    {"vshr.u32.u32.u32.wrap %e, %a, %b;", 0x80000000u, 36, 0, 0x08000000u},  // count mod 32
    {"vshr.s32.s32.u32.clamp %e, %a, %b;", 0x80000000u, 40, 0, 0xffffffffu},  // arithmetic
    {"vshl.u32.u32.u32.clamp %e, %a, %b;", 3, 31, 0, 0x80000000u},  // high bits drop
    {"vshl.u32.u32.u32.sat.clamp %e, %a, %b;", 3, 31, 0, 0xffffffffu},
    {"vshl.s32.s32.u32.sat.wrap %e, %a, %b;", 0xffffffffu, 33, 0, 0xfffffffeu},
    {"vshl.s32.s32.u32.sat.clamp %e, %a, %b;", static_cast<uint32_t>(-3), 31, 0, 0x80000000u},
    {"vshr.u32.s32.u32.sat.clamp.add %e, %a, %b, %c;", static_cast<uint32_t>(-16), 2, 9, 9},  // -4 -> 0, + 9
    {"vshl.u32.u32.u32.clamp.add %e, %a, %b, %c;", 0xffffffffu, 0, 2, 1},  // the add wraps
    {"dp4a.u32.u32 %e, %a, %b, %c;", 0x01020304, 0x01010101, 10, 20},
    {"dp4a.s32.s32 %e, %a, %b, %c;", 0xff000000u, 0x02000000, 0, 0xfffffffeu},
    {"dp2a.lo.u32.u32 %e, %a, %b, %c;", 0x00020003, 0x01010505, 1, 26},
    {"setp.lt.s32 %p, %a, %b; selp.b32 %e, 11, 22, %p;", 0xffffffff, 1, 0, 11},
    {"setp.lt.u32 %p, %a, %b; selp.b32 %e, 11, 22, %p;", 0xffffffff, 1, 0, 22},
    {"setp.eq.u32 %p|%q, %a, %b; selp.b32 %e, 1, 2, %q;", 4, 4, 0, 2},
    {"setp.ne.and.u32 %p, %a, 0, %q; mov.pred %q, 1; setp.ne.and.u32 %p, %a, 0, %q; selp.b32 %e, 7, 8, %p;", 4, 0, 0, 7},
    {"setp.gt.s64 %p, %la, %lb; @%p mov.u32 %e, 3; @!%p mov.u32 %e, 4;", static_cast<uint64_t>(-1), 0, 0, 4},
    {"set.lt.u32.s32 %e, %a, %b;", 1, 2, 0, 0xffffffffu},
    {"slct.u32.s32 %e, %a, %b, %c;", 10, 20, static_cast<uint32_t>(-1), 20},
    {"mov.b64 %d, {%a, %b};", 0x11111111, 0x22222222, 0, 0x2222222211111111ull, true},
    {"mov.b64 {%t, %e}, %la;", 0xaaaaaaaabbbbbbbbull, 0, 0, 0xaaaaaaaa},
    {"add.cc.u32 %t, %a, %b; addc.u32 %e, 0, 0;", 0xffffffffu, 2, 0, 1},
    {"sub.cc.u32 %t, %a, %b; subc.u32 %e, 0, 0;", 1, 2, 0, 0xffffffffu},
    {"add.cc.u32 %t, %a, %b; addc.cc.u32 %e, %c, 0; addc.u32 %e, %e, 0;", 0xffffffffu, 1, 0xffffffffu, 1},
    {"mov.u32 %e, %laneid;", 0, 0, 0, 0},
    {"mov.u32 %e, %lanemask_lt;", 0, 0, 0, 0},
    {"mov.u32 %e, %nctaid.x;", 0, 0, 0, 1},
};

class IntOps : public ::testing::TestWithParam<Row> {};

TEST_P(IntOps, ComputesExpectedBits) {
  const Row& row = GetParam();
  std::string err;
  auto p = build_ptx(kernel_for(row), &err);
  ASSERT_TRUE(p) << row.body << ": " << err;
  HostMemory mem;
  auto* in = mem.alloc<uint64_t>(3);
  in[0] = row.a;
  in[1] = row.b;
  in[2] = row.c;
  auto* out = mem.alloc<uint64_t>(1, 0xdeadbeefdeadbeefull);
  auto r = run(*p, "t", Launch{{1, 1, 1}, {1, 1, 1}}, {out, in}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << row.body << ": " << r.message;
  uint64_t got = row.wide ? out[0] : (out[0] & 0xffffffffu);
  EXPECT_EQ(got, row.want) << row.body << fmt::format(" got 0x{:x} want 0x{:x}", got, row.want);
}

INSTANTIATE_TEST_SUITE_P(Table, IntOps, ::testing::ValuesIn(kRows));

TEST(IntOpsRefused, VideoShiftFormsNotImplementedAreRefused) {
  // Operand selectors, a non-u32 count type, no mode: refused at load.
  for (const char* body : {"vshr.u32.u32.u32.clamp %e, %a.b0, %b;",
                           "vshr.u32.u32.s32.clamp %e, %a, %b;", "vshr.u32.u32.u32 %e, %a, %b;"}) {
    std::string err;
    EXPECT_FALSE(build_ptx(kernel_for(Row{body, 0, 0, 0, 0}), &err)) << body;
  }
}

TEST(IntOpsRefused, UnsupportedSpecialRegisterIsNamed) {
  // A special register the emulator does not provide (%aggr_smem_size, PTX 8.1); the
  // refusal names the register.
  std::string err;
  EXPECT_FALSE(build_ptx(kernel_for(Row{"mov.u32 %e, %aggr_smem_size;", 0, 0, 0, 0}), &err));
  EXPECT_NE(err.find("unsupported special register '%aggr_smem_size' in 'mov.u32'"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::exec::test
