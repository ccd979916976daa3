// Real calls, forward progress and the device heap at the executor level:
// hand-written PTX for the error paths (stack overflow, a bad function
// pointer, free of a foreign pointer, a launch without a heap) and for
// bar.warp.sync waiting for diverged lanes. The nvcc-built programs in
// examples/ (spin_sync, device_calls, device_heap) cover the ordinary paths.
#include "exec_test_util.h"


namespace gpool::emu::exec::test {
namespace {

// f(x) = f(x + 1): never returns.
constexpr const char* kEndless = R"(
.func (.param .b32 res) f(.param .b32 x)
{
  .reg .b32 %r<3>;
  ld.param.b32 %r1, [x];
  add.s32 %r2, %r1, 1;
  {
  .param .b32 a;
  st.param.b32 [a], %r2;
  .param .b32 r;
  call.uni (r), f, (a);
  ld.param.b32 %r1, [r];
  }
  st.param.b32 [res], %r1;
  ret;
}

.visible .entry deep(.param .u64 out)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<2>;
  {
  .param .b32 a;
  st.param.b32 [a], 0;
  .param .b32 r;
  call.uni (r), f, (a);
  ld.param.b32 %r1, [r];
  }
  ld.param.u64 %rd1, [out];
  st.global.u32 [%rd1], %r1;
  ret;
}
)";

TEST(ExecCalls, EndlessRecursionFaultsWithStackOverflow) {
  std::string err;
  auto p = build_ptx(ptx_module(kEndless), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<int>(1);
  auto r = run(*p, "deep", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("call stack overflow"), std::string::npos) << r.message;
}

// out[tid] = g(tid * 3) through the function pointer `fp`, g(x) = x + 7.
constexpr const char* kIndirect = R"(
.func (.param .b32 res) g(.param .b32 x)
{
  .reg .b32 %r<3>;
  ld.param.b32 %r1, [x];
  add.s32 %r2, %r1, 7;
  st.param.b32 [res], %r2;
  ret;
}

.visible .entry addr(.param .u64 out)
{
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [out];
  mov.u64 %rd2, g;
  st.global.u64 [%rd1], %rd2;
  ret;
}

.visible .entry ind(.param .u64 out, .param .u64 fp)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<5>;
  ld.param.u64 %rd1, [out];
  ld.param.u64 %rd2, [fp];
  mov.u32 %r1, %tid.x;
  mul.lo.s32 %r2, %r1, 3;
  {
  .param .b32 a;
  st.param.b32 [a], %r2;
  .param .b32 r;
  proto : .callprototype (.param .b32 _) _ (.param .b32 _);
  call (r), %rd2, (a), proto;
  ld.param.b32 %r3, [r];
  }
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd1, %rd3;
  st.global.u32 [%rd4], %r3;
  ret;
}
)";

TEST(ExecCalls, IndirectCallThroughFunctionAddress) {
  std::string err;
  auto p = build_ptx(ptx_module(kIndirect), &err);
  ASSERT_TRUE(p) << err;
  uint64_t g = 0;
  ASSERT_TRUE(p->function_address("g", &g));
  uint64_t none = 0;
  EXPECT_FALSE(p->function_address("ind_missing", &none));
  HostMemory mem;
  // One kernel takes g's address, another calls through it.
  auto* fp = mem.alloc<uint64_t>(1);
  auto r0 = run(*p, "addr", Launch{{1, 1, 1}, {1, 1, 1}}, {fp}, mem);
  ASSERT_EQ(r0.status, LaunchStatus::Ok) << r0.message;
  EXPECT_EQ(*fp, g);
  auto* out = mem.alloc<int>(32, -1);
  auto r = run(*p, "ind", Launch{{1, 1, 1}, {32, 1, 1}}, {out, g}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], i * 3 + 7) << i;
}

TEST(ExecCalls, IndirectCallThroughDataPointerFaults) {
  std::string err;
  auto p = build_ptx(ptx_module(kIndirect), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<int>(32);
  auto r = run(*p, "ind", Launch{{1, 1, 1}, {32, 1, 1}}, {out, out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalInstruction);
  EXPECT_NE(r.message.find("not the address of a device function"), std::string::npos) << r.message;
}

// Lanes 0..15 and 16..31 take different paths; each half stores its value,
// meets the other at bar.warp.sync, then reads its partner's (lane ^ 16).
// The low half runs first: without the wait it would read zeros.
constexpr const char* kWarpSync = R"(
.visible .entry ws(.param .u64 out)
{
  .shared .align 4 .b32 vals[32];
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  mov.u32 %r1, %tid.x;
  shl.b32 %r2, %r1, 2;
  mov.u32 %r3, vals;
  add.s32 %r4, %r3, %r2;
  xor.b32 %r5, %r1, 16;
  shl.b32 %r5, %r5, 2;
  add.s32 %r5, %r3, %r5;
  add.s32 %r6, %r1, 100;
  setp.ge.u32 %p1, %r1, 16;
  @%p1 bra HIGH;
  st.shared.u32 [%r4], %r6;
  bar.warp.sync -1;
  ld.shared.u32 %r7, [%r5];
  bra.uni DONE;
HIGH:
  st.shared.u32 [%r4], %r6;
  bar.warp.sync -1;
  ld.shared.u32 %r7, [%r5];
DONE:
  ld.param.u64 %rd1, [out];
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r7;
  ret;
}
)";

TEST(ExecProgress, WarpSyncWaitsForDivergedLanes) {
  std::string err;
  auto p = build_ptx(ptx_module(kWarpSync), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<int>(32);
  auto r = run(*p, "ws", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], (i ^ 16) + 100) << i;
}

// p = malloc(16); free(p + 16 * ptr_offset).
constexpr const char* kHeap = R"(
.extern .func (.param .b64 func_retval0) malloc(.param .b64 malloc_param_0);
.extern .func free(.param .b64 free_param_0);

.visible .entry h(.param .u64 out, .param .u64 bump)
{
  .reg .b64 %rd<6>;
  {
  .param .b64 a;
  st.param.b64 [a], 16;
  .param .b64 r;
  call.uni (r), malloc, (a);
  ld.param.b64 %rd1, [r];
  }
  ld.param.u64 %rd2, [out];
  st.global.u64 [%rd2], %rd1;
  ld.param.u64 %rd3, [bump];
  add.s64 %rd4, %rd1, %rd3;
  {
  .param .b64 a;
  st.param.b64 [a], %rd4;
  call.uni free, (a);
  }
  ret;
}
)";


LaunchResult run_heap(const Program& p, uint64_t* out, uint64_t bump, DeviceHeap* heap, const GlobalMemory& mem) {
  const KernelInfo* k = p.find_kernel("h");
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(out), bump};
  LaunchParams lp;
  lp.block = {2, 1, 1};
  lp.param_buffer = args.data();
  lp.param_bytes = 16;
  LaunchEnv env;
  env.memory = &mem;
  env.heap = heap;
  return p.launch(*k, lp, env);
}

TEST(ExecHeap, MallocAndFreeUseTheLaunchHeap) {
  std::string err;
  auto p = build_ptx(ptx_module(kHeap), &err);
  ASSERT_TRUE(p) << err;
  EXPECT_TRUE(p->find_kernel("h")->uses_heap);
  HostMemory mem;
  auto* out = mem.alloc<uint64_t>(1);
  BumpHeap heap(mem.alloc<uint8_t>(256));
  auto r = run_heap(*p, out, 0, &heap, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_NE(*out, 0u);
  EXPECT_EQ(heap.live(), 0u);  // both threads freed their blocks
}

TEST(ExecHeap, FreeOfAForeignPointerFaults) {
  std::string err;
  auto p = build_ptx(ptx_module(kHeap), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint64_t>(1);
  BumpHeap heap(mem.alloc<uint8_t>(256));
  auto r = run_heap(*p, out, 8, &heap, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("free("), std::string::npos) << r.message;
}

TEST(ExecHeap, LaunchWithoutHeapIsRefused) {
  std::string err;
  auto p = build_ptx(ptx_module(kHeap), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint64_t>(1);
  auto r = run_heap(*p, out, 0, nullptr, mem);
  EXPECT_EQ(r.status, LaunchStatus::InvalidValue);
  EXPECT_NE(r.message.find("no device heap"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace gpool::emu::exec::test
