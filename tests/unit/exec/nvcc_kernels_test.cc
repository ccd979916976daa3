// Kernels compiled by nvcc (kernels/features.cu): device calls, divergence,
// shared-memory reduction with barriers, local arrays, atomics across
// blocks, printf, assert and out-of-bounds shared access.
#include "exec_test_util.h"

#include <fstream>
#include <sstream>

namespace gpool::emu::exec::test {
namespace {

class NvccKernels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream f(GPOOL_EXEC_TEST_PTX);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string err;
    shared_ = build_ptx(ss.str(), &err);
    error_ = err;
  }
  static void TearDownTestSuite() { shared_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(shared_) << error_;
    bind_globals(*shared_, mem);
  }
  static inline std::shared_ptr<Program> shared_;
  static inline std::string error_;
  HostMemory mem;
};

TEST_F(NvccKernels, InlinedDeviceFunctionCall) {
  auto* out = mem.alloc<int>(64);
  auto r = run(*shared_, "calls", Launch{{1, 1, 1}, {64, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int t = 0; t < 64; ++t) EXPECT_EQ(out[t], 2 * t + 5);
}

TEST_F(NvccKernels, DivergentLoopsAndEarlyReturn) {
  auto* out = mem.alloc<int>(40, 12345);
  auto r = run(*shared_, "diverge", Launch{{1, 1, 1}, {40, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int t = 0; t < 40; ++t) {
    int want = (t & 1) ? t * (t - 1) / 2 : -t;
    if (t == 31) want = 12345;
    EXPECT_EQ(out[t], want) << t;
  }
}

TEST_F(NvccKernels, SharedMemoryTreeReductionWithBarriers) {
  const int blocks = 5, threads = 256;
  auto* in = mem.alloc<int>(blocks * threads);
  auto* out = mem.alloc<int>(blocks);
  for (int i = 0; i < blocks * threads; ++i) in[i] = (i * 7919) % 1000 - 500;
  auto r = run(*shared_, "reduce_shared", Launch{{blocks, 1, 1}, {threads, 1, 1}}, {in, out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int b = 0; b < blocks; ++b) {
    int want = 0;
    for (int i = 0; i < threads; ++i) want += in[b * threads + i];
    EXPECT_EQ(out[b], want) << b;
  }
}

TEST_F(NvccKernels, LocalMemoryArrayIndexedAtRuntime) {
  auto* out = mem.alloc<int>(32);
  auto r = run(*shared_, "local_array", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 3}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int t = 0; t < 32; ++t) EXPECT_EQ(out[t], t * ((t + 3) & 15) + t * 3) << t;
}

TEST_F(NvccKernels, AtomicHistogramAcrossBlocksOnAllThreads) {
  const int n = 20000;
  auto* in = mem.alloc<int>(n);
  auto* bins = mem.alloc<int>(8);
  int want[8] = {};
  for (int i = 0; i < n; ++i) in[i] = i * 31 + i / 3, want[(i * 31 + i / 3) & 7]++;
  Launch cfg{{(n + 127) / 128, 1, 1}, {128, 1, 1}};
  cfg.threads = 4;  // several host threads contend on the same bins
  auto r = run(*shared_, "hist", cfg, {in, bins, n}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int b = 0; b < 8; ++b) EXPECT_EQ(bins[b], want[b]) << b;
}

TEST_F(NvccKernels, PrintfFormatsInThreadOrder) {
  StringSink sink;
  auto r = run(*shared_, "say", Launch{{1, 1, 1}, {3, 1, 1}}, {42}, mem, &sink);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(sink.text,
            "t0 v=42 f=0.00 s=hi x=00ff ll=-5\n"
            "t1 v=42 f=1.50 s=hi x=00ff ll=-5\n"
            "t2 v=42 f=3.00 s=hi x=00ff ll=-5\n");
}

TEST_F(NvccKernels, AssertFailsTheLaunch) {
  auto r = run(*shared_, "check", Launch{{2, 1, 1}, {8, 1, 1}}, {5}, mem);
  EXPECT_EQ(r.status, LaunchStatus::AssertFailed);
  EXPECT_NE(r.message.find("thread [5,0,0]"), std::string::npos) << r.message;
  auto ok = run(*shared_, "check", Launch{{2, 1, 1}, {8, 1, 1}}, {100}, mem);
  EXPECT_EQ(ok.status, LaunchStatus::Ok) << ok.message;
}

TEST_F(NvccKernels, SharedOutOfBoundsIsIllegalAddress) {
  auto* out = mem.alloc<int>(1);
  auto ok = run(*shared_, "shared_oob", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 7}, mem);
  ASSERT_EQ(ok.status, LaunchStatus::Ok) << ok.message;
  EXPECT_EQ(out[0], 1);
  auto r = run(*shared_, "shared_oob", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 1 << 20}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("shared"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace gpool::emu::exec::test
