// Worker: copies and memsets, each range checked against the session's allocations and
// module globals (Worker::range_ok in worker_memory.cc). H2D and D2H copies flow through the
// staging ring in chunks (staging_ring.h), overlapping the network with the device copies.
#include "worker.h"

#include <algorithm>

#include "gpool/common/env.h"
#include "gpool/common/log.h"

namespace gpool::server {

// H2D: the handle and the whole range are checked before a byte is received, so a forged
// destination never sees data; on any failure the unread rest of the segment is skipped before
// anything waits. The segment is then received chunk by chunk into the staging ring, each
// chunk's device copy enqueued on the call's stream while the next chunk is received.
//
// Held streams (docs/architecture.md "Copies into a held stream"): a slot whose last copy was
// enqueued while a host function was armed (hold tag) and has not finished may wait for a
// HostFnDone that is behind this frame's bytes on the wire. The worker never waits for such a
// slot with bytes still to read: it receives the copy's rest into spill memory (htod_spill).
CUresult Worker::op_memcpy_htod(Ctx& c) {
  MemcpyHtoDArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr dst = a.dst;
  const uint64_t bytes = a.bytes;
  const bool sync_api = a.sync_api != 0;  // the decoder checked one segment of `bytes` (calls.toml)
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (CUresult st = refuse_host_copy_in_capture(stream); st != CUDA_SUCCESS) return st;
  if (!range_ok(dst, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = ring_.ensure(); st != CUDA_SUCCESS) return st;
  CUresult result = CUDA_SUCCESS;
  const uint64_t tag = hostfn_tag();
  for (uint64_t off = 0; off < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(ring_.chunk(), bytes - off));
    StagingRing::Slot& next = ring_.peek();
    if (next.pending && next.tag != 0 && hostfn_held(next.tag) && !ring_.idle(next)) {
      return htod_spill(c, dst + off, bytes - off, stream, sync_api);
    }
    StagingRing::Slot* slot = nullptr;
    if (result = ring_.acquire(slot); result != CUDA_SUCCESS) break;
    if (transport::Status s = in_->recv_segment_part({slot->data, n}); !s.ok()) {
      c.fatal = true;
      return CUDA_ERROR_UNKNOWN;
    }
    result = drv_.cuMemcpyHtoDAsync_v2(dst + off, slot->data, n, stream);
    if (result == CUDA_SUCCESS) result = ring_.release(*slot, stream, tag);
    if (result != CUDA_SUCCESS) break;
    off += n;
  }
  if (result != CUDA_SUCCESS && in_->segments_left() != 0) {
    // The rest is read (and dropped) before the drain may wait on the device.
    if (!in_->skip_segment().ok()) {
      c.fatal = true;
      return CUDA_ERROR_UNKNOWN;
    }
  }
  // The synchronous form completes before the next call runs (as cuMemcpyHtoD does); an async
  // copy stays in flight in stream order, and the slots' events guard the staging memory.
  if (sync_api || result != CUDA_SUCCESS) {
    const CUresult st = ring_.drain();
    if (result == CUDA_SUCCESS) result = st;
  }
  return result;
}

uint64_t Worker::spill_budget() {
  if (spill_budget_ == UINT64_MAX) {
    spill_budget_ = std::min<uint64_t>(env::get_size("GPOOL_COPY_SPILL", uint64_t{8} << 20), uint64_t{1} << 30);
  }
  return spill_budget_;
}

// The rest of a copy (`bytes` from `dst` on) while the ring's next slot waits for a held stream.
// The client sends at most spill_budget() bytes of such copies between two HostFnSettle calls
// (client-shim/src/session.cc); the worker keeps to the same bound per hold tag, so a client
// that does not gets the copy refused (logged, the session's sticky error), never a hang.
CUresult Worker::htod_spill(Ctx& c, CUdeviceptr dst, uint64_t bytes, CUstream stream, bool sync_api) {
  const uint64_t tag = hostfn_tag();
  if (tag != spill_tag_) {
    spill_tag_ = tag;
    spill_used_ = 0;
  }
  const uint64_t budget = spill_budget();
  auto held = [](void* self, uint64_t t) { return static_cast<Worker*>(self)->hostfn_held(t); };
  StagingRing::Pieces pieces;
  CUresult result = CUDA_SUCCESS;
  if (spill_used_ > budget || bytes > budget - spill_used_ || !ring_.make_room(bytes, budget, held, this)) {
    log::logger("worker").warn(
        "session {}: a {}-byte host-to-device copy into a stream held at a host function does not fit the "
        "spill budget ({} of {} bytes used; GPOOL_COPY_SPILL): refused",
        params_.session_id, bytes, spill_used_, budget);
    result = CUDA_ERROR_OUT_OF_MEMORY;
  } else if (pieces = ring_.spill(bytes, tag, budget); pieces.first == nullptr) {
    result = CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (result != CUDA_SUCCESS) {
    if (!in_->skip_segment().ok()) c.fatal = true;
    return c.fatal ? CUDA_ERROR_UNKNOWN : result;
  }
  spill_used_ += bytes;
  // All of it is read before the device copies are enqueued: from here on nothing of this frame
  // is on the wire, so the side thread reads the HostFnDone that releases the stream.
  const uint64_t second_bytes = bytes - pieces.first_bytes;
  if (!in_->recv_segment_part({pieces.first, static_cast<size_t>(pieces.first_bytes)}).ok() ||
      (second_bytes != 0 && !in_->recv_segment_part({pieces.second, static_cast<size_t>(second_bytes)}).ok())) {
    c.fatal = true;
    return CUDA_ERROR_UNKNOWN;
  }
  result = drv_.cuMemcpyHtoDAsync_v2(dst, pieces.first, pieces.first_bytes, stream);
  if (result == CUDA_SUCCESS && second_bytes != 0) {
    result = drv_.cuMemcpyHtoDAsync_v2(dst + pieces.first_bytes, pieces.second, second_bytes, stream);
  }
  const CUresult rel = ring_.spill_release(stream);
  if (result == CUDA_SUCCESS) result = rel;
  if (sync_api || result != CUDA_SUCCESS) {
    const CUresult st = ring_.drain();
    if (result == CUDA_SUCCESS) result = st;
  }
  return result;
}

CUresult Worker::op_memcpy_dtoh(Ctx& c) {
  MemcpyDtoHArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr src = a.src;
  const uint64_t bytes = a.bytes;
  const bool sync_api = a.sync_api != 0;
  const bool chunks = a.accept_chunks != 0;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (CUresult st = refuse_host_copy_in_capture(stream); st != CUDA_SUCCESS) return st;
  if (!range_ok(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (chunks) return dtoh_chunked(c, src, bytes, stream);
  // A client that takes the bytes only as one reply segment: stage the whole copy.
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

// D2H in MemcpyDtoHChunk notes: up to slots() device copies run ahead into the staging ring
// while the oldest finished chunk is sent. Stream order is the call's stream (the legacy
// default stream for the synchronous form, which orders it after earlier work as cuMemcpyDtoH
// does). A failed chunk stops the notes and its status goes into the Reply.
CUresult Worker::dtoh_chunked(Ctx& c, CUdeviceptr src, uint64_t bytes, CUstream stream) {
  if (CUresult st = ring_.ensure(); st != CUDA_SUCCESS) return st;
  struct InFlight {
    StagingRing::Slot* slot;
    uint64_t off;
    size_t n;
  };
  std::vector<InFlight> window;  // oldest first; at most slots() entries
  window.reserve(ring_.slots());
  uint64_t issued = 0;
  CUresult result = CUDA_SUCCESS;
  while (result == CUDA_SUCCESS && (issued < bytes || !window.empty())) {
    while (issued < bytes && window.size() < ring_.slots()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(ring_.chunk(), bytes - issued));
      StagingRing::Slot* slot = nullptr;
      if (result = ring_.acquire(slot); result != CUDA_SUCCESS) break;
      result = drv_.cuMemcpyDtoHAsync_v2(slot->data, src + issued, n, stream);
      if (result == CUDA_SUCCESS) result = ring_.release(*slot, stream);
      if (result != CUDA_SUCCESS) break;
      window.push_back({slot, issued, n});
      issued += n;
    }
    if (result != CUDA_SUCCESS || window.empty()) break;
    const InFlight f = window.front();
    window.erase(window.begin());
    if (result = ring_.wait(*f.slot); result != CUDA_SUCCESS) break;
    const uint64_t args[] = {f.off};
    remote::build_call(fbb_, 0, 0, remote::Op::MemcpyDtoHChunk, true, args, {}, {}, 1);
    const transport::ConstBytes seg{f.slot->data, f.n};
    slot_.phase.store(kPhaseBusy);  // a frame on the wire: the supervisor must not write one
    const bool sent = conn_->send(protocol::finished_bytes(fbb_), {&seg, 1}).ok();
    slot_.phase.store(kPhaseDevice);
    if (!sent) {
      c.fatal = true;
      return CUDA_ERROR_UNKNOWN;
    }
    c.bytes_sent += f.n;
  }
  if (result != CUDA_SUCCESS) (void)ring_.drain();
  return result;
}

CUresult Worker::op_memcpy_dtod(Ctx& c) {
  MemcpyDtoDArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr dst = a.dst, src = a.src;
  const uint64_t bytes = a.bytes;
  const bool sync_api = a.sync_api != 0;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (!range_ok(dst, bytes) || !range_ok(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  return sync_api ? drv_.cuMemcpyDtoD_v2(dst, src, bytes)
                  : drv_.cuMemcpyDtoDAsync_v2(dst, src, bytes, stream);
}

CUresult Worker::op_memset(Ctx& c) {
  MemsetArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr dst = a.dst;
  const uint64_t value = a.value, elem = a.element_size, count = a.count;
  const bool sync_api = a.sync_api != 0;
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
