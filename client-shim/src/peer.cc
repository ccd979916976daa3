// Shim: copies between devices (cuMemcpyPeer*). Devices of one server are one session there, so
// such a copy is a device-to-device copy on that server; devices of different servers share no
// memory and no link, so a copy between them is CUDA_ERROR_NOT_SUPPORTED (copy through host
// memory instead).
#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

CUresult peer_copy(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx,
                   size_t bytes, CUstream stream, bool sync_api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const int dd = context_device(dst_ctx), sd = context_device(src_ctx);
  if (dd < 0 || sd < 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (bytes == 0) return CUDA_SUCCESS;
  Pool& pool = Pool::global();
  if (pool.session_of(dd) != pool.session_of(sd)) {
    return gpool::abi::unimplemented("cuMemcpyPeer between devices of different gpool servers");
  }
  ScopedDevice scope(dd);
  const HandleRef h[] = {stream_ref(stream)};
  const uint64_t args[] = {dst, src, bytes, sync_api ? 1u : 0u};
  return Session::current().async(Op::MemcpyDtoD, args, h);
}

}  // namespace

extern "C" CUresult gpool_impl_cuMemcpyPeer(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src,
                                            CUcontext src_ctx, size_t bytes) {
  return peer_copy(dst, dst_ctx, src, src_ctx, bytes, nullptr, true);
}

extern "C" CUresult gpool_impl_cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src,
                                                 CUcontext src_ctx, size_t bytes, CUstream stream) {
  return peer_copy(dst, dst_ctx, src, src_ctx, bytes, stream, false);
}
