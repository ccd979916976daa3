// Devices numbered across servers, and client-side contexts per device (pool.h, contexts.h).
#include <cstring>

#include "shim_fixture.h"

namespace gpool::shim::test {
namespace {

using DevicesTest = ShimTest;

std::string name_of(int dev) {
  char name[64] = {};
  EXPECT_EQ(gpool_impl_cuDeviceGetName(name, sizeof name, dev), CUDA_SUCCESS);
  return name;
}

TEST_F(DevicesTest, DevicesOfAllServersAreNumberedInServerOrder) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  int count = 0;
  ASSERT_EQ(gpool_impl_cuDeviceGetCount(&count), CUDA_SUCCESS);
  EXPECT_EQ(count, 3);
  EXPECT_EQ(name_of(0), "alpha-dev0");
  EXPECT_EQ(name_of(1), "alpha-dev1");
  EXPECT_EQ(name_of(2), "beta-dev0");
  CUdevice d = -1;
  EXPECT_EQ(gpool_impl_cuDeviceGet(&d, 2), CUDA_SUCCESS);
  EXPECT_EQ(d, 2);
  EXPECT_EQ(gpool_impl_cuDeviceGet(&d, 3), CUDA_ERROR_INVALID_DEVICE);
  size_t mem = 0;
  ASSERT_EQ(gpool_impl_cuDeviceTotalMem_v2(&mem, 1), CUDA_SUCCESS);
  EXPECT_EQ(mem, size_t{2} << 30);
  ASSERT_EQ(gpool_impl_cuDeviceTotalMem_v2(&mem, 2), CUDA_SUCCESS);
  EXPECT_EQ(mem, size_t{1} << 30);
  int sms = 0;
  ASSERT_EQ(gpool_impl_cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 1), CUDA_SUCCESS);
  EXPECT_EQ(sms, 11);
  CUuuid u0{}, u2{};
  ASSERT_EQ(gpool_impl_cuDeviceGetUuid_v2(&u0, 0), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuDeviceGetUuid_v2(&u2, 2), CUDA_SUCCESS);
  EXPECT_EQ(u0.bytes[0], 'a');
  EXPECT_EQ(u2.bytes[0], 'b');
  EXPECT_EQ(gpool_impl_cuDeviceGetName(nullptr, 8, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 3),
            CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(DevicesTest, NothingAnswersBeforeCuInit) {
  int count = 7;
  EXPECT_EQ(gpool_impl_cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
  CUcontext ctx = nullptr;
  EXPECT_EQ(gpool_impl_cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_ERROR_NOT_INITIALIZED);
}

TEST_F(DevicesTest, EachDeviceHasItsOwnPrimaryContext) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUcontext c[3] = {};
  for (int d = 0; d < 3; ++d) ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRetain(&c[d], d), CUDA_SUCCESS);
  EXPECT_NE(c[0], c[1]);
  EXPECT_NE(c[1], c[2]);
  CUcontext again = nullptr;
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRetain(&again, 2), CUDA_SUCCESS);
  EXPECT_EQ(again, c[2]);
  CUcontext abi_view = nullptr;  // what cudart's CUDART_INTERFACE slot 2 reads
  ASSERT_EQ(gpool_backend_primary_context(1, &abi_view), CUDA_SUCCESS);
  EXPECT_EQ(abi_view, c[1]);
  EXPECT_EQ(gpool_backend_primary_context(3, &abi_view), CUDA_ERROR_INVALID_DEVICE);

  for (int d = 0; d < 3; ++d) {
    ASSERT_EQ(gpool_impl_cuCtxSetCurrent(c[d]), CUDA_SUCCESS);
    CUdevice dev = -1;
    ASSERT_EQ(gpool_impl_cuCtxGetDevice(&dev), CUDA_SUCCESS);
    EXPECT_EQ(dev, d);
  }
  unsigned flags = 0;
  int active = 0;
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxSetFlags_v2(1, CU_CTX_SCHED_BLOCKING_SYNC), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxGetState(1, &flags, &active), CUDA_SUCCESS);
  EXPECT_EQ(flags, unsigned{CU_CTX_SCHED_BLOCKING_SYNC});
  EXPECT_EQ(active, 1);
  // Release is counted per device; the last release synchronises that device's server.
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRelease_v2(2), CUDA_SUCCESS);
  EXPECT_EQ(beta.count(remote::Op::CtxSynchronize), 0u);
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRelease_v2(2), CUDA_SUCCESS);
  EXPECT_EQ(beta.count(remote::Op::CtxSynchronize), 1u);
  EXPECT_EQ(alpha.count(remote::Op::CtxSynchronize), 0u);
  EXPECT_EQ(gpool_impl_cuDevicePrimaryCtxRelease_v2(2), CUDA_ERROR_INVALID_CONTEXT);
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxGetState(2, &flags, &active), CUDA_SUCCESS);
  EXPECT_EQ(active, 0);
}

TEST_F(DevicesTest, CreatedContextsStackAndDestroy) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUcontext mine = nullptr;
  ASSERT_EQ(gpool_impl_cuCtxCreate_v2(&mine, 0, 1), CUDA_SUCCESS);
  CUcontext cur = nullptr;
  ASSERT_EQ(gpool_impl_cuCtxGetCurrent(&cur), CUDA_SUCCESS);
  EXPECT_EQ(cur, mine);  // cuCtxCreate makes it current
  CUdevice dev = -1;
  ASSERT_EQ(gpool_impl_cuCtxGetDevice(&dev), CUDA_SUCCESS);
  EXPECT_EQ(dev, 1);
  CUcontext other = nullptr;
  ASSERT_EQ(gpool_impl_cuCtxCreate_v2(&other, 0, 2), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxGetDevice(&dev), CUDA_SUCCESS);
  EXPECT_EQ(dev, 2);
  CUcontext popped = nullptr;
  ASSERT_EQ(gpool_impl_cuCtxPopCurrent_v2(&popped), CUDA_SUCCESS);
  EXPECT_EQ(popped, other);
  ASSERT_EQ(gpool_impl_cuCtxGetDevice_v2(&dev, other), CUDA_SUCCESS);
  EXPECT_EQ(dev, 2);
  unsigned long long id_a = 0, id_b = 0;
  ASSERT_EQ(gpool_impl_cuCtxGetId(mine, &id_a), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxGetId(other, &id_b), CUDA_SUCCESS);
  EXPECT_NE(id_a, id_b);

  // Destroying the current context pops it; the handle is dead afterwards.
  ASSERT_EQ(gpool_impl_cuCtxDestroy_v2(mine), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxGetCurrent(&cur), CUDA_SUCCESS);
  EXPECT_EQ(cur, nullptr);
  EXPECT_EQ(gpool_impl_cuCtxPushCurrent_v2(mine), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(gpool_impl_cuCtxDestroy_v2(mine), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(gpool_impl_cuCtxGetDevice(&dev), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(gpool_impl_cuCtxCreate_v2(&mine, 0, 3), CUDA_ERROR_INVALID_DEVICE);
  // A primary context cannot be destroyed.
  CUcontext primary = nullptr;
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRetain(&primary, 0), CUDA_SUCCESS);
  EXPECT_EQ(gpool_impl_cuCtxDestroy_v2(primary), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(gpool_impl_cuCtxDestroy_v2(other), CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpool::shim::test
