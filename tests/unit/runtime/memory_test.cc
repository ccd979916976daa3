// The allocation table: bounds, frees, host memory, managed memory, pools.
#include "test_util.h"

#include <cstdint>
#include <cstring>
#include <vector>

using RuntimeMemory = RuntimeTest;

TEST_F(RuntimeMemory, AllocFreeAndInfo) {
  size_t free0 = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free0, &total));
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 1000));
  EXPECT_EQ(0u, p % 256);
  size_t free1 = 0;
  ASSERT_CU(cuMemGetInfo(&free1, &total));
  EXPECT_EQ(free0 - 1024, free1);  // rounded to 256 bytes
  CUdeviceptr base = 0;
  size_t size = 0;
  ASSERT_CU(cuMemGetAddressRange(&base, &size, p + 999));
  EXPECT_EQ(p, base);
  EXPECT_EQ(1000u, size);
  EXPECT_EQ(CUDA_ERROR_NOT_FOUND, cuMemGetAddressRange(&base, &size, p + 1000));
  ASSERT_CU(cuMemFree(p));
  size_t free2 = 0;
  ASSERT_CU(cuMemGetInfo(&free2, &total));
  EXPECT_EQ(free0, free2);
}

TEST_F(RuntimeMemory, BadFreesAreRefused) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 64));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(p + 8));  // not the base
  int local = 0;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(reinterpret_cast<CUdeviceptr>(&local)));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(0xdead0000ull));
  ASSERT_CU(cuMemFree(p));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(p));  // double free
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAlloc(&p, 0));
}

TEST_F(RuntimeMemory, OutOfMemory) {
  size_t free0 = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free0, &total));
  CUdeviceptr p = 0;
  EXPECT_EQ(CUDA_ERROR_OUT_OF_MEMORY, cuMemAlloc(&p, total + 4096));
}

TEST_F(RuntimeMemory, AllocPitch) {
  CUdeviceptr p = 0;
  size_t pitch = 0;
  ASSERT_CU(cuMemAllocPitch(&p, &pitch, 100, 7, 4));
  EXPECT_GE(pitch, 100u);
  EXPECT_EQ(0u, pitch % 256);
  CUdeviceptr base = 0;
  size_t size = 0;
  ASSERT_CU(cuMemGetAddressRange(&base, &size, p));
  EXPECT_EQ(pitch * 7, size);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAllocPitch(&p, &pitch, 100, 7, 3));
  ASSERT_CU(cuMemFree(base));
}

TEST_F(RuntimeMemory, PinnedAndRegisteredHostMemory) {
  void* h = nullptr;
  ASSERT_CU(cuMemHostAlloc(&h, 4096, CU_MEMHOSTALLOC_DEVICEMAP));
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemHostGetDevicePointer(&d, h, 0));
  EXPECT_EQ(reinterpret_cast<CUdeviceptr>(h), d);
  unsigned flags = 0;
  ASSERT_CU(cuMemHostGetFlags(&flags, h));
  EXPECT_EQ(static_cast<unsigned>(CU_MEMHOSTALLOC_DEVICEMAP), flags);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(reinterpret_cast<CUdeviceptr>(h)));
  ASSERT_CU(cuMemFreeHost(h));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFreeHost(h));

  std::vector<char> buf(8192);
  ASSERT_CU(cuMemHostRegister(buf.data(), buf.size(), CU_MEMHOSTREGISTER_DEVICEMAP));
  EXPECT_EQ(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, cuMemHostRegister(buf.data() + 16, 16, 0));
  ASSERT_CU(cuMemHostGetDevicePointer(&d, buf.data() + 100, 0));
  EXPECT_EQ(reinterpret_cast<CUdeviceptr>(buf.data() + 100), d);
  ASSERT_CU(cuMemHostUnregister(buf.data()));
  EXPECT_EQ(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, cuMemHostUnregister(buf.data()));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemHostGetDevicePointer(&d, buf.data(), 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemHostRegister(reinterpret_cast<void*>(0x1000), 4096, 0));
}

TEST_F(RuntimeMemory, ManagedMemoryIsHostAccessible) {
  CUdeviceptr m = 0;
  ASSERT_CU(cuMemAllocManaged(&m, 256, CU_MEM_ATTACH_GLOBAL));
  auto* host = reinterpret_cast<uint32_t*>(m);
  host[3] = 42;
  uint32_t out = 0;
  ASSERT_CU(cuMemcpyDtoH(&out, m + 12, 4));
  EXPECT_EQ(42u, out);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAllocManaged(&m, 256, 7));
  ASSERT_CU(cuMemFree(m));
}

TEST_F(RuntimeMemory, StreamOrderedAllocationAndPools) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAllocAsync(&p, 4096, s));
  ASSERT_CU(cuMemsetD8Async(p, 0x5a, 4096, s));
  unsigned char b = 0;
  ASSERT_CU(cuMemcpyDtoHAsync(&b, p + 4095, 1, s));
  ASSERT_CU(cuMemFreeAsync(p, s));
  ASSERT_CU(cuStreamSynchronize(s));
  EXPECT_EQ(0x5a, b);
  CUdeviceptr base = 0;
  EXPECT_EQ(CUDA_ERROR_NOT_FOUND, cuMemGetAddressRange(&base, nullptr, p));

  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = 0;
  CUmemoryPool pool = nullptr;
  ASSERT_CU(cuMemPoolCreate(&pool, &props));
  cuuint64_t threshold = 1 << 20;
  ASSERT_CU(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
  cuuint64_t got = 0;
  ASSERT_CU(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &got));
  EXPECT_EQ(threshold, got);
  ASSERT_CU(cuMemAllocFromPoolAsync(&p, 1000, pool, s));
  ASSERT_CU(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &got));
  EXPECT_EQ(1000u, got);
  CUmemoryPool owner = nullptr;
  ASSERT_CU(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, p));
  EXPECT_EQ(pool, owner);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemPoolDestroy(pool));  // still in use
  ASSERT_CU(cuMemFreeAsync(p, s));
  ASSERT_CU(cuStreamSynchronize(s));
  ASSERT_CU(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &got));
  EXPECT_EQ(0u, got);
  ASSERT_CU(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &got));
  EXPECT_EQ(1000u, got);
  ASSERT_CU(cuMemPoolTrimTo(pool, 0));
  ASSERT_CU(cuMemPoolDestroy(pool));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemPoolTrimTo(pool, 0));
  ASSERT_CU(cuStreamDestroy(s));
}
