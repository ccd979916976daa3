// Shim: initialisation, driver version and devices, all answered locally from the attach cache
// (except cuInit, which attaches to every server in GPOOL_SERVER). Device ordinals are global
// across the servers (pool.h).
#include <cstdlib>
#include <cstring>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

const gpool::remote::DeviceInfo* device(CUdevice dev) { return Pool::global().device(dev); }

}  // namespace

extern "C" const char* gpool_backend_name() { return "shim"; }

extern "C" CUresult gpool_backend_primary_context(CUdevice dev, CUcontext* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *out = primary_context(dev);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return Pool::global().init();
}

extern "C" CUresult gpool_impl_cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;  // the ABI this shim implements; the server's is in the attach data
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  *count = Pool::global().device_count();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGet(CUdevice* out, int ordinal) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (device(ordinal) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *out = ordinal;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetName(char* name, int len, CUdevice dev) {
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return check_ready() != CUDA_SUCCESS ? CUDA_ERROR_NOT_INITIALIZED : CUDA_ERROR_INVALID_DEVICE;
  const std::string& full = d->name;
  std::snprintf(name, static_cast<size_t>(len), "%s", full.c_str());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = d->total_mem;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceTotalMem(unsigned int* bytes, CUdevice dev) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = static_cast<unsigned>(std::min<uint64_t>(d->total_mem, 0xffffffffu));
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetAttribute(int* value, CUdevice_attribute attr, CUdevice dev) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (attr <= 0 || attr >= gpool::remote::kAttrCount) return CUDA_ERROR_INVALID_VALUE;
  switch (attr) {
    // Managed memory as the shim provides it (managed.h), whatever the server's device does:
    // supported, but never used by host and device at once, and no pageable-memory access.
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
      *value = 1;
      return CUDA_SUCCESS;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES:
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST:
    // What the shim does not offer, whatever the server's device can do (docs/architecture.md,
    // "Client shim"): the host and the device share no memory bus (no host-native atomics, no
    // device access to registered host memory at its own address: cuMemHostRegister with
    // DEVICEMAP is refused), clusters of more than one block are refused by cuLaunchKernelEx,
    // and no shareable handle, IPC, RDMA or multicast is forwarded (stream memory operations are:
    // their attributes are the server's, memop.cc).
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
    case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
      *value = 0;
      return CUDA_SUCCESS;
    // Mapped host memory is served by managed memory (memory.cc), so it is supported.
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
      *value = 1;
      return CUDA_SUCCESS;
    default:
      break;
  }
  *value = d->attrs[static_cast<size_t>(attr)];
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::memcpy(uuid->bytes, d->uuid.data(), 16);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) {
  return gpool_impl_cuDeviceGetUuid_v2(uuid, dev);
}

extern "C" CUresult gpool_impl_cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *major = d->attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
  *minor = d->attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetPCIBusId(char* out, int len, CUdevice dev) {
  if (out == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  const auto* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(out, static_cast<size_t>(len), "%08x:%02x:%02x.0",
                d->attrs[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID], d->attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID],
                d->attrs[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceCanAccessPeer(int* can, CUdevice dev, CUdevice peer) {
  if (can == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr || device(peer) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *can = 0;  // peer access is not offered (across servers it cannot exist)
  return CUDA_SUCCESS;
}

// Lazy loading, as the CUDA 13 driver (and the emulator) by default: the runtime then loads a
// module when one of its kernels is first used, so a module the server's backend refuses fails
// only the program that uses it. CUDA_MODULE_LOADING=EAGER (the driver's variable) asks for
// eager loading: the runtime loads every module at its first call. The shim itself loads a
// module when asked (each load is one call to the server).
extern "C" CUresult gpool_impl_cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const char* env = std::getenv("CUDA_MODULE_LOADING");
  *mode = env != nullptr && std::strcmp(env, "EAGER") == 0 ? CU_MODULE_EAGER_LOADING : CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}
