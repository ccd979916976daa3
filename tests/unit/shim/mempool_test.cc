// Memory pools in the shim (client-shim/src/mempool.cc): a pool belongs to the server of its
// device and its calls go there with that server's ordinal; forged, destroyed and unsupported
// pools are refused before anything is sent.
#include "shim_fixture.h"

namespace gpool::shim::test {
namespace {

using remote::Op;
using MemPoolTest = ShimTest;

CUmemPoolProps device_props(int dev) {
  CUmemPoolProps p{};
  p.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  p.location.id = dev;
  return p;
}

// The calls of opcode `op` that `s` received.
std::vector<FakeServer::Call> calls_of(const FakeServer& s, Op op) {
  std::vector<FakeServer::Call> out;
  for (const auto& c : s.calls()) {
    if (c.op == op) out.push_back(c);
  }
  return out;
}

TEST_F(MemPoolTest, APoolLivesOnTheServerOfItsDevice) {
  FakeServer alpha("alpha", 2), beta("beta", 2);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUmemPoolProps props = device_props(3);  // beta's device 1
  props.maxSize = 1 << 20;
  CUmemoryPool pool = nullptr;
  ASSERT_EQ(gpool_impl_cuMemPoolCreate(&pool, &props), CUDA_SUCCESS);
  EXPECT_EQ(alpha.count(Op::MemPoolCreate), 0u);
  const auto created = calls_of(beta, Op::MemPoolCreate);
  ASSERT_EQ(created.size(), 1u);
  ASSERT_EQ(created[0].args.size(), 4u);
  EXPECT_EQ(created[0].args[0], reinterpret_cast<uint64_t>(pool));  // the handle is the wire id
  EXPECT_EQ(created[0].args[1], 1u);                                // beta's own ordinal
  EXPECT_EQ(created[0].args[2], 0u);                                // no handle types
  EXPECT_EQ(created[0].args[3], 1u << 20);

  int one = 1;
  ASSERT_EQ(gpool_impl_cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &one), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuMemPoolTrimTo(pool, 0), CUDA_SUCCESS);
  EXPECT_EQ(beta.count(Op::MemPoolSetAttribute), 1u);
  EXPECT_EQ(beta.count(Op::MemPoolTrimTo), 1u);
  EXPECT_EQ(alpha.count(Op::MemPoolSetAttribute) + alpha.count(Op::MemPoolTrimTo), 0u);

  // The calling thread is on alpha: it cannot allocate from a pool on beta.
  use_device(0);
  CUdeviceptr p = 0;
  EXPECT_EQ(gpool_impl_cuMemAllocFromPoolAsync(&p, 4096, pool, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(alpha.count(Op::MemAllocFromPool) + beta.count(Op::MemAllocFromPool), 0u);

  // Access from a device of the other server is refused (memory cannot cross machines).
  CUmemAccessDesc d{};
  d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  d.location.id = 0;
  d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  EXPECT_EQ(gpool_impl_cuMemPoolSetAccess(pool, &d, 1), CUDA_ERROR_NOT_SUPPORTED);
  CUmemAccess_flags f = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  EXPECT_EQ(gpool_impl_cuMemPoolGetAccess(&f, pool, &d.location), CUDA_SUCCESS);
  EXPECT_EQ(f, CU_MEM_ACCESS_FLAGS_PROT_NONE);
  EXPECT_EQ(beta.count(Op::MemPoolSetAccess) + beta.count(Op::MemPoolGetAccess), 0u);

  // cuDeviceSetMemPool: only on the pool's own device; then cuDeviceGetMemPool returns it.
  EXPECT_EQ(gpool_impl_cuDeviceSetMemPool(2, pool), CUDA_ERROR_INVALID_VALUE);
  ASSERT_EQ(gpool_impl_cuDeviceSetMemPool(3, pool), CUDA_SUCCESS);
  const auto set = calls_of(beta, Op::DeviceSetMemPool);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].args, (std::vector<uint64_t>{1, reinterpret_cast<uint64_t>(pool)}));
  CUmemoryPool cur = nullptr;
  ASSERT_EQ(gpool_impl_cuDeviceGetMemPool(&cur, 3), CUDA_SUCCESS);
  EXPECT_EQ(cur, pool);

  // Destroying it makes the device's current pool the default one again.
  ASSERT_EQ(gpool_impl_cuMemPoolDestroy(pool), CUDA_SUCCESS);
  CUmemoryPool def = nullptr;
  ASSERT_EQ(gpool_impl_cuDeviceGetDefaultMemPool(&def, 3), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuDeviceGetMemPool(&cur, 3), CUDA_SUCCESS);
  EXPECT_EQ(cur, def);
  EXPECT_EQ(gpool_impl_cuMemPoolTrimTo(pool, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(beta.count(Op::MemPoolTrimTo), 1u);
}

TEST_F(MemPoolTest, DefaultPoolsAreNamedByTheServersOrdinal) {
  FakeServer alpha("alpha", 1), beta("beta", 2);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  CUmemoryPool def = nullptr;
  ASSERT_EQ(gpool_impl_cuDeviceGetDefaultMemPool(&def, 2), CUDA_SUCCESS);  // beta's device 1
  ASSERT_EQ(gpool_impl_cuMemPoolTrimTo(def, 0), CUDA_SUCCESS);
  const auto trims = calls_of(beta, Op::MemPoolTrimTo);
  ASSERT_EQ(trims.size(), 1u);
  EXPECT_EQ(trims[0].args.at(0), 2u);  // 1 + beta's ordinal 1
  EXPECT_EQ(gpool_impl_cuMemPoolDestroy(def), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(beta.count(Op::MemPoolDestroy), 0u);
  EXPECT_EQ(gpool_impl_cuDeviceGetDefaultMemPool(&def, 3), CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(MemPoolTest, ForgedAndUnsupportedPoolsSendNothing) {
  FakeServer alpha("alpha", 1);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  CUmemPoolProps props = device_props(0);
  CUmemoryPool pool = nullptr;
  ASSERT_EQ(gpool_impl_cuMemPoolCreate(&pool, &props), CUDA_SUCCESS);
  const size_t before = alpha.calls().size();

  const auto forged = reinterpret_cast<CUmemoryPool>(reinterpret_cast<uintptr_t>(pool) + 1);
  cuuint64_t v = 0;
  CUdeviceptr p = 0;
  EXPECT_EQ(gpool_impl_cuMemPoolGetAttribute(forged, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &v), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuMemAllocFromPoolAsync(&p, 64, forged, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuMemPoolDestroy(forged), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuMemPoolTrimTo(nullptr, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(gpool_impl_cuMemPoolGetAttribute(pool, static_cast<CUmemPool_attribute>(99), &v), CUDA_ERROR_INVALID_VALUE);

  CUmemPoolProps ipc = props;
  ipc.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  EXPECT_EQ(gpool_impl_cuMemPoolCreate(&pool, &ipc), CUDA_ERROR_NOT_SUPPORTED);
  CUmemPoolProps host = props;
  host.location.type = CU_MEM_LOCATION_TYPE_HOST;
  EXPECT_EQ(gpool_impl_cuMemPoolCreate(&pool, &host), CUDA_ERROR_NOT_SUPPORTED);
  CUmemPoolProps nodev = props;
  nodev.location.id = 7;
  EXPECT_EQ(gpool_impl_cuMemPoolCreate(&pool, &nodev), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(alpha.calls().size(), before);
}

}  // namespace
}  // namespace gpool::shim::test
