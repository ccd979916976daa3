// Shim: events under client-chosen ids (create, record and destroy are async).
#include <cstring>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

HandleRef event_ref(CUevent e) {
  return HandleRef(reinterpret_cast<uint64_t>(e), gpool::remote::HandleKind_Event);
}

}  // namespace

extern "C" CUresult gpool_impl_cuEventCreate(CUevent* out, unsigned int flags) {
  if (out == nullptr || (flags & ~0xfu) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t id = new_id(IdKind::kEvent);
  const uint64_t args[] = {flags};
  const HandleRef h[] = {HandleRef(id, gpool::remote::HandleKind_Event)};
  if (CUresult st = Session::instance().async(Op::EventCreate, args, h); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUevent>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuEventDestroy_v2(CUevent e) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {event_ref(e)};
  return Session::instance().async(Op::EventDestroy, {}, h);
}
extern "C" CUresult gpool_impl_cuEventDestroy(CUevent e) { return gpool_impl_cuEventDestroy_v2(e); }

extern "C" CUresult gpool_impl_cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int flags) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {event_ref(e), stream_ref(s)};
  const uint64_t args[] = {flags};
  return Session::instance().async(Op::EventRecord, args, h);
}
extern "C" CUresult gpool_impl_cuEventRecord(CUevent e, CUstream s) {
  return gpool_impl_cuEventRecordWithFlags(e, s, 0);
}

extern "C" CUresult gpool_impl_cuEventSynchronize(CUevent e) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {event_ref(e)};
  return Session::instance().sync(Op::EventSynchronize, {}, h);
}

extern "C" CUresult gpool_impl_cuEventQuery(CUevent e) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {event_ref(e)};
  return Session::instance().sync(Op::EventQuery, {}, h);
}

extern "C" CUresult gpool_impl_cuEventElapsedTime_v2(float* ms, CUevent a, CUevent b) {
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {event_ref(a), event_ref(b)};
  uint64_t v = 0;
  if (CUresult st = Session::instance().sync_value(Op::EventElapsedTime, {}, h, v); st != CUDA_SUCCESS) return st;
  const uint32_t bits = static_cast<uint32_t>(v);
  std::memcpy(ms, &bits, 4);
  return CUDA_SUCCESS;
}
extern "C" CUresult gpool_impl_cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
  return gpool_impl_cuEventElapsedTime_v2(ms, a, b);
}
