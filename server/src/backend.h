// The driver backend a worker executes calls on: a libcuda.so.1 loaded with dlopen (the real
// NVIDIA driver on GPU nodes, or gpool's emulator). Only the exact exported entry points below
// are used, resolved by name with dlsym.
//
// Ownership: a Driver is owned by one worker process and never unloaded (driver libraries do
// not support dlclose). Thread safety: the function pointers are constant after load().
#pragma once

#include <cuda.h>

#include <string>

namespace gpool::server {

#define GPOOL_DRIVER_FUNCS(X)                                                        \
  X(cuInit) X(cuDriverGetVersion) X(cuDeviceGetCount) X(cuDeviceGet)                 \
  X(cuDeviceGetName) X(cuDeviceTotalMem_v2) X(cuDeviceGetAttribute)                  \
  X(cuDeviceGetUuid_v2) X(cuDevicePrimaryCtxRetain) X(cuCtxSetCurrent)               \
  X(cuCtxSynchronize) X(cuMemAlloc_v2) X(cuMemFree_v2) X(cuMemGetInfo_v2)            \
  X(cuMemcpyHtoD_v2) X(cuMemcpyHtoDAsync_v2) X(cuMemcpyDtoH_v2)                      \
  X(cuMemcpyDtoHAsync_v2) X(cuMemcpyDtoD_v2) X(cuMemcpyDtoDAsync_v2)                 \
  X(cuMemsetD8_v2) X(cuMemsetD16_v2) X(cuMemsetD32_v2) X(cuMemsetD8Async)            \
  X(cuMemsetD16Async) X(cuMemsetD32Async) X(cuModuleLoadData) X(cuModuleUnload)      \
  X(cuModuleGetFunction) X(cuModuleGetGlobal_v2) X(cuLibraryLoadData)                \
  X(cuLibraryUnload) X(cuLibraryGetKernel) X(cuLibraryGetGlobal)                     \
  X(cuKernelGetFunction) X(cuFuncGetParamInfo) X(cuFuncGetAttribute)                 \
  X(cuFuncSetAttribute) X(cuLaunchKernel) X(cuLaunchCooperativeKernel)               \
  X(cuStreamCreateWithPriority) X(cuStreamDestroy_v2) X(cuStreamSynchronize)         \
  X(cuStreamQuery) X(cuStreamWaitEvent) X(cuEventCreate) X(cuEventDestroy_v2)        \
  X(cuEventRecordWithFlags) X(cuEventSynchronize) X(cuEventQuery)                    \
  X(cuEventElapsedTime_v2) X(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags) \
  X(cuMemHostAlloc) X(cuMemFreeHost)                                                \
  X(cuCtxGetDevice) X(cuMemAllocPitch_v2) X(cuMemAllocAsync) X(cuMemFreeAsync)       \
  X(cuMemGetAllocationGranularity) X(cuMemAddressReserve) X(cuMemAddressFree)        \
  X(cuMemCreate) X(cuMemRelease) X(cuMemMap) X(cuMemUnmap) X(cuMemSetAccess)         \
  X(cuMemGetAccess) X(cuMemPoolCreate) X(cuMemPoolDestroy) X(cuMemPoolSetAttribute)     \
  X(cuMemPoolGetAttribute) X(cuMemPoolTrimTo) X(cuMemAllocFromPoolAsync)             \
  X(cuMemPoolSetAccess) X(cuMemPoolGetAccess) X(cuDeviceGetDefaultMemPool)           \
  X(cuDeviceSetMemPool) X(cuMemAllocManaged)

struct Driver {
#define GPOOL_DRIVER_MEMBER(name) decltype(&::name) name = nullptr;
  GPOOL_DRIVER_FUNCS(GPOOL_DRIVER_MEMBER)
#undef GPOOL_DRIVER_MEMBER

  // dlopens `path` and resolves every entry point. Returns false with `error` naming the
  // library and the first missing symbol.
  bool load(const std::string& path, std::string& error);
};

}  // namespace gpool::server
