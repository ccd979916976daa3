// cuMemsetD8/D16/D32, their 2D forms and the async variants.
#include "copy_engine.h"

#include "alloc_table.h"
#include "context.h"
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
