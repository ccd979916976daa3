// Stream-ordered memory pools, virtual memory management (cuMemCreate/Map) and managed memory.
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using MemPoolTest = DiffTest;
using VmmTest = DiffTest;
using ManagedTest = DiffTest;

TEST_F(MemPoolTest, DefaultAndCreatedPools) {
  CUmemoryPool def = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuDeviceGetDefaultMemPool(&def, dev_));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocAsync(&p, 1 << 16, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(p, 9, 1 << 14, s));
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoHAsync(&v, p + 100, 4, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeAsync(p, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(9, v);

  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = dev_;
  CUmemoryPool pool = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemPoolCreate(&pool, &props));
  cuuint64_t threshold = 1 << 20;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
  cuuint64_t read_back = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &read_back));
  EXPECT_SAME_VALUE(1 << 20, read_back);
  CUdeviceptr q = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocFromPoolAsync(&q, 4096, pool, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(q, 4, 1024, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeAsync(q, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemPoolCreate(&pool, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemPoolDestroy(pool));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

TEST_F(VmmTest, CreateReserveMapAccess) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev_;
  size_t gran = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  ASSERT_GT(gran, 0u);
  record_machine("minimum granularity", static_cast<long long>(gran));
  CUmemGenericAllocationHandle h = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemCreate(&h, gran + 1, &prop, 0)) << "not a granularity multiple";
  ASSERT_CU(CUDA_SUCCESS, api().cuMemCreate(&h, gran, &prop, 0));
  CUdeviceptr va = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAddressReserve(&va, 2 * gran, 0, 0, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemMap(va, gran, 0, h, 0));
  CUmemAccessDesc access{};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemSetAccess(va, gran, &access, 1));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(va, 0x600d, gran / 4));
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, va + gran - 4, 4));
  EXPECT_SAME_VALUE(0x600d, v);
  // The handle behind a mapped address, with a reference of its own: releasing it leaves the
  // allocation usable; an unmapped address has none.
  CUmemGenericAllocationHandle again = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemRetainAllocationHandle(&again, reinterpret_cast<void*>(va + 64)));
  EXPECT_EQ(h, again);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemRelease(again));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, va, 4));
  EXPECT_SAME_VALUE(0x600d, v);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemRetainAllocationHandle(&again, reinterpret_cast<void*>(va + gran)));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemUnmap(va, gran));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemAddressFree(va, 2 * gran));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemRelease(h));
}

TEST_F(ManagedTest, HostAndKernelSeeEachOther) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 4096;
  CUdeviceptr m = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocManaged(&m, n * 4, CU_MEM_ATTACH_GLOBAL));
  auto* host = reinterpret_cast<unsigned*>(m);
  for (unsigned i = 0; i < n; ++i) host[i] = i;
  unsigned count = n;
  void* params[] = {&m, &count};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, n / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_SAME_VALUE(1, host[0]);
  EXPECT_SAME_VALUE(n, host[n - 1]);
  unsigned type = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_IS_MANAGED, m));
  EXPECT_SAME_VALUE(1, type);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemAllocManaged(&m, 0, CU_MEM_ATTACH_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(m));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

}  // namespace
}  // namespace diff
