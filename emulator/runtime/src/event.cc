// Event entry points and cuStreamWaitEvent.
#include "event.h"

#include "capture.h"
#include "context.h"

namespace gpool::emu::rt {

void event_delete(Event* e) {
  registry().remove(e);
  capture_event_clear(e);
  delete e;
}

void event_record_on(Event* e, const std::shared_ptr<Stream>& s) {
  auto rec = std::make_shared<EventRecord>();
  rec->stream = s;
  std::lock_guard lock(e->mu);  // held across submit so concurrent records stay ordered
  rec->seq = submit(s, [rec] { rec->time_ns.store(now_ns()); });
  e->rec = rec;
}

void event_wait_on(const std::shared_ptr<Stream>& s, Event* e) {
  std::shared_ptr<EventRecord> rec;
  {
    std::lock_guard lock(e->mu);
    rec = e->rec;
  }
  if (rec) submit(s, Task{}, {Dep{rec->stream, rec->seq}});
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

constexpr unsigned kEventFlags =
    CU_EVENT_DEFAULT | CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;

Event* find_event(CUevent h) { return lookup<Event>(h); }

std::shared_ptr<EventRecord> record_of(Event* e) {
  std::lock_guard lock(e->mu);
  return e->rec;
}

}  // namespace

extern "C" CUresult gpool_impl_cuEventCreate(CUevent* phEvent, unsigned int Flags) {
  if (phEvent == nullptr || (Flags & ~kEventFlags)) return CUDA_ERROR_INVALID_VALUE;
  if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
  if (Flags & CU_EVENT_INTERPROCESS) return gpool::abi::unimplemented("cuEventCreate with CU_EVENT_INTERPROCESS");
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto* e = new Event();
  e->ctx = ctx;
  e->flags = Flags;
  {
    std::lock_guard lock(ctx->mu);
    ctx->events.insert(e);
  }
  registry().add(e);
  *phEvent = reinterpret_cast<CUevent>(e);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuEventDestroy_v2(CUevent hEvent) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Event* e = find_event(hEvent);
  if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  {
    std::lock_guard lock(e->ctx->mu);
    if (e->ctx->events.erase(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  event_delete(e);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuEventDestroy(CUevent hEvent) { return gpool_impl_cuEventDestroy_v2(hEvent); }

extern "C" CUresult gpool_impl_cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (flags & ~static_cast<unsigned>(CU_EVENT_RECORD_EXTERNAL)) return CUDA_ERROR_INVALID_VALUE;
  Event* e = find_event(hEvent);
  if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  if (s->ctx != e->ctx) return CUDA_ERROR_INVALID_HANDLE;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  if (capturing) {
    if (flags & CU_EVENT_RECORD_EXTERNAL) {
      auto n = std::make_unique<GraphNode>();
      n->type = CU_GRAPH_NODE_TYPE_EVENT_RECORD;
      n->event = hEvent;
      return capture_add(s, std::move(n));
    }
    return capture_event_record(e, s);
  }
  capture_event_clear(e);
  event_record_on(e, s);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuEventRecord(CUevent hEvent, CUstream hStream) {
  return gpool_impl_cuEventRecordWithFlags(hEvent, hStream, 0);
}

extern "C" CUresult gpool_impl_cuEventQuery(CUevent hEvent) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Event* e = find_event(hEvent);
  if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult s = e->ctx->sticky.load(); s != CUDA_SUCCESS) return s;
  if (capture_event_pending(e)) return CUDA_ERROR_CAPTURED_EVENT;
  auto rec = record_of(e);
  if (!rec) return CUDA_SUCCESS;
  return rec->stream->done(rec->seq) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

extern "C" CUresult gpool_impl_cuEventSynchronize(CUevent hEvent) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Event* e = find_event(hEvent);
  if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (capture_event_pending(e)) return CUDA_ERROR_CAPTURED_EVENT;
  auto rec = record_of(e);
  if (rec) rec->stream->wait(rec->seq);
  return e->ctx->sticky.load();
}

extern "C" CUresult gpool_impl_cuEventElapsedTime_v2(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Event* a = find_event(hStart);
  Event* b = find_event(hEnd);
  if (a == nullptr || b == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (capture_event_pending(a) || capture_event_pending(b)) return CUDA_ERROR_CAPTURED_EVENT;
  auto ra = record_of(a);
  auto rb = record_of(b);
  if (!ra || !rb) return CUDA_ERROR_INVALID_HANDLE;
  if (!ra->stream->done(ra->seq) || !rb->stream->done(rb->seq)) return CUDA_ERROR_NOT_READY;
  *pMilliseconds = static_cast<float>(static_cast<double>(rb->time_ns.load() - ra->time_ns.load()) / 1e6);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  return gpool_impl_cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}

extern "C" CUresult gpool_impl_cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (Flags & ~static_cast<unsigned>(CU_EVENT_WAIT_EXTERNAL)) return CUDA_ERROR_INVALID_VALUE;
  Event* e = find_event(hEvent);
  if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  if (Flags & CU_EVENT_WAIT_EXTERNAL) {
    bool capturing = false;
    if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
    if (capturing) {
      auto n = std::make_unique<GraphNode>();
      n->type = CU_GRAPH_NODE_TYPE_WAIT_EVENT;
      n->event = hEvent;
      return capture_add(s, std::move(n));
    }
  } else {
    bool handled = false;
    if (CUresult r = capture_event_wait(s, e, &handled); r != CUDA_SUCCESS || handled) return r;
    bool capturing = false;
    if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  }
  event_wait_on(s, e);
  return CUDA_SUCCESS;
}
