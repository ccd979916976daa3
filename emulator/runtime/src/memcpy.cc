// Every cuMemcpy* form: 1D, peer, 2D, 3D, synchronous and asynchronous.
// An array (CUarray) side is the array's dense device storage (array.h).
#include "copy_engine.h"

#include "alloc_table.h"
#include "array.h"
#include "capture.h"
#include "context.h"
#include "graph.h"
#include "graph_mem.h"
#include "stream.h"

#include "gpool/common/log.h"

#include <memory>
#include <vector>

namespace gpool::emu::rt {
namespace {

// Re-checks a side that was in the table at enqueue time (it may have been
// freed since, by another stream).
bool still_valid(const CopySide& s, const CopyShape& shape) {
  if (!s.in_table) return true;
  const uint64_t extent = copy_extent(s, shape);
  return extent == 0 || allocs().find_range(s.addr, extent).has_value();
}

// check_side that also accepts the address a graph allocation node reserved
// (graph_mem.h): its memory exists once a launch makes it, and graph copies
// re-check when they run. *reserved_only: the side is such an address that is
// not allocated now (only a graph node may name it).
CUresult check_node_side(CopySide* s, const CopyShape& shape, bool dev, bool* reserved_only) {
  *reserved_only = false;
  if (check_side(s, shape, dev) == CUDA_SUCCESS) return CUDA_SUCCESS;
  const uint64_t extent = copy_extent(*s, shape);
  if (extent == 0 || !graph_mem_reserved(s->addr, extent)) return CUDA_ERROR_INVALID_VALUE;
  s->in_table = true;
  *reserved_only = true;
  return CUDA_SUCCESS;
}

// The CUDA_MEMCPY3D a captured copy is reported with (host and device sides
// by address, as the caller gave them).
CUDA_MEMCPY3D describe(const CopySide& dst, bool dst_dev, const CopySide& src, bool src_dev, const CopyShape& shape) {
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = src_dev ? CU_MEMORYTYPE_DEVICE : (src.in_table ? CU_MEMORYTYPE_UNIFIED : CU_MEMORYTYPE_HOST);
  if (p.srcMemoryType == CU_MEMORYTYPE_HOST) p.srcHost = reinterpret_cast<const void*>(src.addr);
  else p.srcDevice = src.addr;
  p.srcPitch = src.pitch;
  p.srcHeight = shape.height > 0 && src.pitch > 0 ? src.slice / src.pitch : 0;
  p.dstMemoryType = dst_dev ? CU_MEMORYTYPE_DEVICE : (dst.in_table ? CU_MEMORYTYPE_UNIFIED : CU_MEMORYTYPE_HOST);
  if (p.dstMemoryType == CU_MEMORYTYPE_HOST) p.dstHost = reinterpret_cast<void*>(dst.addr);
  else p.dstDevice = dst.addr;
  p.dstPitch = dst.pitch;
  p.dstHeight = shape.height > 0 && dst.pitch > 0 ? dst.slice / dst.pitch : 0;
  p.WidthInBytes = shape.width;
  p.Height = shape.height;
  p.Depth = shape.depth;
  return p;
}

}  // namespace

Task memcpy_task(const MemcpyNode& n, Context* ctx) {
  const CopySide dst = n.dst, src = n.src;
  const CopyShape shape = n.shape;
  return [=] {
    if (ctx->sticky.load() != CUDA_SUCCESS) return;
    if (shape.width == 0 || shape.height == 0 || shape.depth == 0) return;
    CUresult r = CUDA_ERROR_ILLEGAL_ADDRESS;
    if (still_valid(dst, shape) && still_valid(src, shape)) r = copy_run(dst, src, shape);
    if (r != CUDA_SUCCESS) {
      log().error("graph memcpy node: memory at {:#x} or {:#x} is no longer valid", dst.addr, src.addr);
      set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
    }
  };
}

// Validates and performs a copy in stream order. `async` false: waits and
// returns the copy's own result. Pageable host sources of async copies are
// staged at call time, and async copies into pageable host memory wait, as
// CUDA does.
CUresult do_copy(CUstream h, CopySide dst, bool dst_device, CopySide src, bool src_device,
                 const CopyShape& shape, bool async, const char* what) {
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(h, &s); r != CUDA_SUCCESS) return r;
  bool dst_reserved = false, src_reserved = false;  // a graph allocation not allocated now
  if (CUresult r = check_node_side(&dst, shape, dst_device, &dst_reserved); r != CUDA_SUCCESS) {
    log().info("{}: destination {:#x} (+{} bytes) is not inside one allocation", what, dst.addr,
               copy_extent(dst, shape));
    return r;
  }
  if (CUresult r = check_node_side(&src, shape, src_device, &src_reserved); r != CUDA_SUCCESS) {
    log().info("{}: source {:#x} (+{} bytes) is not inside one allocation", what, src.addr,
               copy_extent(src, shape));
    return r;
  }
  if (async) {
    bool capturing = false;
    if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
    if (capturing) {
      // A graph memcpy node reads and writes the memory when it runs: no
      // staging of pageable sources, no waiting for pageable destinations.
      auto n = std::make_unique<GraphNode>();
      n->type = CU_GRAPH_NODE_TYPE_MEMCPY;
      n->copy.params = describe(dst, dst_device, src, src_device, shape);
      n->copy.dst = dst;
      n->copy.src = src;
      n->copy.shape = shape;
      return capture_add(s, std::move(n));
    }
  } else if (CUresult r = capture_gate_sync(s); r != CUDA_SUCCESS) {
    return r;
  } else if (CUresult r2 = capture_unsafe_call(what); r2 != CUDA_SUCCESS) {
    return r2;
  }
  if (dst_reserved || src_reserved) {
    log().info("{}: {:#x} is graph memory that is not allocated now", what, dst_reserved ? dst.addr : src.addr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (shape.width == 0 || shape.height == 0 || shape.depth == 0) return CUDA_SUCCESS;

  std::shared_ptr<std::vector<unsigned char>> staging;
  if (async && !src.in_table) {
    staging = std::make_shared<std::vector<unsigned char>>(shape.width * shape.height * shape.depth);
    CopySide st{reinterpret_cast<uint64_t>(staging->data()), shape.width, shape.width * shape.height, true};
    if (copy_run(st, src, shape) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
    src = st;
    src.in_table = true;  // runtime-owned buffer: plain memmove
  }
  const bool wait = !async || !dst.in_table;
  auto result = std::make_shared<CUresult>(CUDA_SUCCESS);
  Context* ctx = s->ctx;
  std::string name = what;
  const uint64_t seq = submit(s, [=] {
    if (ctx->sticky.load() != CUDA_SUCCESS) return;
    if (!still_valid(dst, shape) || (!staging && !still_valid(src, shape))) {
      log().error("{}: memory was freed before the copy ran", name);
      *result = CUDA_ERROR_ILLEGAL_ADDRESS;
    } else {
      *result = copy_run(dst, src, shape);
    }
    if (*result != CUDA_SUCCESS && !wait) set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
  });
  if (!wait) return CUDA_SUCCESS;
  s->wait(seq);
  if (*result != CUDA_SUCCESS) return *result;
  return async ? CUDA_SUCCESS : ctx->sticky.load();
}

namespace {

CUresult copy1d(CUstream h, uint64_t dst, bool dst_dev, uint64_t src, bool src_dev, size_t n, bool async,
                const char* what) {
  CopySide d{dst, n, n, false}, s{src, n, n, false};
  return do_copy(h, d, dst_dev, s, src_dev, CopyShape{n, 1, 1}, async, what);
}

// One side of a CUDA_MEMCPY2D/3D: resolves the memory type to an address.
CUresult side_of(CUmemorytype type, const void* host, CUdeviceptr dev, CUarray array, uint64_t x,
                 uint64_t y, uint64_t z, uint64_t pitch, uint64_t height, CopySide* out, bool* must_dev,
                 const CopyShape& shape) {
  uint64_t base = 0;
  switch (type) {
    case CU_MEMORYTYPE_HOST:
      base = reinterpret_cast<uint64_t>(host);
      *must_dev = false;
      break;
    case CU_MEMORYTYPE_DEVICE:
      base = dev;
      *must_dev = true;
      break;
    case CU_MEMORYTYPE_UNIFIED:
      base = dev;
      *must_dev = false;
      break;
    case CU_MEMORYTYPE_ARRAY: {
      // Offsets are bytes along x, rows and slices (layers) of the array's dense layout.
      Array* a = find_array(array);
      if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      // The copied box must lie inside the array (rows do not wrap into the next row).
      if (x > a->pitch || shape.width > a->pitch - x || y > a->height || shape.height > a->height - y ||
          z > a->depth || shape.depth > a->depth - z)
        return CUDA_ERROR_INVALID_VALUE;
      out->pitch = a->pitch;
      out->slice = a->slice;
      out->addr = a->base + z * a->slice + y * a->pitch + x;
      *must_dev = true;
      return CUDA_SUCCESS;
    }
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
  out->pitch = pitch;
  out->slice = pitch * height;
  out->addr = base + z * out->slice + y * pitch + x;
  return CUDA_SUCCESS;
}

CUresult copy2d(const CUDA_MEMCPY2D* p, CUstream h, bool async, const char* what) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CopyShape shape{p->WidthInBytes, p->Height, 1};
  if (shape.height > 1 && (p->srcMemoryType != CU_MEMORYTYPE_ARRAY && p->srcPitch < p->WidthInBytes)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (shape.height > 1 && (p->dstMemoryType != CU_MEMORYTYPE_ARRAY && p->dstPitch < p->WidthInBytes)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  CopySide src, dst;
  bool src_dev = false, dst_dev = false;
  if (CUresult r = side_of(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY, 0,
                           p->srcPitch, 0, &src, &src_dev, shape);
      r != CUDA_SUCCESS) {
    return r;
  }
  if (CUresult r = side_of(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY, 0,
                           p->dstPitch, 0, &dst, &dst_dev, shape);
      r != CUDA_SUCCESS) {
    return r;
  }
  return do_copy(h, dst, dst_dev, src, src_dev, shape, async, what);
}

template <class P>
CUresult copy3d(const P* p, CUstream h, bool async, const char* what) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (p->srcLOD != 0 || p->dstLOD != 0) return CUDA_ERROR_INVALID_VALUE;
  CopyShape shape{p->WidthInBytes, p->Height, p->Depth};
  if (shape.height > 1 || shape.depth > 1) {
    if (p->srcMemoryType != CU_MEMORYTYPE_ARRAY && p->srcPitch < p->WidthInBytes) return CUDA_ERROR_INVALID_VALUE;
    if (p->dstMemoryType != CU_MEMORYTYPE_ARRAY && p->dstPitch < p->WidthInBytes) return CUDA_ERROR_INVALID_VALUE;
  }
  if (shape.depth > 1) {
    if (p->srcMemoryType != CU_MEMORYTYPE_ARRAY && p->srcHeight < p->Height) return CUDA_ERROR_INVALID_VALUE;
    if (p->dstMemoryType != CU_MEMORYTYPE_ARRAY && p->dstHeight < p->Height) return CUDA_ERROR_INVALID_VALUE;
  }
  CopySide src, dst;
  bool src_dev = false, dst_dev = false;
  if (CUresult r = side_of(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY,
                           p->srcZ, p->srcPitch, p->srcHeight, &src, &src_dev, shape);
      r != CUDA_SUCCESS) {
    return r;
  }
  if (CUresult r = side_of(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY,
                           p->dstZ, p->dstPitch, p->dstHeight, &dst, &dst_dev, shape);
      r != CUDA_SUCCESS) {
    return r;
  }
  return do_copy(h, dst, dst_dev, src, src_dev, shape, async, what);
}

}  // namespace

CUresult memcpy_prepare(const CUDA_MEMCPY3D& p, MemcpyNode* out) {
  if (p.srcLOD != 0 || p.dstLOD != 0) return CUDA_ERROR_INVALID_VALUE;
  CopyShape shape{p.WidthInBytes, p.Height, p.Depth};
  if (shape.height > 1 || shape.depth > 1) {
    if (p.srcMemoryType != CU_MEMORYTYPE_ARRAY && p.srcPitch < p.WidthInBytes) return CUDA_ERROR_INVALID_VALUE;
    if (p.dstMemoryType != CU_MEMORYTYPE_ARRAY && p.dstPitch < p.WidthInBytes) return CUDA_ERROR_INVALID_VALUE;
  }
  if (shape.depth > 1) {
    if (p.srcMemoryType != CU_MEMORYTYPE_ARRAY && p.srcHeight < p.Height) return CUDA_ERROR_INVALID_VALUE;
    if (p.dstMemoryType != CU_MEMORYTYPE_ARRAY && p.dstHeight < p.Height) return CUDA_ERROR_INVALID_VALUE;
  }
  if (shape.width == 0 || shape.height == 0 || shape.depth == 0) return CUDA_ERROR_INVALID_VALUE;
  CopySide src, dst;
  bool src_dev = false, dst_dev = false;
  if (CUresult r = side_of(p.srcMemoryType, p.srcHost, p.srcDevice, p.srcArray, p.srcXInBytes, p.srcY, p.srcZ,
                           shape.height > 1 || shape.depth > 1 ? p.srcPitch : p.WidthInBytes, p.srcHeight, &src,
                           &src_dev, shape);
      r != CUDA_SUCCESS) {
    return r;
  }
  if (CUresult r = side_of(p.dstMemoryType, p.dstHost, p.dstDevice, p.dstArray, p.dstXInBytes, p.dstY, p.dstZ,
                           shape.height > 1 || shape.depth > 1 ? p.dstPitch : p.WidthInBytes, p.dstHeight, &dst,
                           &dst_dev, shape);
      r != CUDA_SUCCESS) {
    return r;
  }
  bool reserved = false;
  if (check_node_side(&dst, shape, dst_dev, &reserved) != CUDA_SUCCESS ||
      check_node_side(&src, shape, src_dev, &reserved) != CUDA_SUCCESS) {
    log().info("graph memcpy node: a side is not inside one allocation");
    return CUDA_ERROR_INVALID_VALUE;
  }
  out->params = p;
  out->dst = dst;
  out->src = src;
  out->shape = shape;
  return CUDA_SUCCESS;
}

namespace {

CUresult check_peer_contexts(CUcontext a, CUcontext b) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Context* c = nullptr;
  if (CUresult r = use_context(a, &c); r != CUDA_SUCCESS) return r;
  if (CUresult r = use_context(b, &c); r != CUDA_SUCCESS) return r;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
  return copy1d(nullptr, dst, false, src, false, ByteCount, false, "cuMemcpy");
}
extern "C" CUresult gpool_impl_cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
  return copy1d(hStream, dst, false, src, false, ByteCount, true, "cuMemcpyAsync");
}
extern "C" CUresult gpool_impl_cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
  return copy1d(nullptr, dstDevice, true, reinterpret_cast<uint64_t>(srcHost), false, ByteCount, false,
                "cuMemcpyHtoD");
}
extern "C" CUresult gpool_impl_cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount,
                                                    CUstream hStream) {
  return copy1d(hStream, dstDevice, true, reinterpret_cast<uint64_t>(srcHost), false, ByteCount, true,
                "cuMemcpyHtoDAsync");
}
extern "C" CUresult gpool_impl_cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy1d(nullptr, reinterpret_cast<uint64_t>(dstHost), false, srcDevice, true, ByteCount, false,
                "cuMemcpyDtoH");
}
extern "C" CUresult gpool_impl_cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                                    CUstream hStream) {
  return copy1d(hStream, reinterpret_cast<uint64_t>(dstHost), false, srcDevice, true, ByteCount, true,
                "cuMemcpyDtoHAsync");
}
extern "C" CUresult gpool_impl_cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy1d(nullptr, dstDevice, true, srcDevice, true, ByteCount, false, "cuMemcpyDtoD");
}
extern "C" CUresult gpool_impl_cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                                    CUstream hStream) {
  return copy1d(hStream, dstDevice, true, srcDevice, true, ByteCount, true, "cuMemcpyDtoDAsync");
}
extern "C" CUresult gpool_impl_cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                            CUcontext srcContext, size_t ByteCount) {
  if (CUresult r = check_peer_contexts(dstContext, srcContext); r != CUDA_SUCCESS) return r;
  return copy1d(nullptr, dstDevice, true, srcDevice, true, ByteCount, false, "cuMemcpyPeer");
}
extern "C" CUresult gpool_impl_cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                                 CUcontext srcContext, size_t ByteCount, CUstream hStream) {
  if (CUresult r = check_peer_contexts(dstContext, srcContext); r != CUDA_SUCCESS) return r;
  return copy1d(hStream, dstDevice, true, srcDevice, true, ByteCount, true, "cuMemcpyPeerAsync");
}
extern "C" CUresult gpool_impl_cuMemcpy2D_v2(const CUDA_MEMCPY2D* pCopy) {
  return copy2d(pCopy, nullptr, false, "cuMemcpy2D");
}
extern "C" CUresult gpool_impl_cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D* pCopy) {
  return copy2d(pCopy, nullptr, false, "cuMemcpy2DUnaligned");
}
extern "C" CUresult gpool_impl_cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* pCopy, CUstream hStream) {
  return copy2d(pCopy, hStream, true, "cuMemcpy2DAsync");
}
extern "C" CUresult gpool_impl_cuMemcpy3D_v2(const CUDA_MEMCPY3D* pCopy) {
  return copy3d(pCopy, nullptr, false, "cuMemcpy3D");
}
extern "C" CUresult gpool_impl_cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D* pCopy, CUstream hStream) {
  return copy3d(pCopy, hStream, true, "cuMemcpy3DAsync");
}
extern "C" CUresult gpool_impl_cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER* pCopy) {
  if (pCopy == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_peer_contexts(pCopy->dstContext, pCopy->srcContext); r != CUDA_SUCCESS) return r;
  return copy3d(pCopy, nullptr, false, "cuMemcpy3DPeer");
}
extern "C" CUresult gpool_impl_cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER* pCopy, CUstream hStream) {
  if (pCopy == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_peer_contexts(pCopy->dstContext, pCopy->srcContext); r != CUDA_SUCCESS) return r;
  return copy3d(pCopy, hStream, true, "cuMemcpy3DPeerAsync");
}

extern "C" CUresult gpool_impl_cuMemcpyBatchAsync_v2(CUdeviceptr* dsts, CUdeviceptr* srcs, size_t* sizes,
                                                     size_t count, CUmemcpyAttributes* attrs, size_t* attrsIdxs,
                                                     size_t numAttrs, CUstream hStream) {
  if (count == 0 || dsts == nullptr || srcs == nullptr || sizes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (numAttrs > count || (numAttrs > 0 && (attrs == nullptr || attrsIdxs == nullptr))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  for (size_t i = 0; i < count; ++i) {
    CUresult r = copy1d(hStream, dsts[i], false, srcs[i], false, sizes[i], true, "cuMemcpyBatchAsync");
    if (r != CUDA_SUCCESS) return r;
  }
  return CUDA_SUCCESS;
}
