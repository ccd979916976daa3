// Core executor behaviour: launch, divergence and reconvergence, barriers,
// shared and local memory, calls, faults and build errors.
#include "exec_test_util.h"

namespace gpool::emu::exec::test {
namespace {

const char* kVecAdd = R"(
.visible .entry vadd(.param .u64 a, .param .u64 b, .param .u64 c, .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<4>;
  .reg .b64 %rd<11>;
  ld.param.u64 %rd1, [a];
  ld.param.u64 %rd2, [b];
  ld.param.u64 %rd3, [c];
  ld.param.u32 %r2, [n];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r1, %r3, %r4, %r5;
  setp.ge.s32 %p1, %r1, %r2;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd4, %rd1;
  cvta.to.global.u64 %rd5, %rd2;
  mul.wide.s32 %rd6, %r1, 4;
  add.s64 %rd7, %rd4, %rd6;
  add.s64 %rd8, %rd5, %rd6;
  ld.global.u32 %r3, [%rd7];
  ld.global.u32 %r4, [%rd8];
  add.s32 %r5, %r3, %r4;
  cvta.to.global.u64 %rd9, %rd3;
  add.s64 %rd10, %rd9, %rd6;
  st.global.u32 [%rd10], %r5;
DONE:
  ret;
}
)";

TEST(ExecCore, VectorAddAcrossBlocksWithTail) {
  std::string err;
  auto p = build_ptx(ptx_module(kVecAdd), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  const int n = 1000;
  auto* a = mem.alloc<int>(n);
  auto* b = mem.alloc<int>(n);
  auto* c = mem.alloc<int>(n, -1);
  for (int i = 0; i < n; ++i) a[i] = i, b[i] = 3 * i + 7;
  Launch cfg;
  cfg.grid = {8, 1, 1};
  cfg.block = {128, 1, 1};
  auto r = run(*p, "vadd", cfg, {a, b, c, n}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < n; ++i) ASSERT_EQ(c[i], 4 * i + 7) << i;
  EXPECT_GT(r.thread_instructions, 1000u * 20);
  const KernelInfo* k = p->find_kernel("vadd");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->param_bytes, 28u);
  EXPECT_EQ(k->params[3].offset, 24u);
  EXPECT_TRUE(k->params[0].is_pointer);
}

TEST(ExecCore, OutOfBoundsGlobalStoreIsIllegalAddress) {
  std::string err;
  auto p = build_ptx(ptx_module(kVecAdd), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* a = mem.alloc<int>(64);
  auto* b = mem.alloc<int>(64);
  auto* c = mem.alloc<int>(32);  // too small for n = 64
  auto r = run(*p, "vadd", Launch{{2, 1, 1}, {32, 1, 1}}, {a, b, c, 64}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("vadd"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("st.global.u32"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("block [1,0,0]"), std::string::npos) << r.message;
}

TEST(ExecCore, UnsupportedInstructionFailsBuildNamingIt) {
  std::string err;
  auto p = build_ptx(ptx_module(R"(
.visible .entry k(.param .u64 a)
{
  .reg .b32 %r<3>;
  mov.u32 %r1, 1;
  frobnicate.b32 %r2, %r1;
  ret;
}
)"),
                     &err);
  EXPECT_FALSE(p);
  EXPECT_NE(err.find("unsupported instruction 'frobnicate.b32'"), std::string::npos) << err;
  EXPECT_NE(err.find(" k "), std::string::npos) << err;
  EXPECT_NE(err.find("line 10"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::exec::test
