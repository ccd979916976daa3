// Shim: pitched allocations and 2D copies/memsets, expressed as linear calls: H2D and D2D row
// by row (async), D2H as one copy of the rows' span followed by a local gather, memsets row by
// row (async).
#include <cstring>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "graph_host_copy.h"
#include "state.h"

using namespace gpool::shim;

namespace gpool::shim {  // memcpy.cc: the async host copies, never recorded as graph nodes
CUresult memcpy_htod_async_rows(CUdeviceptr dst, const void* src, size_t bytes, CUstream s);
CUresult memcpy_dtoh_async_rows(void* dst, CUdeviceptr src, size_t bytes, CUstream s);
}  // namespace gpool::shim
extern "C" CUresult gpool_impl_cuMemcpyDtoDAsync_v2(CUdeviceptr, CUdeviceptr, size_t, CUstream);
// texture.cc: a 2D copy with a CUDA array side.
CUresult gpool_shim_array_copy2d(const CUDA_MEMCPY2D* c, CUstream stream, bool async);

namespace {


enum class Side { kHost, kDevice, kUnsupported };

Side side(CUmemorytype type, CUdeviceptr dev, const void* host) {
  switch (type) {
    case CU_MEMORYTYPE_HOST: return Side::kHost;
    case CU_MEMORYTYPE_DEVICE: return Side::kDevice;
    case CU_MEMORYTYPE_UNIFIED:
      return find_device_range(dev, nullptr, nullptr) ? Side::kDevice : Side::kHost;
    default: return Side::kUnsupported;
  }
  (void)host;
}

CUresult copy2d(const CUDA_MEMCPY2D* c, CUstream stream) {
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (stream != nullptr) {  // in a capture, one host side: a graph node (graph_host_copy.h)
    CUDA_MEMCPY3D p{};
    p.srcMemoryType = c->srcMemoryType;
    p.srcHost = c->srcHost;
    p.srcDevice = c->srcDevice;
    p.srcArray = c->srcArray;
    p.srcXInBytes = c->srcXInBytes;
    p.srcY = c->srcY;
    p.srcPitch = c->srcPitch;
    p.dstMemoryType = c->dstMemoryType;
    p.dstHost = c->dstHost;
    p.dstDevice = c->dstDevice;
    p.dstArray = c->dstArray;
    p.dstXInBytes = c->dstXInBytes;
    p.dstY = c->dstY;
    p.dstPitch = c->dstPitch;
    p.WidthInBytes = c->WidthInBytes;
    p.Height = c->Height;
    p.Depth = 1;
    bool recorded = false;
    if (CUresult st = gpool::shim::hostcopy::try_capture(p, stream, recorded); st != CUDA_SUCCESS || recorded) return st;
  }
  const Side s = side(c->srcMemoryType, c->srcDevice, c->srcHost);
  const Side d = side(c->dstMemoryType, c->dstDevice, c->dstHost);
  if (s == Side::kUnsupported || d == Side::kUnsupported) {
    if (c->srcMemoryType == CU_MEMORYTYPE_ARRAY || c->dstMemoryType == CU_MEMORYTYPE_ARRAY)
      return gpool_shim_array_copy2d(c, stream, stream != nullptr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const size_t w = c->WidthInBytes, h = c->Height;
  // Rows that would overlap: the driver refuses a pitch below the width (as the emulator does).
  if (h > 1 && (c->srcPitch < w || c->dstPitch < w)) return CUDA_ERROR_INVALID_VALUE;
  if (w == 0 || h == 0) return CUDA_SUCCESS;
  auto src_host = [&](size_t row) {
    const void* base = c->srcMemoryType == CU_MEMORYTYPE_UNIFIED ? reinterpret_cast<const void*>(c->srcDevice) : c->srcHost;
    return static_cast<const char*>(base) + (c->srcY + row) * c->srcPitch + c->srcXInBytes;
  };
  auto dst_host = [&](size_t row) {
    void* base = c->dstMemoryType == CU_MEMORYTYPE_UNIFIED ? reinterpret_cast<void*>(c->dstDevice) : c->dstHost;
    return static_cast<char*>(base) + (c->dstY + row) * c->dstPitch + c->dstXInBytes;
  };
  auto src_dev = [&](size_t row) { return c->srcDevice + (c->srcY + row) * c->srcPitch + c->srcXInBytes; };
  auto dst_dev = [&](size_t row) { return c->dstDevice + (c->dstY + row) * c->dstPitch + c->dstXInBytes; };
  if (s == Side::kHost && d == Side::kHost) {
    for (size_t r = 0; r < h; ++r) std::memmove(dst_host(r), src_host(r), w);
    return CUDA_SUCCESS;
  }
  if (d == Side::kDevice) {
    for (size_t r = 0; r < h; ++r) {
      const CUresult st = s == Side::kHost ? memcpy_htod_async_rows(dst_dev(r), src_host(r), w, stream)
                                           : gpool_impl_cuMemcpyDtoDAsync_v2(dst_dev(r), src_dev(r), w, stream);
      if (st != CUDA_SUCCESS) return st;
    }
    return CUDA_SUCCESS;
  }
  // Device to host: one copy of the span, then gather the rows locally.
  const size_t span = (h - 1) * c->srcPitch + w;
  std::vector<char> tmp(span);
  if (CUresult st = memcpy_dtoh_async_rows(tmp.data(), src_dev(0), span, stream); st != CUDA_SUCCESS) {
    return st;
  }
  for (size_t r = 0; r < h; ++r) std::memcpy(dst_host(r), tmp.data() + r * c->srcPitch, w);
  return CUDA_SUCCESS;
}

CUresult memset2d(CUdeviceptr dst, size_t pitch, uint32_t value, unsigned elem, size_t width,
                  size_t height, CUstream stream, bool sync_api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (height > 1 && pitch < width * elem) return CUDA_ERROR_INVALID_VALUE;
  const HandleRef hs[] = {stream_ref(stream)};
  for (size_t r = 0; r < height; ++r) {
    const uint64_t args[] = {dst + r * pitch, value, elem, width, sync_api ? 1u : 0u};
    if (CUresult st = Session::instance().async(Op::Memset, args, hs); st != CUDA_SUCCESS) return st;
  }
  return CUDA_SUCCESS;
}

}  // namespace

// cuMemAllocPitch_v2: memory.cc (the server picks the pitch and charges the quota).

extern "C" CUresult gpool_impl_cuMemcpy2D_v2(const CUDA_MEMCPY2D* c) { return copy2d(c, nullptr); }
extern "C" CUresult gpool_impl_cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D* c) { return copy2d(c, nullptr); }
extern "C" CUresult gpool_impl_cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* c, CUstream s) { return copy2d(c, s); }

extern "C" CUresult gpool_impl_cuMemsetD2D8_v2(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t h) {
  return memset2d(d, p, v, 1, w, h, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemsetD2D16_v2(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t h) {
  return memset2d(d, p, v, 2, w, h, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemsetD2D32_v2(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t h) {
  return memset2d(d, p, v, 4, w, h, nullptr, true);
}
extern "C" CUresult gpool_impl_cuMemsetD2D8Async(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t h, CUstream s) {
  return memset2d(d, p, v, 1, w, h, s, false);
}
extern "C" CUresult gpool_impl_cuMemsetD2D16Async(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t h, CUstream s) {
  return memset2d(d, p, v, 2, w, h, s, false);
}
extern "C" CUresult gpool_impl_cuMemsetD2D32Async(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t h, CUstream s) {
  return memset2d(d, p, v, 4, w, h, s, false);
}
