// Device queries, attributes and contexts: the same expectations on every backend.
#include "suite.h"

namespace diff {
namespace {

using DeviceTest = DiffTest;
using ContextTest = DiffTest;

TEST_F(DeviceTest, CountAndHandles) {
  int count = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuDeviceGetCount(&count));
  EXPECT_GE(count, 1);
  record_machine("device count", count);
  CUdevice d = -1;
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGet(&d, 0));
  EXPECT_SAME_VALUE(0, d);
  EXPECT_CU(CUDA_ERROR_INVALID_DEVICE, api().cuDeviceGet(&d, count));
  EXPECT_CU(CUDA_ERROR_INVALID_DEVICE, api().cuDeviceGet(&d, -1));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuDeviceGetCount(nullptr));
}

TEST_F(DeviceTest, VersionNameMemoryUuid) {
  int version = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuDriverGetVersion(&version));
  EXPECT_GE(version, 12000) << "a CUDA 12/13 driver";
  record_machine("driver version", version);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuDriverGetVersion(nullptr));
  char name[256] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetName(name, sizeof name, dev_));
  EXPECT_GT(std::string(name).size(), 0u);
  size_t total = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceTotalMem(&total, dev_));
  EXPECT_GT(total, size_t{1} << 28) << "at least 256 MiB of device memory";
  CUuuid uuid{};
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetUuid(&uuid, dev_));
  EXPECT_CU(CUDA_ERROR_INVALID_DEVICE, api().cuDeviceGetName(name, sizeof name, 4096));
}

TEST_F(DeviceTest, Attributes) {
  int v = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev_));
  EXPECT_SAME_VALUE(32, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, dev_));
  EXPECT_SAME_VALUE(1024, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, dev_));
  EXPECT_SAME_VALUE(64, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, dev_));
  EXPECT_SAME_VALUE(65535, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, dev_));
  EXPECT_SAME_VALUE(1, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, dev_));
  EXPECT_SAME_VALUE(1, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, dev_));
  EXPECT_SAME_VALUE(1, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev_));
  EXPECT_GE(v, 7);
  record_machine("compute capability major", v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev_));
  EXPECT_GE(v, 1);
  record_machine("multiprocessor count", v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, dev_));
  EXPECT_SAME_VALUE(48 * 1024, v);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuDeviceGetAttribute(&v, static_cast<CUdevice_attribute>(100000), dev_));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuDeviceGetAttribute(nullptr, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev_));
  EXPECT_CU(CUDA_ERROR_INVALID_DEVICE, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 4096));
}

TEST_F(ContextTest, PrimaryContextIsCurrent) {
  CUcontext cur = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&cur));
  EXPECT_EQ(ctx_, cur);
  CUdevice d = -1;
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetDevice(&d));
  EXPECT_SAME_VALUE(0, d);
  unsigned flags = 0;
  int active = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuDevicePrimaryCtxGetState(dev_, &flags, &active));
  EXPECT_SAME_VALUE(1, active);
  unsigned api_version = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetApiVersion(ctx_, &api_version));
  EXPECT_GE(api_version, 3020u);
  int least = 0, greatest = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetStreamPriorityRange(&least, &greatest));
  EXPECT_LE(greatest, least) << "a lower number is a higher priority";
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
}

// CUDA 12.8's CIG limits: an ordinary context is not a CUDA-in-Graphics context. cuBLASLt reads
// CU_LIMIT_CIG_ENABLED in cublasCreate and copies no device properties into the handle when the
// query fails with an unexpected error (docs/emulator.md, "CUDA libraries").
TEST_F(ContextTest, CigLimitsOfAnOrdinaryContext) {
  size_t v = 7;
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetLimit(&v, CU_LIMIT_CIG_ENABLED));
  EXPECT_SAME_VALUE(size_t{0}, v);
}

TEST_F(ContextTest, PushPopAndNoContext) {
  CUcontext popped = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxPopCurrent(&popped));
  EXPECT_EQ(ctx_, popped);
  CUcontext cur = reinterpret_cast<CUcontext>(1);
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&cur));
  EXPECT_EQ(nullptr, cur) << "nothing current after popping the only context";
  CUdeviceptr p = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_CONTEXT, api().cuMemAlloc(&p, 256));
  EXPECT_CU(CUDA_ERROR_INVALID_CONTEXT, api().cuCtxSynchronize());
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxPushCurrent(ctx_));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&cur));
  EXPECT_EQ(ctx_, cur);
}

TEST_F(ContextTest, CreatedContextOwnsItsMemory) {
  CUcontext created = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxCreate(&created, nullptr, 0, dev_));
  CUcontext cur = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&cur));
  EXPECT_EQ(created, cur) << "cuCtxCreate makes the new context current";
  CUdeviceptr p = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 4096));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(p, 7, 1024));
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, p + 4092, 4));
  EXPECT_SAME_VALUE(7, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxDestroy(created));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSetCurrent(ctx_));
}

}  // namespace
}  // namespace diff
