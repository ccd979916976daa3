// cuMemsetD8/D16/D32, their 2D forms and the async variants.
#include "copy_engine.h"

#include "alloc_table.h"
#include "capture.h"
#include "context.h"
#include "graph.h"
#include "graph_mem.h"
#include "stream.h"

#include <memory>

namespace gpool::emu::rt {
namespace {

CUresult do_memset(CUstream h, uint64_t dst, uint64_t pitch, uint64_t width, uint64_t height, unsigned elem,
                   uint32_t value, bool async) {
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(h, &s); r != CUDA_SUCCESS) return r;
  if (dst % elem != 0 || (height > 1 && pitch % elem != 0)) return CUDA_ERROR_INVALID_VALUE;
  if (height > 1 && pitch < width * elem) return CUDA_ERROR_INVALID_VALUE;
  if (async) {
    bool capturing = false;
    if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
    if (capturing) {
      CUDA_MEMSET_NODE_PARAMS p{};
      p.dst = dst;
      p.pitch = pitch;
      p.value = value;
      p.elementSize = elem;
      p.width = width;
      p.height = height;
      auto n = std::make_unique<GraphNode>();
      if (CUresult r = make_memset_node(p, n.get()); r != CUDA_SUCCESS) return r;
      return capture_add(s, std::move(n));
    }
  } else {
    if (CUresult r = capture_gate_sync(s); r != CUDA_SUCCESS) return r;
    if (CUresult r = capture_unsafe_call("cuMemset"); r != CUDA_SUCCESS) return r;
  }
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  const uint64_t extent = (height - 1) * pitch + width * elem;
  if (!allocs().find_range(dst, extent)) {
    log().info("cuMemset: {:#x} (+{} bytes) is not inside one allocation", dst, extent);
    return CUDA_ERROR_INVALID_VALUE;
  }
  Context* ctx = s->ctx;
  const uint64_t seq = submit(s, [=] {
    if (ctx->sticky.load() != CUDA_SUCCESS) return;
    if (!allocs().find_range(dst, extent)) {
      log().error("cuMemset: memory at {:#x} was freed before the memset ran", dst);
      set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
      return;
    }
    fill_run(dst, pitch, width, height, elem, value);
  });
  if (async) return CUDA_SUCCESS;
  s->wait(seq);
  return ctx->sticky.load();
}

}  // namespace

CUresult make_memset_node(const CUDA_MEMSET_NODE_PARAMS& p, GraphNode* out) {
  const unsigned elem = p.elementSize;
  if (elem != 1 && elem != 2 && elem != 4) return CUDA_ERROR_INVALID_VALUE;
  if (p.width == 0 || p.height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (p.dst % elem != 0 || (p.height > 1 && (p.pitch % elem != 0 || p.pitch < p.width * elem))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t pitch = p.height > 1 ? p.pitch : p.width * elem;
  const uint64_t extent = (p.height - 1) * pitch + p.width * elem;
  if (!allocs().find_range(p.dst, extent) && !graph_mem_reserved(p.dst, extent)) {
    log().info("graph memset node: {:#x} (+{} bytes) is not inside one allocation", p.dst, extent);
    return CUDA_ERROR_INVALID_VALUE;
  }
  out->type = CU_GRAPH_NODE_TYPE_MEMSET;
  out->memset = p;
  out->memset.pitch = pitch;
  return CUDA_SUCCESS;
}

Task memset_task(const CUDA_MEMSET_NODE_PARAMS& p, Context* ctx) {
  const uint64_t dst = p.dst, pitch = p.pitch, width = p.width, height = p.height;
  const unsigned elem = p.elementSize;
  const uint32_t value = p.value;
  const uint64_t extent = (height - 1) * pitch + width * elem;
  return [=] {
    if (ctx->sticky.load() != CUDA_SUCCESS) return;
    if (!allocs().find_range(dst, extent)) {
      log().error("graph memset node: memory at {:#x} was freed before the memset ran", dst);
      set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
      return;
    }
    fill_run(dst, pitch, width, height, elem, value);
  };
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
  return do_memset(nullptr, dstDevice, N, N, 1, 1, uc, false);
}
extern "C" CUresult gpool_impl_cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
  return do_memset(nullptr, dstDevice, N * 2, N, 1, 2, us, false);
}
extern "C" CUresult gpool_impl_cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
  return do_memset(nullptr, dstDevice, N * 4, N, 1, 4, ui, false);
}
extern "C" CUresult gpool_impl_cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                               size_t Width, size_t Height) {
  return do_memset(nullptr, dstDevice, dstPitch, Width, Height, 1, uc, false);
}
extern "C" CUresult gpool_impl_cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                                size_t Width, size_t Height) {
  return do_memset(nullptr, dstDevice, dstPitch, Width, Height, 2, us, false);
}
extern "C" CUresult gpool_impl_cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                                size_t Width, size_t Height) {
  return do_memset(nullptr, dstDevice, dstPitch, Width, Height, 4, ui, false);
}
extern "C" CUresult gpool_impl_cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
  return do_memset(hStream, dstDevice, N, N, 1, 1, uc, true);
}
extern "C" CUresult gpool_impl_cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                                CUstream hStream) {
  return do_memset(hStream, dstDevice, N * 2, N, 1, 2, us, true);
}
extern "C" CUresult gpool_impl_cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
  return do_memset(hStream, dstDevice, N * 4, N, 1, 4, ui, true);
}
extern "C" CUresult gpool_impl_cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                                 size_t Width, size_t Height, CUstream hStream) {
  return do_memset(hStream, dstDevice, dstPitch, Width, Height, 1, uc, true);
}
extern "C" CUresult gpool_impl_cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                                  size_t Width, size_t Height, CUstream hStream) {
  return do_memset(hStream, dstDevice, dstPitch, Width, Height, 2, us, true);
}
extern "C" CUresult gpool_impl_cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                                  size_t Width, size_t Height, CUstream hStream) {
  return do_memset(hStream, dstDevice, dstPitch, Width, Height, 4, ui, true);
}
