// A tiny driver backend for driver-abi's tests, linked into its own libcuda.so.1
// (build-*/tests/unit/abi/testdriver/). It implements just enough for the abi to be exercised
// through the real exported symbols:
//   * cuDriverGetVersion (13000), cuDeviceGetCount/Get/GetUuid/GetAttribute for N devices
//     (N from GPOOL_ABI_TEST_DEVICES, default 2) with fixed UUIDs and PCI ids;
//   * contexts: cuCtxCreate_v2, cuCtxDestroy_v2, cuCtxGetCurrent, cuCtxSetCurrent,
//     cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxReset (v1), the primary-context hook;
//     destruction and reset call gpool::abi::cls_context_destroyed;
//   * cuMemcpyDtoH_v2, which writes per_thread_default_stream() into the first destination byte
//     (so a test can observe the _ptds fallback through public entry points only);
//   * cuModuleLoadData / cuModuleLoadFatBinary, which record the image pointer as the module;
//   * cuModuleGetFunctionCount / cuModuleEnumerateFunctions: a module (image) whose first byte
//     is N has N functions, module + 1 ... module + N (cuFFT table slot 7 is built on them).
// Everything else stays unimplemented on purpose.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "gpool/driver_abi/backend.h"

namespace {

struct CUctx_st_test {
  int device;
  bool primary;
};

int device_count() {
  const char* v = std::getenv("GPOOL_ABI_TEST_DEVICES");
  int n = v != nullptr ? std::atoi(v) : 2;
  return n < 0 ? 0 : (n > 8 ? 8 : n);
}

std::mutex g_mu;
std::set<CUcontext>* g_live = new std::set<CUcontext>();  // GUARDED_BY(g_mu)
CUctx_st_test g_primary[8] = {{0, true}, {1, true}, {2, true}, {3, true},
                              {4, true}, {5, true}, {6, true}, {7, true}};
thread_local CUcontext t_current = nullptr;

CUcontext as_ctx(CUctx_st_test* c) { return reinterpret_cast<CUcontext>(c); }

bool valid_device(CUdevice d) { return d >= 0 && d < device_count(); }

}  // namespace

extern "C" const char* gpool_backend_name() { return "test"; }

extern "C" CUresult gpool_backend_primary_context(CUdevice dev, CUcontext* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *out = as_ctx(&g_primary[dev]);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDriverGetVersion(int* v) {
  if (v == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *v = 13000;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetCount(int* n) {
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *n = device_count();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGet(CUdevice* d, int ordinal) {
  if (d == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
  *d = ordinal;
  return CUDA_SUCCESS;
}

// UUID fa ce c0 de 01 02 .. 0b (0c + ordinal), as in the facts' worked example C.
extern "C" CUresult gpool_impl_cuDeviceGetUuid(CUuuid* uuid, CUdevice d) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  const unsigned char bytes[16] = {0xfa, 0xce, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                   static_cast<unsigned char>(12 + d)};
  std::memcpy(uuid->bytes, bytes, 16);
  return CUDA_SUCCESS;
}

// PCI domain 3, bus 0x1a + ordinal, device 5.
extern "C" CUresult gpool_impl_cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib,
                                                     CUdevice d) {
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
  switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: *pi = 3; return CUDA_SUCCESS;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: *pi = 0x1a + d; return CUDA_SUCCESS;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: *pi = 5; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

extern "C" CUresult gpool_impl_cuCtxGetCurrent(CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = t_current;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetCurrent(CUcontext ctx) {
  t_current = ctx;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  return gpool_backend_primary_context(dev, pctx);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxReset(CUdevice dev) {
  CUcontext ctx = nullptr;
  if (CUresult rc = gpool_backend_primary_context(dev, &ctx); rc != CUDA_SUCCESS) return rc;
  gpool::abi::cls_context_destroyed(ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxCreate_v2(CUcontext* pctx, unsigned int, CUdevice dev) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  CUcontext ctx = as_ctx(new CUctx_st_test{dev, false});
  {
    std::lock_guard lock(g_mu);
    g_live->insert(ctx);
  }
  t_current = ctx;
  *pctx = ctx;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxDestroy_v2(CUcontext ctx) {
  {
    std::lock_guard lock(g_mu);
    if (g_live->erase(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  }
  if (t_current == ctx) t_current = nullptr;
  gpool::abi::cls_context_destroyed(ctx);  // no backend lock held
  delete reinterpret_cast<CUctx_st_test*>(ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemcpyDtoH_v2(void* dst, CUdeviceptr, size_t n) {
  if (dst == nullptr || n == 0) return CUDA_ERROR_INVALID_VALUE;
  *static_cast<unsigned char*>(dst) = gpool::abi::per_thread_default_stream() ? 1 : 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleLoadData(CUmodule* module, const void* image) {
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *module = reinterpret_cast<CUmodule>(const_cast<void*>(image));
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleLoadFatBinary(CUmodule* module, const void* fatbin) {
  if (module == nullptr || fatbin == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *module = reinterpret_cast<CUmodule>(const_cast<void*>(fatbin));
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleGetFunctionCount(unsigned int* count, CUmodule mod) {
  if (count == nullptr || mod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = *reinterpret_cast<const unsigned char*>(mod);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleEnumerateFunctions(CUfunction* fns, unsigned int n,
                                                          CUmodule mod) {
  if (fns == nullptr || mod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (n != *reinterpret_cast<const unsigned char*>(mod)) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < n; ++i) {
    fns[i] = reinterpret_cast<CUfunction>(reinterpret_cast<char*>(mod) + i + 1);
  }
  return CUDA_SUCCESS;
}
