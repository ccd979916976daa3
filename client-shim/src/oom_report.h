// Why an allocation was refused, said once per process on the client.
//
// The server refuses an allocation beyond the tenant's memory quota (or the device's memory) with
// CUDA_ERROR_OUT_OF_MEMORY, which is all the program sees. The first time that happens in a
// process, report_out_of_memory() asks the same server for cuMemGetInfo (the tenant's view:
// total = the quota or the device's memory, whichever is smaller) and logs one warning with the
// bytes asked, the bytes the tenant holds there and what it may hold. Later refusals are not
// logged again (the server's log and `gpool status` count every one).
// Thread safety: any thread; the report is sent at most once.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gpool::shim {

class Session;

// Call after `session` answered `call` (asking `bytes` on the current device) with `status`;
// returns `status` unchanged. Does nothing unless status is CUDA_ERROR_OUT_OF_MEMORY.
CUresult report_out_of_memory(Session& session, const char* call, uint64_t bytes, CUresult status);

}  // namespace gpool::shim
