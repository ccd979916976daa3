// cuStreamAttachMemAsync: the stream association of managed memory.
//
// On the emulator host and device share one memory, and CONCURRENT_MANAGED_ACCESS is 1, so an
// association changes no access: the call validates what the driver validates and has no other
// effect (the stream is only checked, nothing is queued on it).
//   - the stream must be valid (the sticky error is reported as by other stream calls);
//   - dptr must be the start of a cuMemAllocManaged allocation and length 0 or its whole size
//     (the driver's rule for managed allocations; __managed__ variables of modules and pageable
//     memory are not accepted here: CUDA_ERROR_INVALID_VALUE);
//   - flags must be exactly one of CU_MEM_ATTACH_GLOBAL, _HOST, _SINGLE; _SINGLE on the legacy
//     NULL stream is CUDA_ERROR_INVALID_VALUE (it names no one stream).
#include "alloc_table.h"
#include "context.h"
#include "gpool/driver_abi/backend.h"
#include "stream.h"

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuStreamAttachMemAsync(CUstream hStream, CUdeviceptr dptr, size_t length,
                                                      unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const bool legacy_null = hStream == CU_STREAM_LEGACY ||
                           (hStream == nullptr && !gpool::abi::per_thread_default_stream());
  if (flags == CU_MEM_ATTACH_SINGLE && legacy_null) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  auto a = allocs().find_range(dptr, length == 0 ? 1 : length);
  if (!a || a->kind != AllocKind::Managed || a->base != dptr || (length != 0 && length != a->size)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
