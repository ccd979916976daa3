// Shim: entry points answered from what the shim already knows (the attach cache of devices,
// its function, stream and range tables), with no wire traffic:
//   devices   cuDeviceGetByPCIBusId, cuDeviceGetLuid, cuDeviceGetProperties,
//             cuDeviceGetP2PAttribute
//   peers     cuCtxEnablePeerAccess / cuCtxDisablePeerAccess: the shim offers no peer access
//             (cuDeviceCanAccessPeer answers 0; across servers it cannot exist), so enabling it
//             fails as the driver's does for a pair without it
//   pointers  cuPointerSetAttribute (CU_POINTER_ATTRIBUTE_SYNC_MEMOPS only, as the emulator)
//   functions cuFuncGetModule, cuKernelGetLibrary, cuFuncIsLoaded, cuFuncLoad
// Errors follow the driver: bad pointers CUDA_ERROR_INVALID_VALUE, unknown handles
// CUDA_ERROR_INVALID_HANDLE, unknown devices CUDA_ERROR_INVALID_DEVICE.
#include <cstdio>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

const gpool::remote::DeviceInfo* device(CUdevice dev) { return Pool::global().device(dev); }

int attr(CUdevice dev, CUdevice_attribute a) {
  const auto* d = device(dev);
  return d == nullptr || a <= 0 || a >= gpool::remote::kAttrCount ? 0 : d->attrs[static_cast<size_t>(a)];
}

}  // namespace

extern "C" CUresult gpool_impl_cuDeviceGetByPCIBusId(CUdevice* dev, const char* bus_id) {
  if (dev == nullptr || bus_id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  // [domain:]bus:device[.function], hexadecimal (the forms cuDeviceGetPCIBusId writes).
  unsigned domain = 0, bus = 0, devno = 0, fn = 0;
  if (std::sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &devno, &fn) < 3) {
    domain = 0;
    if (std::sscanf(bus_id, "%x:%x.%x", &bus, &devno, &fn) < 2) return CUDA_ERROR_INVALID_VALUE;
  }
  int count = 0;
  if (CUresult st = gpool_impl_cuDeviceGetCount(&count); st != CUDA_SUCCESS) return st;
  for (int i = 0; i < count; ++i) {
    if (static_cast<unsigned>(attr(i, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID)) == domain &&
        static_cast<unsigned>(attr(i, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)) == bus &&
        static_cast<unsigned>(attr(i, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)) == devno) {
      *dev = i;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_DEVICE;
}

extern "C" CUresult gpool_impl_cuDeviceGetLuid(char* luid, unsigned int* mask, CUdevice dev) {
  (void)luid;
  (void)mask;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  return CUDA_ERROR_NOT_SUPPORTED;  // LUIDs exist on Windows only (as the driver on Linux)
}

extern "C" CUresult gpool_impl_cuDeviceGetProperties(CUdevprop* prop, CUdevice dev) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  CUdevprop p{};
  p.maxThreadsPerBlock = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
  p.maxThreadsDim[0] = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
  p.maxThreadsDim[1] = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
  p.maxThreadsDim[2] = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
  p.maxGridSize[0] = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
  p.maxGridSize[1] = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
  p.maxGridSize[2] = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
  p.sharedMemPerBlock = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
  p.totalConstantMemory = attr(dev, CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY);
  p.SIMDWidth = attr(dev, CU_DEVICE_ATTRIBUTE_WARP_SIZE);
  p.memPitch = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_PITCH);
  p.regsPerBlock = attr(dev, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
  p.clockRate = attr(dev, CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
  p.textureAlign = attr(dev, CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT);
  *prop = p;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attrib,
                                                       CUdevice src, CUdevice dst) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (device(src) == nullptr || device(dst) == nullptr || src == dst) return CUDA_ERROR_INVALID_DEVICE;
  switch (attrib) {
    // No peer access through the shim (cuDeviceCanAccessPeer answers 0): nothing is supported.
    case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK:
    case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_ONLY_PARTIAL_NATIVE_ATOMIC_SUPPORTED:
      *value = 0;
      return CUDA_SUCCESS;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

extern "C" CUresult gpool_impl_cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const int self = context_device(current_context());
  if (self < 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  const int other = context_device(peer);
  if (other < 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (other == self) return CUDA_ERROR_INVALID_DEVICE;
  return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
}

extern "C" CUresult gpool_impl_cuCtxDisablePeerAccess(CUcontext peer) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (context_device(current_context()) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (context_device(peer) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;  // it never is (above)
}

extern "C" CUresult gpool_impl_cuPointerSetAttribute(const void* value, CUpointer_attribute attribute,
                                                     CUdeviceptr ptr) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr base = 0;
  size_t bytes = 0;
  if (!find_device_range(ptr, &base, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  // Memory operations through the pool are ordered on the server's streams already: a
  // synchronous copy or memset never overlaps other work on the same memory.
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuFuncGetModule(CUmodule* mod, CUfunction fn) {
  if (mod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const auto f = find_function(reinterpret_cast<uint64_t>(fn));
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (f->kernel) return gpool::abi::unimplemented("cuFuncGetModule of a library's kernel");
  *mod = reinterpret_cast<CUmodule>(f->owner);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelGetLibrary(CUlibrary* lib, CUkernel k) {
  if (lib == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const auto f = find_function(reinterpret_cast<uint64_t>(k));
  if (!f || !f->kernel) return CUDA_ERROR_INVALID_HANDLE;
  *lib = reinterpret_cast<CUlibrary>(f->owner);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuFuncIsLoaded(CUfunctionLoadingState* state, CUfunction fn) {
  if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!find_function(reinterpret_cast<uint64_t>(fn))) return CUDA_ERROR_INVALID_HANDLE;
  // A function handle exists in the shim only after the server looked it up (module.cc).
  *state = CU_FUNCTION_LOADING_STATE_LOADED;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuFuncLoad(CUfunction fn) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  return find_function(reinterpret_cast<uint64_t>(fn)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
