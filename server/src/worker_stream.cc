// Worker: streams and events (the table: stream_table.h) under client-chosen ids (0 = NULL stream, 1 = CU_STREAM_LEGACY,
// 2 = CU_STREAM_PER_THREAD; created ids are above 2). A created stream or event belongs to the
// device that was current when it was created; calls on it run with that device's context
// current (the NULL/legacy/per-thread streams mean the current device's).
#include <cstring>

#include "worker.h"

namespace gpool::server {

CUresult Worker::stream_of(const Ctx& c, size_t i, CUstream& out) const {
  if (i >= c.handle_count()) {
    out = nullptr;
    return CUDA_SUCCESS;
  }
  if (c.handle_kind(i) != protocol::wire::HandleKind_Stream) return CUDA_ERROR_INVALID_HANDLE;
  return streams_.stream(c.handle_id(i), out);
}

CUresult Worker::event_of(const Ctx& c, size_t i, CUevent& out) const {
  if (c.handle_kind(i) != protocol::wire::HandleKind_Event) return CUDA_ERROR_INVALID_HANDLE;
  return streams_.event(c.handle_id(i), out);
}

CUresult Worker::op_stream_create(Ctx& c) {
  StreamCreateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = c.handle_id(0);
  if (c.handle_kind(0) != protocol::wire::HandleKind_Stream || !streams_.streams.id_free(id)) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  CUstream s = nullptr;
  const CUresult st = drv_.cuStreamCreateWithPriority(&s, static_cast<unsigned>(a.flags),
                                                      static_cast<int>(static_cast<int64_t>(a.priority)));
  if (st == CUDA_SUCCESS) streams_.streams.add(id, s, current_);
  return st;
}

CUresult Worker::op_stream_destroy(Ctx& c) {
  StreamDestroyArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUstream s = streams_.streams.find(c.handle_id(0));
  if (c.handle_kind(0) != protocol::wire::HandleKind_Stream || s == nullptr) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  DeviceScope scope(*this, device_of(s));
  const CUresult st = drv_.cuStreamDestroy_v2(s);
  streams_.streams.erase(c.handle_id(0));
  return st;
}

CUresult Worker::op_stream_sync(Ctx& c, bool query) {
  StreamSynchronizeArgs sync_args;
  StreamQueryArgs query_args;
  if (!(query ? decode_args(c, query_args) : decode_args(c, sync_args))) return CUDA_ERROR_INVALID_VALUE;
  if (c.handle_count() == 0) return CUDA_ERROR_INVALID_HANDLE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, device_of(s));
  return query ? drv_.cuStreamQuery(s) : drv_.cuStreamSynchronize(s);
}

CUresult Worker::op_ctx_synchronize(Ctx& c) {
  CtxSynchronizeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUresult st = drv_.cuCtxSynchronize();
  if (st == CUDA_SUCCESS) settle_frees(current_physical());  // its pools have trimmed
  if (st == CUDA_SUCCESS) host_copy_release_retired(current_physical());  // worker_graph_host_copy.cc
  return st;
}

CUresult Worker::op_stream_wait_event(Ctx& c) {
  StreamWaitEventArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  CUevent e = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  if (CUresult st = event_of(c, 1, e); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, device_of(s));
  return drv_.cuStreamWaitEvent(s, e, static_cast<unsigned>(a.flags));
}

CUresult Worker::op_event_create(Ctx& c) {
  EventCreateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = c.handle_id(0);
  if (c.handle_kind(0) != protocol::wire::HandleKind_Event || !streams_.events.id_free(id)) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  CUevent e = nullptr;
  const CUresult st = drv_.cuEventCreate(&e, static_cast<unsigned>(a.flags));
  if (st == CUDA_SUCCESS) streams_.events.add(id, e, current_);
  return st;
}

CUresult Worker::op_event_destroy(Ctx& c) {
  EventDestroyArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUevent e = streams_.events.find(c.handle_id(0));
  if (c.handle_kind(0) != protocol::wire::HandleKind_Event || e == nullptr) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  DeviceScope scope(*this, device_of(e));
  const CUresult st = drv_.cuEventDestroy_v2(e);
  streams_.events.erase(c.handle_id(0));
  return st;
}

CUresult Worker::op_event_record(Ctx& c) {
  EventRecordArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  CUstream s = nullptr;
  if (CUresult st = event_of(c, 0, e); st != CUDA_SUCCESS) return st;
  if (CUresult st = stream_of(c, 1, s); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, s != nullptr ? device_of(s) : device_of(e));
  return drv_.cuEventRecordWithFlags(e, s, static_cast<unsigned>(a.flags));
}

CUresult Worker::op_event_sync(Ctx& c, bool query) {
  EventSynchronizeArgs sync_args;
  EventQueryArgs query_args;
  if (!(query ? decode_args(c, query_args) : decode_args(c, sync_args))) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  if (CUresult st = event_of(c, 0, e); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, device_of(e));
  return query ? drv_.cuEventQuery(e) : drv_.cuEventSynchronize(e);
}

CUresult Worker::op_event_elapsed(Ctx& c) {
  EventElapsedTimeArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  CUevent a = nullptr, b = nullptr;
  if (CUresult st = event_of(c, 0, a); st != CUDA_SUCCESS) return st;
  if (CUresult st = event_of(c, 1, b); st != CUDA_SUCCESS) return st;
  float ms = 0;
  const CUresult st = drv_.cuEventElapsedTime_v2(&ms, a, b);
  uint32_t bits = 0;
  std::memcpy(&bits, &ms, 4);
  c.results = {bits};
  return st;
}

}  // namespace gpool::server
