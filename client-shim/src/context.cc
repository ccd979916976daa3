// Shim: contexts. The session has one context on the server (the primary context of device 0);
// locally the shim keeps the per-thread current-context stack and the retain count.
#include <atomic>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

thread_local std::vector<CUcontext> t_stack;  // back() is current
std::atomic<int> g_retains{0};

bool is_primary(CUcontext c) { return c == primary_context(); }

}  // namespace

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRetain(CUcontext* out, CUdevice dev) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  ++g_retains;
  *out = primary_context();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (g_retains.load() <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--g_retains == 0) {
    // Last release: flush pending device output and surface late errors, as a context
    // teardown would.
    return Session::instance().sync(Op::CtxSynchronize, {});
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease(CUdevice dev) {
  return gpool_impl_cuDevicePrimaryCtxRelease_v2(dev);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  *flags = 0;
  *active = g_retains.load() > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  // Scheduling flags only affect how the server's worker waits; accepted and not forwarded.
  return flags <= 0x1f ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuCtxGetCurrent(CUcontext* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = t_stack.empty() ? nullptr : t_stack.back();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetCurrent(CUcontext ctx) {
  if (ctx != nullptr && !is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx == nullptr) {
    if (!t_stack.empty()) t_stack.pop_back();
    return CUDA_SUCCESS;
  }
  if (t_stack.empty()) t_stack.push_back(ctx);
  else t_stack.back() = ctx;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxPushCurrent_v2(CUcontext ctx) {
  if (!is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  t_stack.push_back(ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxPopCurrent_v2(CUcontext* out) {
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (out != nullptr) *out = t_stack.back();
  t_stack.pop_back();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetDevice(CUdevice* dev) {
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ctx != nullptr && !is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  *flags = 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetId(CUcontext ctx, unsigned long long* id) {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ctx == nullptr && t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx != nullptr && !is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  *id = 1;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSynchronize() {
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  return Session::instance().sync(Op::CtxSynchronize, {});
}

extern "C" CUresult gpool_impl_cuCtxGetDevice_v2(CUdevice* dev, CUcontext ctx) {
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ctx != nullptr && !is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx == nullptr && t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSynchronize_v2(CUcontext ctx) {
  if (ctx != nullptr && !is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx == nullptr && t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  return Session::instance().sync(Op::CtxSynchronize, {});
}
