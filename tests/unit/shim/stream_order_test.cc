// The ordered command stream: async calls are queued without a round trip and reach the server
// before the next sync call; async failures are sticky and surface at the next sync call
// (session.h).
#include <chrono>
#include <thread>

#include "pool.h"
#include "session.h"
#include "shim_fixture.h"

namespace gpool::shim::test {
namespace {

using remote::Op;
using StreamOrderTest = ShimTest;

TEST_F(StreamOrderTest, AsyncCallsCostNoRoundTripAndArriveInOrder) {
  FakeServer alpha("alpha", 1);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  use_device(0);
  CUdeviceptr p = 0;
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 1024), CUDA_SUCCESS);
  const uint64_t before = Session::current().round_trips();
  for (unsigned v = 1; v <= 3; ++v) ASSERT_EQ(gpool_impl_cuMemsetD8_v2(p, static_cast<unsigned char>(v), 1024), CUDA_SUCCESS);
  EXPECT_EQ(Session::current().round_trips(), before);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  EXPECT_EQ(Session::current().round_trips(), before + 1);
  const auto calls = alpha.calls();
  ASSERT_EQ(calls.size(), 6u);  // Attach, MemAlloc, 3 x Memset, CtxSynchronize
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(calls[2 + i].op, Op::Memset);
    EXPECT_TRUE(calls[2 + i].async);
    EXPECT_EQ(calls[2 + i].args.at(1), i + 1);  // the value, in call order
  }
  EXPECT_EQ(calls[5].op, Op::CtxSynchronize);
  EXPECT_FALSE(calls[5].async);
}

// Ordinary async calls wait in the queue for the next sync call; a cuGraphLaunch is written at
// once (Session::async_start), with everything queued before it, in order, and still without a
// round trip; also right after a sync call, as a training loop launches its next step.
TEST_F(StreamOrderTest, AGraphLaunchIsWrittenAtOnce) {
  FakeServer alpha("alpha", 1);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  use_device(0);
  CUdeviceptr p = 0;
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 64), CUDA_SUCCESS);
  const uint64_t before = Session::current().round_trips();
  ASSERT_EQ(gpool_impl_cuMemsetD8_v2(p, 7, 64), CUDA_SUCCESS);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(alpha.count(Op::Memset), 0u);  // queued
  const auto exec = reinterpret_cast<CUgraphExec>(uint64_t{0x4758000000000001});
  auto arrived = [&](size_t n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (alpha.count(Op::GraphLaunch) < n && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return alpha.count(Op::GraphLaunch) == n;
  };
  ASSERT_EQ(gpool_impl_cuGraphLaunch(exec, nullptr), CUDA_SUCCESS);
  ASSERT_TRUE(arrived(1));
  EXPECT_EQ(Session::current().round_trips(), before);
  const auto calls = alpha.calls();
  ASSERT_EQ(calls.size(), 4u);  // Attach, MemAlloc, Memset, GraphLaunch: no sync call yet
  EXPECT_EQ(calls[2].op, Op::Memset);
  EXPECT_EQ(calls[3].op, Op::GraphLaunch);
  EXPECT_TRUE(calls[3].async);
  EXPECT_EQ(calls[3].args.at(0), 0x4758000000000001u);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuGraphLaunch(exec, nullptr), CUDA_SUCCESS);  // right behind a sync call
  EXPECT_TRUE(arrived(2));
  EXPECT_EQ(Session::current().round_trips(), before + 1);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
}

TEST_F(StreamOrderTest, AnAsyncFailureIsReportedAtTheNextSyncCallOnce) {
  FakeServer alpha("alpha", 1);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  use_device(0);
  alpha.fail_async(Op::Memset, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuMemsetD8_v2(0x10000000, 0, 16), CUDA_SUCCESS);  // queued: no verdict yet
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);  // not a context-corrupting error
}

TEST_F(StreamOrderTest, AContextCorruptingErrorStaysWithItsServer) {
  FakeServer alpha("alpha", 1), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  use_device(0);
  alpha.fail_async(Op::Memset, CUDA_ERROR_ILLEGAL_ADDRESS);
  EXPECT_EQ(gpool_impl_cuMemsetD8_v2(0x10000000, 0, 16), CUDA_SUCCESS);
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
  // Like the driver's sticky errors: every later call on that session fails, without reaching it.
  CUdeviceptr p = 0;
  EXPECT_EQ(gpool_impl_cuMemAlloc_v2(&p, 64), CUDA_ERROR_ILLEGAL_ADDRESS);
  EXPECT_EQ(alpha.count(Op::MemAlloc), 0u);
  // The other server is unaffected.
  use_device(1);
  EXPECT_EQ(gpool_impl_cuMemAlloc_v2(&p, 64), CUDA_SUCCESS);
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpool::shim::test
