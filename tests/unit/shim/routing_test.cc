// Routing: calls go to the server of the current context's device, preceded by SetDevice when
// the device changes; handles belong to the server that made them (session.h, ids.h, pool.h).
#include "shim_fixture.h"

namespace gpool::shim::test {
namespace {

using remote::Op;
using RoutingTest = ShimTest;

// The calls `s` received, as opcodes, without the Attach.
std::vector<Op> ops(const FakeServer& s) {
  std::vector<Op> out;
  for (const auto& c : s.calls()) {
    if (c.op != Op::Attach) out.push_back(c.op);
  }
  return out;
}

TEST_F(RoutingTest, CallsGoToTheServerOfTheCurrentDevice) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  use_device(2);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 4096), CUDA_SUCCESS);
  EXPECT_EQ(beta.count(Op::MemAlloc), 1u);
  EXPECT_EQ(alpha.count(Op::MemAlloc), 0u);
  use_device(0);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 4096), CUDA_SUCCESS);
  EXPECT_EQ(alpha.count(Op::MemAlloc), 1u);
  EXPECT_EQ(beta.count(Op::MemAlloc), 1u);
  // Beta has one device: it never needs SetDevice.
  EXPECT_EQ(beta.count(Op::SetDevice), 0u);
}

TEST_F(RoutingTest, SetDevicePrecedesTheFirstCallOnAnotherDevice) {
  FakeServer alpha("alpha", 2);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  use_device(1);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 64), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuMemsetD8_v2(p, 1, 64), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  use_device(0);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  // A created context of device 1 selects device 1 like its primary context.
  CUcontext mine = nullptr;
  ASSERT_EQ(gpool_impl_cuCtxCreate_v2(&mine, 0, 1), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  EXPECT_EQ(ops(alpha), (std::vector<Op>{Op::SetDevice, Op::MemAlloc, Op::Memset, Op::CtxSynchronize,
                                         Op::SetDevice, Op::CtxSynchronize, Op::SetDevice,
                                         Op::CtxSynchronize}));
  std::vector<uint64_t> selected;
  for (const auto& c : alpha.calls()) {
    if (c.op == Op::SetDevice) {
      EXPECT_TRUE(c.async);
      selected.push_back(c.args.at(0));
    }
  }
  EXPECT_EQ(selected, (std::vector<uint64_t>{1, 0, 1}));
}

TEST_F(RoutingTest, HandlesOfAnotherServerAreInvalid) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  use_device(0);
  CUstream s = nullptr;
  CUevent e = nullptr;
  ASSERT_EQ(gpool_impl_cuStreamCreate(&s, 0), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuEventCreate(&e, 0), CUDA_SUCCESS);
  // Another device of the same server shares the session: the handles are valid there.
  use_device(1);
  EXPECT_EQ(gpool_impl_cuStreamSynchronize(s), CUDA_SUCCESS);
  use_device(2);
  EXPECT_EQ(gpool_impl_cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(gpool_impl_cuEventRecord(e, nullptr), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(gpool_impl_cuStreamWaitEvent(nullptr, e, 0), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(gpool_impl_cuEventSynchronize(e), CUDA_ERROR_INVALID_HANDLE);
  // The default streams belong to every server.
  EXPECT_EQ(gpool_impl_cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  EXPECT_EQ(ops(beta), (std::vector<Op>{Op::StreamSynchronize}));
  EXPECT_EQ(alpha.count(Op::StreamSynchronize), 1u);
  // The stream's context is its device's primary context.
  CUcontext sc = nullptr, p0 = nullptr;
  ASSERT_EQ(gpool_impl_cuStreamGetCtx(s, &sc), CUDA_SUCCESS);
  ASSERT_EQ(gpool_backend_primary_context(0, &p0), CUDA_SUCCESS);
  EXPECT_EQ(sc, p0);
}

TEST_F(RoutingTest, TheSameAddressOnTwoServersStaysApart) {
  FakeServer alpha("alpha", 1), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUdeviceptr a = 0, b = 0;
  use_device(0);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&a, 4096), CUDA_SUCCESS);
  use_device(1);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&b, 8192), CUDA_SUCCESS);
  ASSERT_EQ(a, b);  // the fake servers hand out the same first address
  size_t bytes = 0;
  CUdeviceptr base = 0;
  ASSERT_EQ(gpool_impl_cuMemGetAddressRange_v2(&base, &bytes, b + 100), CUDA_SUCCESS);
  EXPECT_EQ(bytes, 8192u);
  use_device(0);
  ASSERT_EQ(gpool_impl_cuMemGetAddressRange_v2(&base, &bytes, a + 100), CUDA_SUCCESS);
  EXPECT_EQ(bytes, 4096u);
  ASSERT_EQ(gpool_impl_cuMemFree_v2(a), CUDA_SUCCESS);
  EXPECT_EQ(alpha.count(Op::MemFree), 1u);
  EXPECT_EQ(beta.count(Op::MemFree), 0u);
  use_device(1);
  ASSERT_EQ(gpool_impl_cuMemGetAddressRange_v2(&base, &bytes, b), CUDA_SUCCESS);
  EXPECT_EQ(bytes, 8192u);
}

TEST_F(RoutingTest, PeerCopiesWorkWithinAServerOnly) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUcontext c[3] = {};
  for (int d = 0; d < 3; ++d) ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRetain(&c[d], d), CUDA_SUCCESS);
  EXPECT_EQ(gpool_impl_cuMemcpyPeer(0x1000, c[1], 0x2000, c[0], 256), CUDA_SUCCESS);
  EXPECT_EQ(gpool_impl_cuMemcpyPeer(0x1000, c[2], 0x2000, c[0], 256), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(gpool_impl_cuMemcpyPeer(0x1000, nullptr, 0x2000, c[0], 256), CUDA_ERROR_INVALID_CONTEXT);
  ASSERT_EQ(gpool_impl_cuCtxSetCurrent(c[0]), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  // The copy ran on alpha's device 1 (the destination's), then device 0 was selected again.
  EXPECT_EQ(ops(alpha), (std::vector<Op>{Op::SetDevice, Op::MemcpyDtoD, Op::SetDevice, Op::CtxSynchronize}));
  EXPECT_TRUE(ops(beta).empty());
}

}  // namespace
}  // namespace gpool::shim::test
