// Worker: copies and memsets, each range checked against the session's allocations and
// module globals (Worker::range_ok in worker_memory.cc).
#include "worker.h"

#include "gpool/common/log.h"

namespace gpool::server {

CUresult Worker::op_memcpy_htod(Ctx& c) {
  const CUdeviceptr dst = c.arg(0);
  const uint64_t bytes = c.arg(1);
  if (in_->segments_left() != 1 || head_.segment_lengths.size() != 1 ||
      head_.segment_lengths[0] != bytes) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  staging_.resize(bytes);
  if (transport::Status s = in_->recv_segment({staging_.data(), bytes}); !s.ok()) {
    c.fatal = true;
    return CUDA_ERROR_UNKNOWN;
  }
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (!range_ok(dst, bytes)) return CUDA_ERROR_INVALID_VALUE;
  // The staging buffer is reused by the next call, so the copy completes here in every form
  // (the client did not wait for it: H2D is async on the wire once its bytes are captured).
  if (stream != nullptr) {
    CUresult st = drv_.cuMemcpyHtoDAsync_v2(dst, staging_.data(), bytes, stream);
    if (st == CUDA_SUCCESS) st = drv_.cuStreamSynchronize(stream);
    return st;
  }
  return drv_.cuMemcpyHtoD_v2(dst, staging_.data(), bytes);
}

CUresult Worker::op_memcpy_dtoh(Ctx& c) {
  const CUdeviceptr src = c.arg(0);
  const uint64_t bytes = c.arg(1);
  const bool sync_api = c.arg(2) != 0;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (!range_ok(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  staging_.resize(bytes);
  CUresult st;
  if (sync_api) {
    st = drv_.cuMemcpyDtoH_v2(staging_.data(), src, bytes);
  } else {
    st = drv_.cuMemcpyDtoHAsync_v2(staging_.data(), src, bytes, stream);
    if (st == CUDA_SUCCESS) st = drv_.cuStreamSynchronize(stream);
  }
  if (st == CUDA_SUCCESS) c.segments_out.push_back({staging_.data(), bytes});
  return st;
}

CUresult Worker::op_memcpy_dtod(Ctx& c) {
  const CUdeviceptr dst = c.arg(0), src = c.arg(1);
  const uint64_t bytes = c.arg(2);
  const bool sync_api = c.arg(3) != 0;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (!range_ok(dst, bytes) || !range_ok(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  return sync_api ? drv_.cuMemcpyDtoD_v2(dst, src, bytes)
                  : drv_.cuMemcpyDtoDAsync_v2(dst, src, bytes, stream);
}

CUresult Worker::op_memset(Ctx& c) {
  const CUdeviceptr dst = c.arg(0);
  const uint64_t value = c.arg(1), elem = c.arg(2), count = c.arg(3);
  const bool sync_api = c.arg(4) != 0;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if ((elem != 1 && elem != 2 && elem != 4) || count > (uint64_t{1} << 48) ||
      !range_ok(dst, elem * count)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  switch (elem) {
    case 1:
      return sync_api ? drv_.cuMemsetD8_v2(dst, static_cast<unsigned char>(value), count)
                      : drv_.cuMemsetD8Async(dst, static_cast<unsigned char>(value), count, stream);
    case 2:
      return sync_api ? drv_.cuMemsetD16_v2(dst, static_cast<unsigned short>(value), count)
                      : drv_.cuMemsetD16Async(dst, static_cast<unsigned short>(value), count, stream);
    default:
      return sync_api ? drv_.cuMemsetD32_v2(dst, static_cast<unsigned>(value), count)
                      : drv_.cuMemsetD32Async(dst, static_cast<unsigned>(value), count, stream);
  }
}

}  // namespace gpool::server
