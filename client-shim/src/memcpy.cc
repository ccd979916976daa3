// Shim: copies and memsets. H2D is async on the wire (the bytes are captured once send()
// returns; they are sent straight from the caller's buffer), D2H is a sync call whose data
// (MemcpyDtoHChunk notes, calls.toml) lands straight in the caller's buffer,
// D2D and memsets are async. Copies above 1 GiB are split into several calls.
#include <algorithm>
#include <cstdint>

#include "graph_host_copy.h"
#include "gpool/driver_abi/backend.h"
#include "managed.h"
#include "state.h"

using namespace gpool::shim;

namespace {

constexpr size_t kChunk = size_t{1} << 30;

CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool sync_api);

// Whether [p, p + bytes) wraps around, or starts in an allocation the shim knows and runs past
// its end. Such a copy or memset is refused at the call, as the driver does: sent on, an H2D copy
// would read past the caller's buffer, and the server's refusal of an async call would only reach
// the program at its next synchronizing call. Addresses the shim does not know (module globals,
// another process's IPC memory) are left to the server's checks.
bool outside_known_range(CUdeviceptr p, size_t bytes) {
  if (bytes > UINT64_MAX - p) return true;
  CUdeviceptr base = 0;
  size_t size = 0;
  return find_device_range(p, &base, &size) && p + bytes > base + size;
}

// A host side that is managed memory: the copy runs on the server from the device copy (the
// host pages are read-only while clean, and the next pull brings the result back; managed.h).
bool managed(const void* p) { return gpool::shim::managed::find(reinterpret_cast<uintptr_t>(p), nullptr, nullptr); }

// A host side inside registered mapped host memory (cuMemHostRegister with DEVICEMAP): the copy
// runs on the server from or into its mirror `dev` (the host pages may be locked out while
// kernels run; the push before the call and the pull after device work keep both sides equal).
bool registered(const void* p, size_t bytes, CUdeviceptr* dev) {
  uintptr_t d = 0;
  if (!gpool::shim::managed::find_registered(reinterpret_cast<uintptr_t>(p), bytes, &d)) return false;
  *dev = d;
  return true;
}

// A synchronous copy into managed memory: the host may read the destination as soon as the call
// returns, so the call waits for the device and the host copies come back (the pull after a
// sync call that follows device work).
CUresult settle(CUdeviceptr dst, bool sync_api, CUresult st, bool mirrored = false) {
  if (st != CUDA_SUCCESS || !sync_api || !(mirrored || managed(reinterpret_cast<const void*>(dst)))) return st;
  return Session::instance().sync(Op::CtxSynchronize, {});
}

CUresult htod(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream, bool sync_api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (bytes == 0) return CUDA_SUCCESS;
  if (src == nullptr || dst == 0 || outside_known_range(dst, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (managed(src)) return dtod(dst, reinterpret_cast<CUdeviceptr>(src), bytes, stream, sync_api);
  if (CUdeviceptr mirror = 0; registered(src, bytes, &mirror)) return dtod(dst, mirror, bytes, stream, sync_api);
  const HandleRef h[] = {stream_ref(stream)};
  for (size_t off = 0; off < bytes; off += kChunk) {
    const size_t n = std::min(kChunk, bytes - off);
    const uint64_t args[] = {dst + off, n, sync_api ? 1u : 0u};
    const gpool::transport::ConstBytes seg{static_cast<const std::byte*>(src) + off, n};
    if (CUresult st = Session::instance().async(Op::MemcpyHtoD, args, h, {}, {&seg, 1});
        st != CUDA_SUCCESS) {
      return st;
    }
  }
  return settle(dst, sync_api, CUDA_SUCCESS);
}

CUresult dtoh(void* dst, CUdeviceptr src, size_t bytes, CUstream stream, bool sync_api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (bytes == 0) return CUDA_SUCCESS;
  if (dst == nullptr || src == 0 || outside_known_range(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (managed(dst)) return dtod(reinterpret_cast<CUdeviceptr>(dst), src, bytes, stream, sync_api);
  if (CUdeviceptr mirror = 0; registered(dst, bytes, &mirror)) {
    if (CUresult st = dtod(mirror, src, bytes, stream, sync_api); st != CUDA_SUCCESS) return st;
    return settle(mirror, sync_api, CUDA_SUCCESS, true);
  }
  const HandleRef h[] = {stream_ref(stream)};
  for (size_t off = 0; off < bytes; off += kChunk) {
    const size_t n = std::min(kChunk, bytes - off);
    // accept_chunks = 1: the server streams the bytes in MemcpyDtoHChunk notes, each received
    // straight into `dst` at its offset, while it copies the next chunks from the device.
    const uint64_t args[] = {src + off, n, sync_api ? 1u : 0u, 1u};
    const gpool::transport::MutableBytes dest{static_cast<std::byte*>(dst) + off, n};
    if (CUresult st = Session::instance().sync(Op::MemcpyDtoH, args, h, {}, {}, nullptr, {&dest, 1});
        st != CUDA_SUCCESS) {
      return st;
    }
  }
  return CUDA_SUCCESS;
}

CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool sync_api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (bytes == 0) return CUDA_SUCCESS;
  if (outside_known_range(dst, bytes) || outside_known_range(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  const HandleRef h[] = {stream_ref(stream)};
  const uint64_t args[] = {dst, src, bytes, sync_api ? 1u : 0u};
  return settle(dst, sync_api, Session::instance().async(Op::MemcpyDtoD, args, h));
}

CUresult memset(CUdeviceptr dst, uint32_t value, unsigned elem, size_t count, CUstream stream,
                bool sync_api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (count == 0) return CUDA_SUCCESS;
  // A misaligned element, or a range refused as for copies: refused here, at the call.
  if (dst % elem != 0 || count > SIZE_MAX / elem || outside_known_range(dst, count * elem)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const HandleRef h[] = {stream_ref(stream)};
  const uint64_t args[] = {dst, value, elem, count, sync_api ? 1u : 0u};
  return Session::instance().async(Op::Memset, args, h);
}

bool is_device(CUdeviceptr p) { return find_device_range(p, nullptr, nullptr); }

CUresult unified(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream, bool sync_api) {
  const bool d = is_device(dst), s = is_device(src);
  if (d && s) return dtod(dst, src, bytes, stream, sync_api);
  if (d != s && !sync_api) {  // cuMemcpyAsync in a capture: a graph node (graph_host_copy.h)
    bool recorded = false;
    const CUresult st = d ? gpool::shim::hostcopy::try_capture(true, reinterpret_cast<void*>(src), dst, bytes, stream, recorded)
                          : gpool::shim::hostcopy::try_capture(false, reinterpret_cast<void*>(dst), src, bytes, stream, recorded);
    if (st != CUDA_SUCCESS || recorded) return st;
  }
  if (d) return htod(dst, reinterpret_cast<const void*>(src), bytes, stream, sync_api);
  if (s) return dtoh(reinterpret_cast<void*>(dst), src, bytes, stream, sync_api);
  return gpool::abi::unimplemented("cuMemcpy between two host buffers");
}

}  // namespace

namespace gpool::shim {
// memcpy_2d.cc's rows: never graph nodes of their own (a 2D copy with a host side in a capture is
// refused by the server, as before; its device-to-host rows land in a temporary buffer).
CUresult memcpy_htod_async_rows(CUdeviceptr dst, const void* src, size_t bytes, CUstream s) {
  return htod(dst, src, bytes, s, false);
}
CUresult memcpy_dtoh_async_rows(void* dst, CUdeviceptr src, size_t bytes, CUstream s) {
  return dtoh(dst, src, bytes, s, false);
}
}  // namespace gpool::shim

extern "C" CUresult gpool_impl_cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
  return htod(dst, src, bytes, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, CUstream s) {
  bool recorded = false;  // a graph node when the stream captures (graph_host_copy.h)
  const CUresult st = gpool::shim::hostcopy::try_capture(true, const_cast<void*>(src), dst, bytes, s, recorded);
  if (st != CUDA_SUCCESS || recorded) return st;
  return htod(dst, src, bytes, s, false);
}
extern "C" CUresult gpool_impl_cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
  return dtoh(dst, src, bytes, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, CUstream s) {
  // Completes before returning: the reply must land in the caller's buffer (allowed: an async
  // copy may finish early).
  bool recorded = false;  // a graph node when the stream captures (graph_host_copy.h)
  const CUresult st = gpool::shim::hostcopy::try_capture(false, dst, src, bytes, s, recorded);
  if (st != CUDA_SUCCESS || recorded) return st;
  return dtoh(dst, src, bytes, s, false);
}
extern "C" CUresult gpool_impl_cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return dtod(dst, src, bytes, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
  return dtod(dst, src, bytes, s, false);
}
extern "C" CUresult gpool_impl_cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  return unified(dst, src, bytes, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  return unified(dst, src, bytes, s, false);
}

extern "C" CUresult gpool_impl_cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
  return memset(d, v, 1, n, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) {
  return memset(d, v, 2, n, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) {
  return memset(d, v, 4, n, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
  return memset(d, v, 1, n, s, false);
}
extern "C" CUresult gpool_impl_cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
  return memset(d, v, 2, n, s, false);
}
extern "C" CUresult gpool_impl_cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) {
  return memset(d, v, 4, n, s, false);
}
