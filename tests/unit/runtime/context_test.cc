// Contexts: primary retain/release/state, created contexts, the per-thread
// stack, limits.
#include "test_util.h"

#include <thread>

TEST(RuntimeContext, PrimaryRetainIsStableAndCounted) {
  ASSERT_CU(cuInit(0));
  CUcontext a = nullptr, b = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&a, 0));
  ASSERT_CU(cuDevicePrimaryCtxRetain(&b, 0));
  EXPECT_EQ(a, b);
  unsigned flags = 99;
  int active = 0;
  ASSERT_CU(cuDevicePrimaryCtxGetState(0, &flags, &active));
  EXPECT_EQ(1, active);
  ASSERT_CU(cuDevicePrimaryCtxRelease(0));
  ASSERT_CU(cuDevicePrimaryCtxRelease(0));
  ASSERT_CU(cuDevicePrimaryCtxGetState(0, &flags, &active));
  EXPECT_EQ(0, active);
  EXPECT_EQ(CUDA_ERROR_INVALID_CONTEXT, cuDevicePrimaryCtxRelease(0));
  ASSERT_CU(cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_BLOCKING_SYNC));
  ASSERT_CU(cuDevicePrimaryCtxGetState(0, &flags, &active));
  EXPECT_EQ(static_cast<unsigned>(CU_CTX_SCHED_BLOCKING_SYNC), flags);
  ASSERT_CU(cuDevicePrimaryCtxSetFlags(0, 0));
}

TEST(RuntimeContext, InactivePrimaryRefusesWork) {
  ASSERT_CU(cuInit(0));
  CUcontext c = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&c, 0));
  ASSERT_CU(cuDevicePrimaryCtxRelease(0));
  ASSERT_CU(cuCtxSetCurrent(c));
  CUdeviceptr p = 0;
  EXPECT_EQ(CUDA_ERROR_INVALID_CONTEXT, cuMemAlloc(&p, 16));
  ASSERT_CU(cuCtxSetCurrent(nullptr));
}

TEST(RuntimeContext, StackPushPopAndCreate) {
  ASSERT_CU(cuInit(0));
  for (CUcontext c = nullptr; cuCtxPopCurrent(&c) == CUDA_SUCCESS;) {
  }
  CUcontext none = reinterpret_cast<CUcontext>(1);
  ASSERT_CU(cuCtxGetCurrent(&none));
  EXPECT_EQ(nullptr, none);
  CUdevice dev = -1;
  EXPECT_EQ(CUDA_ERROR_INVALID_CONTEXT, cuCtxGetDevice(&dev));

  CUcontext created = nullptr;
  ASSERT_CU(cuCtxCreate(&created, nullptr, 0, 0));
  CUcontext cur = nullptr;
  ASSERT_CU(cuCtxGetCurrent(&cur));
  EXPECT_EQ(created, cur);  // cuCtxCreate pushes
  ASSERT_CU(cuCtxGetDevice(&dev));
  EXPECT_EQ(0, dev);
  unsigned long long id1 = 0, id2 = 0;
  ASSERT_CU(cuCtxGetId(created, &id1));

  CUcontext primary = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&primary, 0));
  ASSERT_NE(primary, created);
  ASSERT_CU(cuCtxGetId(primary, &id2));
  EXPECT_NE(id1, id2);
  ASSERT_CU(cuCtxPushCurrent(primary));
  ASSERT_CU(cuCtxGetCurrent(&cur));
  EXPECT_EQ(primary, cur);
  CUcontext popped = nullptr;
  ASSERT_CU(cuCtxPopCurrent(&popped));
  EXPECT_EQ(primary, popped);
  ASSERT_CU(cuCtxGetCurrent(&cur));
  EXPECT_EQ(created, cur);

  // Another thread has its own (empty) stack.
  std::thread([&] {
    CUcontext other = reinterpret_cast<CUcontext>(1);
    EXPECT_CU(cuCtxGetCurrent(&other));
    EXPECT_EQ(nullptr, other);
  }).join();

  ASSERT_CU(cuCtxDestroy(created));
  ASSERT_CU(cuCtxGetCurrent(&cur));
  EXPECT_EQ(nullptr, cur);
  EXPECT_EQ(CUDA_ERROR_INVALID_CONTEXT, cuCtxDestroy(created));
  EXPECT_EQ(CUDA_ERROR_INVALID_CONTEXT, cuCtxPushCurrent(created));
  EXPECT_EQ(CUDA_ERROR_INVALID_CONTEXT, cuCtxPopCurrent(&popped));
  ASSERT_CU(cuDevicePrimaryCtxRelease(0));
}

TEST(RuntimeContext, DestroyReleasesAllocations) {
  ASSERT_CU(cuInit(0));
  CUcontext created = nullptr;
  ASSERT_CU(cuCtxCreate(&created, nullptr, 0, 0));
  size_t free_before = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free_before, &total));
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 1 << 20));
  size_t free_during = 0;
  ASSERT_CU(cuMemGetInfo(&free_during, &total));
  EXPECT_EQ(free_before - (1 << 20), free_during);
  ASSERT_CU(cuCtxDestroy(created));
  CUcontext primary = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&primary, 0));
  ASSERT_CU(cuCtxSetCurrent(primary));
  size_t free_after = 0;
  ASSERT_CU(cuMemGetInfo(&free_after, &total));
  EXPECT_GE(free_after, free_before);
  CUdeviceptr base = 0;
  EXPECT_EQ(CUDA_ERROR_NOT_FOUND, cuMemGetAddressRange(&base, nullptr, p));
  ASSERT_CU(cuDevicePrimaryCtxRelease(0));
  ASSERT_CU(cuCtxSetCurrent(nullptr));
}

class RuntimeContextLimits : public RuntimeTest {};

TEST_F(RuntimeContextLimits, LimitsAndConfig) {
  size_t v = 0;
  ASSERT_CU(cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE));
  EXPECT_EQ(4096u, v);
  ASSERT_CU(cuCtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 1 << 24));
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_MALLOC_HEAP_SIZE));
  EXPECT_EQ(1u << 24, v);
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_PRINTF_FIFO_SIZE));
  EXPECT_GT(v, 0u);
  EXPECT_EQ(CUDA_ERROR_UNSUPPORTED_LIMIT, cuCtxGetLimit(&v, static_cast<CUlimit>(0x77)));
  ASSERT_CU(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
  CUfunc_cache cc;
  ASSERT_CU(cuCtxGetCacheConfig(&cc));
  EXPECT_EQ(CU_FUNC_CACHE_PREFER_SHARED, cc);
  int least = 1, greatest = 1;
  ASSERT_CU(cuCtxGetStreamPriorityRange(&least, &greatest));
  EXPECT_EQ(0, least);
  EXPECT_LT(greatest, 0);
  unsigned ver = 0;
  ASSERT_CU(cuCtxGetApiVersion(nullptr, &ver));
  EXPECT_GE(ver, 3020u);
  ASSERT_CU(cuCtxSynchronize());
}

// The CIG limits of CUDA 12.8+: an emulated context is never a CIG context. cuBLASLt's context
// setup (cublasCreate) copies no device properties into the handle unless CIG_ENABLED answers.
TEST_F(RuntimeContextLimits, CigLimits) {
  size_t v = 7;
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_CIG_ENABLED));
  EXPECT_EQ(0u, v);
  EXPECT_EQ(CUDA_ERROR_UNSUPPORTED_LIMIT, cuCtxSetLimit(CU_LIMIT_CIG_ENABLED, 1));
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_SHMEM_SIZE));
  int optin = 0;
  ASSERT_CU(cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));
  EXPECT_EQ(static_cast<size_t>(optin), v);
  EXPECT_EQ(CUDA_ERROR_UNSUPPORTED_LIMIT, cuCtxSetLimit(CU_LIMIT_SHMEM_SIZE, 1024));
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED));
  EXPECT_EQ(1u, v);
  ASSERT_CU(cuCtxSetLimit(CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED, 0));
  ASSERT_CU(cuCtxGetLimit(&v, CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED));
  EXPECT_EQ(0u, v);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuCtxSetLimit(CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED, 2));
  ASSERT_CU(cuCtxSetLimit(CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED, 1));
}
