// Shim: cuStreamAttachMemAsync (calls.toml StreamAttachMem, op 415; managed.h).
//
// Checked here, at the call, as the driver checks it: flags exactly one of CU_MEM_ATTACH_GLOBAL,
// _HOST, _SINGLE (_SINGLE not on the legacy NULL stream), dptr the start of a managed allocation
// of the current device's session and length 0 or its size; anything else is
// CUDA_ERROR_INVALID_VALUE. The association is recorded in the shim's managed table, where it
// decides which allocations a launch locks out of the host (managed::lock_out), and forwarded
// (async, stream-ordered) so that a driver backend learns it too; the server checks the address
// against the session's allocations again. __managed__ variables of modules are not managed
// allocations of the shim: CUDA_ERROR_INVALID_VALUE (as on the emulator).
// Thread safety: may be called from any thread.
#include "gpool/driver_abi/backend.h"
#include "managed.h"
#include "state.h"

using namespace gpool::shim;

extern "C" CUresult gpool_impl_cuStreamAttachMemAsync(CUstream stream, CUdeviceptr dptr, size_t length,
                                                      unsigned int flags) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const bool legacy_null = stream == CU_STREAM_LEGACY ||
                           (stream == nullptr && !gpool::abi::per_thread_default_stream());
  if (flags == CU_MEM_ATTACH_SINGLE && legacy_null) return CUDA_ERROR_INVALID_VALUE;
  Session& s = Session::instance();
  const HandleRef h[] = {stream_ref(stream)};
  if (CUresult st = managed::attach(s.index(), dptr, length, flags, h[0].id()); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {dptr, length, flags};
  return s.async(Op::StreamAttachMem, args, h);
}
