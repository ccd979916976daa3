// Shim: contexts (contexts.h). Primary contexts (one per device) and created contexts are
// client-side records; on the server each device has one context per session, so every
// context of a device shares its memory, modules and streams. Making a context current routes
// the thread's calls to its device's server and device (pool.h).
#include <atomic>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

constexpr unsigned kCtxFlagsMask = 0xff;  // scheduling, map host, lmem resize, coredump, sync memops

bool valid_device(CUdevice dev) { return Pool::global().device(dev) != nullptr; }

// Waits for the device's work (flushes device output and surfaces late errors, as a context
// teardown does).
CUresult sync_device(int dev) {
  ScopedDevice scope(dev);
  return Session::current().sync(Op::CtxSynchronize, {});
}

// The context a call names: `ctx`, or the current one for NULL. -1 device when neither is live.
int device_of(CUcontext ctx) { return context_device(ctx != nullptr ? ctx : current_context()); }

CUresult create(CUcontext* out, unsigned flags, CUdevice dev) {
  if (out == nullptr || (flags & ~kCtxFlagsMask) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  CUcontext c = create_context(dev, flags);
  if (!push_context(c)) {  // cuCtxCreate makes the new context current
    destroy_context(c);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  *out = c;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRetain(CUcontext* out, CUdevice dev) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  primary_retain(dev);
  *out = primary_context(dev);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  const int left = primary_release(dev);
  if (left < 0) return CUDA_ERROR_INVALID_CONTEXT;
  return left == 0 ? sync_device(dev) : CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease(CUdevice dev) {
  return gpool_impl_cuDevicePrimaryCtxRelease_v2(dev);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  // The server resets the device's context for this session (calls.toml DeviceReset): its
  // allocations are freed and their quota returned, and the sticky error is cleared.
  Session* session = nullptr;
  uint64_t ordinal = 0;
  CUresult st = Pool::global().locate(dev, session, ordinal);
  if (st == CUDA_SUCCESS) st = session->reset_device(ordinal);
  primary_reset(dev);
  gpool::abi::cls_context_destroyed(primary_context(dev));
  return st;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxReset(CUdevice dev) {
  return gpool_impl_cuDevicePrimaryCtxReset_v2(dev);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *flags = context_flags(primary_context(dev));
  *active = primary_retains(dev) > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  // Scheduling flags only affect how the server's worker waits; recorded, not forwarded.
  if ((flags & ~kCtxFlagsMask) != 0) return CUDA_ERROR_INVALID_VALUE;
  primary_set_flags(dev, flags);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags) {
  return gpool_impl_cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

extern "C" CUresult gpool_impl_cuCtxCreate_v2(CUcontext* out, unsigned int flags, CUdevice dev) {
  return create(out, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxCreate(CUcontext* out, unsigned int flags, CUdevice dev) {
  return create(out, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxCreate_v3(CUcontext* out, CUexecAffinityParam* params, int n,
                                              unsigned int flags, CUdevice dev) {
  if (params != nullptr && n > 0) return gpool::abi::unimplemented("cuCtxCreate_v3 with execution affinity");
  return create(out, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxCreate_v4(CUcontext* out, CUctxCreateParams* params,
                                              unsigned int flags, CUdevice dev) {
  if (params != nullptr && (params->numExecAffinityParams > 0 || params->cigParams != nullptr)) {
    return gpool::abi::unimplemented("cuCtxCreate_v4 with execution affinity or CIG parameters");
  }
  return create(out, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxDestroy_v2(CUcontext ctx) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const int dev = context_device(ctx);
  if (dev < 0 || is_primary(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  const CUresult st = sync_device(dev);
  if (!destroy_context(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  gpool::abi::cls_context_destroyed(ctx);
  return st;
}

extern "C" CUresult gpool_impl_cuCtxDestroy(CUcontext ctx) { return gpool_impl_cuCtxDestroy_v2(ctx); }

extern "C" CUresult gpool_impl_cuCtxGetCurrent(CUcontext* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = current_context();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetCurrent(CUcontext ctx) {
  if (ctx != nullptr && context_device(ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  set_current_context(ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxPushCurrent_v2(CUcontext ctx) {
  if (context_device(ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  return push_context(ctx) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

extern "C" CUresult gpool_impl_cuCtxPushCurrent(CUcontext ctx) { return gpool_impl_cuCtxPushCurrent_v2(ctx); }

extern "C" CUresult gpool_impl_cuCtxPopCurrent_v2(CUcontext* out) {
  if (current_context() == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  CUcontext c = pop_context();
  if (out != nullptr) *out = c;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxPopCurrent(CUcontext* out) { return gpool_impl_cuCtxPopCurrent_v2(out); }

extern "C" CUresult gpool_impl_cuCtxGetDevice(CUdevice* dev) {
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const int d = device_of(nullptr);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = d;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetDevice_v2(CUdevice* dev, CUcontext ctx) {
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const int d = device_of(ctx);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = d;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device_of(ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUcontext c = current_context();
  if (context_device(c) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *flags = context_flags(c);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetFlags(unsigned int flags) {
  if ((flags & ~kCtxFlagsMask) != 0) return CUDA_ERROR_INVALID_VALUE;
  return set_context_flags(current_context(), flags) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

extern "C" CUresult gpool_impl_cuCtxGetId(CUcontext ctx, unsigned long long* id) {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const unsigned long long v = context_id(ctx != nullptr ? ctx : current_context());
  if (v == 0) return CUDA_ERROR_INVALID_CONTEXT;
  *id = v;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSynchronize() {
  const int d = device_of(nullptr);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  return Session::current().sync(Op::CtxSynchronize, {});
}

extern "C" CUresult gpool_impl_cuCtxSynchronize_v2(CUcontext ctx) {
  const int d = device_of(ctx);
  if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
  return sync_device(d);
}
