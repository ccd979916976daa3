// Shim: the session's side of managed memory (managed.h): which calls push the host's dirty
// pages, which calls pull the host copies back, and the copies themselves on this session's
// ordered stream. Called with the session's mutex held.
#include "hostfn.h"
#include "managed.h"
#include "session.h"

namespace gpool::shim {
namespace {

// Calls after which the device copy of a managed allocation may differ from the host copy.
bool writes_device(Op op) {
  switch (op) {
    case Op::LaunchKernel:
    case Op::GraphLaunch:  // its kernel, copy and memset nodes
    case Op::MemcpyArray:
    case Op::MemcpyHtoD:
    case Op::MemcpyDtoD:
    case Op::Memset:
      return true;
    default:
      return false;
  }
}

}  // namespace

CUresult Session::managed_before_locked(Op op) {
  if (!managed::any(index_)) return CUDA_SUCCESS;
  if (wire_.dead() != CUDA_SUCCESS) return wire_.dead();
  if (wire_.context_error() != CUDA_SUCCESS) return wire_.context_error();
  // Synchronous H2D copies on the NULL stream: they complete before anything queued after them
  // runs, whatever stream the next call uses.
  const HandleRef null_stream[] = {HandleRef(0, remote::HandleKind_Stream)};
  const CUresult st = managed::push_dirty(index_, [&](uintptr_t dst, const void* src, size_t n) {
    const uint64_t args[] = {dst, n, 1u};
    const transport::ConstBytes seg{static_cast<const std::byte*>(src), n};
    return forward_locked(Op::MemcpyHtoD, true, args, null_stream, {}, {&seg, 1});
  });
  if (st != CUDA_SUCCESS) return st;
  if (writes_device(op)) device_wrote_ = true;
  return CUDA_SUCCESS;
}

CUresult Session::managed_after_locked(Op op, CUresult call_status) {
  // A stream or event query pulls nothing: work on other streams may still be writing, and the
  // host may not look at managed memory before a synchronisation anyway.
  if (!device_wrote_ || op == Op::StreamQuery || op == Op::EventQuery || !managed::any(index_)) {
    return call_status;
  }
  if (wire_.dead() != CUDA_SUCCESS || wire_.context_error() != CUDA_SUCCESS) {
    // Nothing can be fetched any more: the host keeps its last copies, readable again.
    managed::unlock(index_);
    return call_status;
  }
  // Every stream of the context must be done (non-blocking streams included) before the device
  // copies are final and the flag can be cleared.
  if (op != Op::CtxSynchronize) {
    if (CUresult st = sync_locked(Op::CtxSynchronize, {}, {}, {}, {}, nullptr, {}); st != CUDA_SUCCESS) {
      return call_status != CUDA_SUCCESS ? call_status : st;
    }
  }
  device_wrote_ = false;
  const CUresult st = managed::pull_all(index_, [&](uintptr_t src, void* host, size_t n) {
    return fetch_locked(src, host, n);
  });
  return call_status != CUDA_SUCCESS ? call_status : st;
}

CUresult Session::fetch_locked(uintptr_t src, void* host, size_t n) {
  const HandleRef null_stream[] = {HandleRef(0, remote::HandleKind_Stream)};
  // accept_chunks = 1: the bytes land in the host copy as they arrive (memcpy.cc does the same).
  const uint64_t args[] = {src, n, 1u, 1u};
  const transport::MutableBytes dest{static_cast<std::byte*>(host), n};
  return sync_locked(Op::MemcpyDtoH, args, null_stream, {}, {}, nullptr, {&dest, 1});
}

void Session::managed_lock_locked(Op op, std::span<const HandleRef> handles) {
  // Every call that starts kernels: a kernel launch (cuLaunchKernel, cuLaunchKernelEx,
  // cooperative launches; handles [function, stream]) and a graph launch (handles [stream]).
  uint64_t stream = 0;
  if (op == Op::LaunchKernel) {
    stream = handles.size() > 1 ? handles[1].id() : 0;
  } else if (op == Op::GraphLaunch) {
    stream = handles.empty() ? 0 : handles[0].id();
  } else {
    return;
  }
  managed::lock_out(index_, stream);
}

CUresult Session::pull_managed(uintptr_t dev) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  std::lock_guard<std::mutex> lock(mu_);
  if (CUresult st = managed_before_locked(Op::MemcpyDtoH); st != CUDA_SUCCESS) return st;
  return managed::pull_one(dev, [&](uintptr_t src, void* host, size_t n) { return fetch_locked(src, host, n); });
}

}  // namespace gpool::shim
