// Worker: cuStreamAttachMemAsync (calls.toml StreamAttachMem, op 415).
//
// The address must be the start of a managed allocation of this session (the client's address:
// when the driver's allocation was not page-aligned, the allocation table keeps the driver's, and
// the driver is asked about its whole allocation, length 0); anything else is
// CUDA_ERROR_INVALID_VALUE (sticky: the call is async) and never reaches the driver. The shim
// checked the same before sending (client-shim/src/managed_attach.cc).
#include "gpool/common/log.h"
#include "worker.h"

namespace gpool::server {

CUresult Worker::op_stream_attach_mem(Ctx& c) {
  StreamAttachMemArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  const CUdeviceptr p = args.dptr;
  const uint64_t length = args.length;
  const AllocationTable::Allocation* a = allocs_.find(p);
  if (a == nullptr || (length != 0 && length != a->bytes)) {
    log::logger("worker").warn("session {}: cuStreamAttachMemAsync of [{:#x}, +{}), which is not a managed "
                               "allocation of this session", params_.session_id, p, length);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUdeviceptr driver_ptr = allocs_.driver_address(p);
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  return drv_.cuStreamAttachMemAsync(s, driver_ptr, 0, static_cast<unsigned>(args.flags));
}

}  // namespace gpool::server
