// Shim: 3D copies between devices (cuMemcpy3DPeer, cuMemcpy3DPeerAsync) and batches of 1D copies
// (cuMemcpyBatchAsync_v2). No opcode of their own: each is the copies it describes, sent through
// the paths (and checks) the single copies use.
//   - cuMemcpy3DPeer: both contexts must be this process's (CUDA_ERROR_INVALID_CONTEXT
//     otherwise); devices of one server share its session, so the copy is cuMemcpy3D on that
//     server (texture.cc: array sides, host staging, range checks); devices of different servers
//     share no memory: CUDA_ERROR_NOT_SUPPORTED (logged), as cuMemcpyPeer (peer.cc).
//   - cuMemcpyBatchAsync_v2: each copy is a cuMemcpyAsync on the stream, in order (host or device
//     sides found by address, as unified addressing does; memcpy.cc). The attributes are hints
//     (source access order, location hints) that change no result; they are checked as the
//     emulator checks them and not forwarded. A copy that fails stops the batch with its error;
//     the copies before it are queued, as on the emulator.
// The _ptsz variants reach these through driver-abi's per-thread fallback.
// Thread safety: every entry point may be called from any thread.
#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

extern "C" CUresult gpool_impl_cuMemcpy3D_v2(const CUDA_MEMCPY3D* p);
extern "C" CUresult gpool_impl_cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D* p, CUstream s);
extern "C" CUresult gpool_impl_cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s);

namespace {

CUresult copy3d_peer(const CUDA_MEMCPY3D_PEER* p, CUstream stream, bool async) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const int dd = context_device(p->dstContext), sd = context_device(p->srcContext);
  if (dd < 0 || sd < 0) return CUDA_ERROR_INVALID_CONTEXT;
  Pool& pool = Pool::global();
  if (pool.session_of(dd) != pool.session_of(sd)) {
    return gpool::abi::unimplemented("cuMemcpy3DPeer between devices of different gpool servers");
  }
  CUDA_MEMCPY3D c{};
  c.srcXInBytes = p->srcXInBytes;
  c.srcY = p->srcY;
  c.srcZ = p->srcZ;
  c.srcLOD = p->srcLOD;
  c.srcMemoryType = p->srcMemoryType;
  c.srcHost = p->srcHost;
  c.srcDevice = p->srcDevice;
  c.srcArray = p->srcArray;
  c.srcPitch = p->srcPitch;
  c.srcHeight = p->srcHeight;
  c.dstXInBytes = p->dstXInBytes;
  c.dstY = p->dstY;
  c.dstZ = p->dstZ;
  c.dstLOD = p->dstLOD;
  c.dstMemoryType = p->dstMemoryType;
  c.dstHost = p->dstHost;
  c.dstDevice = p->dstDevice;
  c.dstArray = p->dstArray;
  c.dstPitch = p->dstPitch;
  c.dstHeight = p->dstHeight;
  c.WidthInBytes = p->WidthInBytes;
  c.Height = p->Height;
  c.Depth = p->Depth;
  ScopedDevice scope(dd);
  return async ? gpool_impl_cuMemcpy3DAsync_v2(&c, stream) : gpool_impl_cuMemcpy3D_v2(&c);
}

}  // namespace

extern "C" CUresult gpool_impl_cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER* p) { return copy3d_peer(p, nullptr, false); }

extern "C" CUresult gpool_impl_cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER* p, CUstream s) {
  return copy3d_peer(p, s, true);
}

extern "C" CUresult gpool_impl_cuMemcpyBatchAsync_v2(CUdeviceptr* dsts, CUdeviceptr* srcs, size_t* sizes, size_t count,
                                                     CUmemcpyAttributes* attrs, size_t* attr_idxs, size_t num_attrs,
                                                     CUstream stream) {
  if (count == 0 || dsts == nullptr || srcs == nullptr || sizes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (num_attrs > count || (num_attrs > 0 && (attrs == nullptr || attr_idxs == nullptr))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  for (size_t i = 0; i < count; ++i) {
    if (CUresult st = gpool_impl_cuMemcpyAsync(dsts[i], srcs[i], sizes[i], stream); st != CUDA_SUCCESS) return st;
  }
  return CUDA_SUCCESS;
}
