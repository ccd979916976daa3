// Shim: streams under client-chosen ids (creation and destruction are async).
#include <algorithm>
#include <map>
#include <mutex>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

struct StreamInfo { unsigned flags; int priority; int device; };
std::mutex g_mu;
std::map<uint64_t, StreamInfo>& streams() {
  static auto* m = new std::map<uint64_t, StreamInfo>();
  return *m;
}

// What `s` was created with. The NULL, legacy and per-thread streams (ids 0-2) are not in the
// table: they report flags 0 and priority 0 and set `builtin`. INVALID_HANDLE for an unknown id.
CUresult find_stream(CUstream s, StreamInfo& out, bool& builtin) {
  const uint64_t id = stream_id(s);
  builtin = id <= 2;
  if (builtin) {
    out = {0, 0, std::max(current_device(), 0)};
    return CUDA_SUCCESS;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = streams().find(id);
  if (it == streams().end()) return CUDA_ERROR_INVALID_HANDLE;
  out = it->second;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamCreateWithPriority(CUstream* out, unsigned int flags, int priority) {
  if (out == nullptr || (flags & ~1u) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t id = new_id(IdKind::kStream);
  const uint64_t args[] = {flags, static_cast<uint64_t>(static_cast<int64_t>(priority))};
  const HandleRef h[] = {HandleRef(id, gpool::remote::HandleKind_Stream)};
  if (CUresult st = Session::instance().async(Op::StreamCreate, args, h); st != CUDA_SUCCESS) return st;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    streams()[id] = {flags, priority, std::max(current_device(), 0)};
  }
  *out = reinterpret_cast<CUstream>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamCreate(CUstream* out, unsigned int flags) {
  return gpool_impl_cuStreamCreateWithPriority(out, flags, 0);
}

extern "C" CUresult gpool_impl_cuStreamDestroy_v2(CUstream s) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  {
    std::lock_guard<std::mutex> lock(g_mu);
    streams().erase(stream_id(s));
  }
  return Session::instance().async(Op::StreamDestroy, {}, h);
}

extern "C" CUresult gpool_impl_cuStreamDestroy(CUstream s) { return gpool_impl_cuStreamDestroy_v2(s); }

extern "C" CUresult gpool_impl_cuStreamSynchronize(CUstream s) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  return Session::instance().sync(Op::StreamSynchronize, {}, h);
}

extern "C" CUresult gpool_impl_cuStreamQuery(CUstream s) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  return Session::instance().sync(Op::StreamQuery, {}, h);
}

extern "C" CUresult gpool_impl_cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s), HandleRef(reinterpret_cast<uint64_t>(e), gpool::remote::HandleKind_Event)};
  const uint64_t args[] = {flags};
  return Session::instance().async(Op::StreamWaitEvent, args, h);
}

extern "C" CUresult gpool_impl_cuStreamGetFlags(CUstream s, unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  StreamInfo info{};
  bool builtin = false;
  if (CUresult st = find_stream(s, info, builtin); st != CUDA_SUCCESS) return st;
  *flags = info.flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetPriority(CUstream s, int* priority) {
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  StreamInfo info{};
  bool builtin = false;
  if (CUresult st = find_stream(s, info, builtin); st != CUDA_SUCCESS) return st;
  *priority = info.priority;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetCtx(CUstream s, CUcontext* ctx) {
  if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  StreamInfo info{};
  bool builtin = false;
  if (CUresult st = find_stream(s, info, builtin); st != CUDA_SUCCESS) return st;
  // Streams belong to the device, not to one of its client-side contexts (contexts.h); the
  // built-in streams belong to whichever context is current.
  if (builtin && current_context() != nullptr) {
    *ctx = current_context();
  } else {
    *ctx = builtin ? primary_context() : primary_context(info.device);
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetCtx_v2(CUstream s, CUcontext* ctx, CUgreenCtx* green) {
  if (ctx == nullptr || green == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *green = nullptr;  // the shim has no green contexts
  return gpool_impl_cuStreamGetCtx(s, ctx);
}

extern "C" CUresult gpool_impl_cuStreamGetDevice(CUstream s, CUdevice* dev) {
  if (dev == nullptr) return CUDA_ERROR_INVALID_VALUE;
  StreamInfo info{};
  bool builtin = false;
  if (CUresult st = find_stream(s, info, builtin); st != CUDA_SUCCESS) return st;
  if (builtin) {
    const int d = context_device(current_context());
    if (d < 0) return CUDA_ERROR_INVALID_CONTEXT;
    *dev = d;
  } else {
    *dev = info.device;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetId(CUstream s, unsigned long long* id) {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *id = stream_id(s);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  thread_local CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  std::swap(*mode, t_mode);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  if (least) *least = 0;
  if (greatest) *greatest = 0;
  return CUDA_SUCCESS;
}
