// Dynamic parallelism (CDP2) at the executor level, on hand-written PTX in the
// form nvcc emits for `kernel<<<...>>>` in device code: child grids run after
// their parent grid and before Program::launch returns, in launch order per
// block, tail launches last; errors come back to the launching thread (bad
// stream, pending-launch limit); a child's fault fails the launch; calls the
// emulator does not implement are refused at build time naming them.
// examples/cdp_*.cu cover the same through nvcc-built programs.
#include "exec_test_util.h"


namespace gpool::emu::exec::test {
namespace {

constexpr const char* kDecls = R"(
.extern .func (.param .b64 func_retval0) __cudaCDP2GetParameterBufferV2
(
  .param .b64 p0,
  .param .align 4 .b8 p1[12],
  .param .align 4 .b8 p2[12],
  .param .b32 p3
);
.extern .func (.param .b32 func_retval0) __cudaCDP2LaunchDeviceV2
(
  .param .b64 p0,
  .param .b64 p1
);
)";

// step(out, k): *out = 3 * *out + k, so the result shows the order of the steps.
// parent(out, results, stream): thread t of block b launches step(out + b, t + 1),
// thread 0 into `stream`, the others into the block's default stream (0), and
// stores the launch's cudaError_t in results[b * ntid + t].
constexpr const char* kKernels = R"(
.visible .entry step(.param .u64 out, .param .u32 k)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<2>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [k];
  ld.global.u32 %r2, [%rd1];
  mul.lo.u32 %r3, %r2, 3;
  add.u32 %r3, %r3, %r1;
  st.global.u32 [%rd1], %r3;
  ret;
}

.visible .entry parent(.param .u64 out, .param .u64 results, .param .u64 stream)
{
  .reg .pred %p<3>;
  .reg .b32 %r<7>;
  .reg .b64 %rd<10>;
  ld.param.u64 %rd1, [out];
  ld.param.u64 %rd2, [results];
  ld.param.u64 %rd9, [stream];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r5, %ntid.x;
  setp.eq.u32 %p2, %r1, 0;
  selp.b64 %rd9, %rd9, 0, %p2;
  mul.wide.u32 %rd3, %r2, 4;
  add.s64 %rd4, %rd1, %rd3;
  add.u32 %r3, %r1, 1;
  mov.u64 %rd5, step;
  {
  .param .b64 param0;
  st.param.b64 [param0+0], %rd5;
  .param .align 4 .b8 param1[12];
  st.param.b32 [param1+0], 1;
  st.param.b32 [param1+4], 1;
  st.param.b32 [param1+8], 1;
  .param .align 4 .b8 param2[12];
  st.param.b32 [param2+0], 1;
  st.param.b32 [param2+4], 1;
  st.param.b32 [param2+8], 1;
  .param .b32 param3;
  st.param.b32 [param3+0], 0;
  .param .b64 retval0;
  call.uni (retval0), __cudaCDP2GetParameterBufferV2, (param0, param1, param2, param3);
  ld.param.b64 %rd6, [retval0+0];
  }
  setp.eq.s64 %p1, %rd6, 0;
  @%p1 bra DONE;
  st.u64 [%rd6], %rd4;
  st.u32 [%rd6+8], %r3;
  {
  .param .b64 param0;
  st.param.b64 [param0+0], %rd6;
  .param .b64 param1;
  st.param.b64 [param1+0], %rd9;
  .param .b32 retval0;
  call.uni (retval0), __cudaCDP2LaunchDeviceV2, (param0, param1);
  ld.param.b32 %r4, [retval0+0];
  }
  mad.lo.u32 %r6, %r2, %r5, %r1;
  mul.wide.u32 %rd7, %r6, 4;
  add.s64 %rd8, %rd2, %rd7;
  st.global.u32 [%rd8], %r4;
DONE:
  ret;
}
)";


constexpr uint32_t kBlocks = 2, kThreads = 3;

struct CdpRun {
  LaunchResult result;
  std::vector<uint32_t> out;      // per block
  std::vector<int32_t> results;   // per thread: the launch's cudaError_t (-1: not launched)
  size_t live_buffers = 0;
};

CdpRun run_parent(uint64_t stream, uint64_t pending_limit = 2048, bool bad_out = false) {
  std::string err;
  auto p = build_ptx(ptx_module(std::string(kDecls) + kKernels), &err);
  EXPECT_TRUE(p) << err;
  CdpRun r;
  if (!p) return r;
  const KernelInfo* k = p->find_kernel("parent");
  EXPECT_TRUE(k->uses_device_launch);
  EXPECT_TRUE(k->uses_heap);
  EXPECT_FALSE(p->find_kernel("step")->uses_device_launch);
  HostMemory mem;
  uint32_t* out = mem.alloc<uint32_t>(kBlocks, 1);
  int32_t* results = mem.alloc<int32_t>(kBlocks * kThreads, -1);
  BumpHeap heap(mem.alloc<uint8_t>(4096));
  std::vector<uint64_t> args = {bad_out ? uint64_t{16} : reinterpret_cast<uint64_t>(out),
                                reinterpret_cast<uint64_t>(results), stream};
  LaunchParams lp;
  lp.grid = {kBlocks, 1, 1};
  lp.block = {kThreads, 1, 1};
  lp.param_buffer = args.data();
  lp.param_bytes = args.size() * 8;
  LaunchEnv env;
  env.memory = &mem;
  env.heap = &heap;
  env.pending_launch_limit = pending_limit;
  r.result = p->launch(*k, lp, env);
  r.out.assign(out, out + kBlocks);
  r.results.assign(results, results + kBlocks * kThreads);
  r.live_buffers = heap.live();
  return r;
}

// The value of *out after steps k1, k2, ... from 1.
uint32_t after(std::initializer_list<uint32_t> ks) {
  uint32_t x = 1;
  for (uint32_t k : ks) x = 3 * x + k;
  return x;
}

TEST(ExecCdp, ChildrenRunInLaunchOrderPerBlockBeforeLaunchReturns) {
  CdpRun r = run_parent(0);
  ASSERT_EQ(r.result.status, LaunchStatus::Ok) << r.result.message;
  for (uint32_t b = 0; b < kBlocks; ++b) EXPECT_EQ(r.out[b], after({1, 2, 3})) << "block " << b;
  for (int32_t e : r.results) EXPECT_EQ(e, 0);
  EXPECT_EQ(r.live_buffers, 0u);  // every parameter buffer went back to the heap
}

TEST(ExecCdp, TailLaunchRunsAfterTheGridsOtherChildren) {
  CdpRun r = run_parent(3);  // cudaStreamTailLaunch for thread 0's step(1)
  ASSERT_EQ(r.result.status, LaunchStatus::Ok) << r.result.message;
  for (uint32_t b = 0; b < kBlocks; ++b) EXPECT_EQ(r.out[b], after({2, 3, 1})) << "block " << b;
}

TEST(ExecCdp, FireAndForgetAndCreatedStreamsAreChecked) {
  CdpRun ff = run_parent(4);  // cudaStreamFireAndForget
  ASSERT_EQ(ff.result.status, LaunchStatus::Ok) << ff.result.message;
  for (uint32_t b = 0; b < kBlocks; ++b) EXPECT_EQ(ff.out[b], after({1, 2, 3}));
  CdpRun bad = run_parent(0x777);  // never created: thread 0's launch fails, the others run
  ASSERT_EQ(bad.result.status, LaunchStatus::Ok) << bad.result.message;
  for (uint32_t b = 0; b < kBlocks; ++b) {
    EXPECT_EQ(bad.results[b * kThreads], 400);  // cudaErrorInvalidResourceHandle
    EXPECT_EQ(bad.out[b], after({2, 3}));
  }
  EXPECT_EQ(bad.live_buffers, 0u);
}

TEST(ExecCdp, PendingLaunchLimitRefusesTheLaunchesBeyondIt) {
  CdpRun r = run_parent(0, 4);
  ASSERT_EQ(r.result.status, LaunchStatus::Ok) << r.result.message;
  int ok = 0, refused = 0;
  for (int32_t e : r.results) {
    if (e == 0) ++ok;
    if (e == 69) ++refused;  // cudaErrorLaunchPendingCountExceeded
  }
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(r.live_buffers, 0u);
}

TEST(ExecCdp, AChildsFaultFailsTheLaunch) {
  CdpRun r = run_parent(0, 2048, true);
  EXPECT_EQ(r.result.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.result.message.find("child grid launched by kernel 'parent'"), std::string::npos) << r.result.message;
  EXPECT_NE(r.result.message.find("'step'"), std::string::npos) << r.result.message;
}

// deep(maxd, err, depth): *maxd = max(*maxd, depth); launches deep(maxd, err,
// depth + 1) and stores a failed launch's cudaError_t in *err.
constexpr const char* kDeep = R"(
.visible .entry deep(.param .u64 maxd, .param .u64 err, .param .u32 depth)
{
  .reg .pred %p<3>;
  .reg .b32 %r<6>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [maxd];
  ld.param.u64 %rd2, [err];
  ld.param.u32 %r1, [depth];
  atom.global.max.s32 %r2, [%rd1], %r1;
  add.u32 %r3, %r1, 1;
  mov.u64 %rd5, deep;
  {
  .param .b64 param0;
  st.param.b64 [param0+0], %rd5;
  .param .align 4 .b8 param1[12];
  st.param.b32 [param1+0], 1;
  st.param.b32 [param1+4], 1;
  st.param.b32 [param1+8], 1;
  .param .align 4 .b8 param2[12];
  st.param.b32 [param2+0], 1;
  st.param.b32 [param2+4], 1;
  st.param.b32 [param2+8], 1;
  .param .b32 param3;
  st.param.b32 [param3+0], 0;
  .param .b64 retval0;
  call.uni (retval0), __cudaCDP2GetParameterBufferV2, (param0, param1, param2, param3);
  ld.param.b64 %rd6, [retval0+0];
  }
  setp.eq.s64 %p1, %rd6, 0;
  @%p1 bra DONE;
  st.u64 [%rd6], %rd1;
  st.u64 [%rd6+8], %rd2;
  st.u32 [%rd6+16], %r3;
  {
  .param .b64 param0;
  st.param.b64 [param0+0], %rd6;
  .param .b64 param1;
  st.param.b64 [param1+0], 0;
  .param .b32 retval0;
  call.uni (retval0), __cudaCDP2LaunchDeviceV2, (param0, param1);
  ld.param.b32 %r4, [retval0+0];
  }
  setp.eq.s32 %p2, %r4, 0;
  @%p2 bra DONE;
  st.global.u32 [%rd2], %r4;
DONE:
  ret;
}
)";

TEST(ExecCdp, NestingStopsAtDepth24) {
  std::string err;
  auto p = build_ptx(ptx_module(std::string(kDecls) + kDeep), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  int32_t* maxd = mem.alloc<int32_t>(1, -1);
  int32_t* code = mem.alloc<int32_t>(1, 0);
  BumpHeap heap(mem.alloc<uint8_t>(4096));
  struct {
    uint64_t maxd, err;
    uint32_t depth;
  } args{reinterpret_cast<uint64_t>(maxd), reinterpret_cast<uint64_t>(code), 0};
  LaunchParams lp;
  lp.block = {1, 1, 1};
  lp.param_buffer = &args;
  lp.param_bytes = sizeof args;
  LaunchEnv env;
  env.memory = &mem;
  env.heap = &heap;
  LaunchResult r = p->launch(*p->find_kernel("deep"), lp, env);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(*maxd, 24);  // grids at depths 0..24 ran
  EXPECT_EQ(*code, 65);  // cudaErrorLaunchMaxDepthExceeded from the grid at depth 24
  EXPECT_EQ(heap.live(), 0u);
}

TEST(ExecCdp, UnsupportedDeviceRuntimeCallsAreRefusedNamingThem) {
  const std::string attr_call = R"(
.extern .func (.param .b32 func_retval0) __cudaCDP2DeviceGetAttribute
(
  .param .b64 p0, .param .b32 p1, .param .b32 p2
);
.visible .entry k()
{
  .reg .b32 %r<2>;
  {
  .param .b64 param0;
  st.param.b64 [param0+0], 0;
  .param .b32 param1;
  st.param.b32 [param1+0], 0;
  .param .b32 param2;
  st.param.b32 [param2+0], 0;
  .param .b32 retval0;
  call.uni (retval0), __cudaCDP2DeviceGetAttribute, (param0, param1, param2);
  ld.param.b32 %r1, [retval0+0];
  }
  ret;
}
)";
  std::string err;
  EXPECT_FALSE(build_ptx(ptx_module(attr_call), &err));
  EXPECT_NE(err.find("__cudaCDP2DeviceGetAttribute"), std::string::npos) << err;

  const std::string sync_call = R"(
.extern .func (.param .b32 func_retval0) cudaDeviceSynchronize
(
);
.visible .entry k()
{
  .reg .b32 %r<2>;
  {
  .param .b32 retval0;
  call.uni (retval0), cudaDeviceSynchronize, ();
  ld.param.b32 %r1, [retval0+0];
  }
  ret;
}
)";
  err.clear();
  EXPECT_FALSE(build_ptx(ptx_module(sync_call), &err));
  EXPECT_NE(err.find("cudaDeviceSynchronize"), std::string::npos) << err;
  EXPECT_NE(err.find("CDP1"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::exec::test
