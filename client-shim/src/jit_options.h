// Shim: JIT options of cuModuleLoadDataEx, cuLibraryLoadData and cuLink* turned into their wire
// form (protocol/include/gpool/protocol/jit_wire.h), and the server's answer (logs, wall time,
// threads per block) written back into the caller's option values and log buffers.
// Thread safety: a JitRequest belongs to one call (or one link state).
#pragma once

#include <cuda.h>

#include <cstdint>
#include <span>
#include <vector>

#include "session.h"

namespace gpool::shim {

struct JitRequest {
  std::vector<uint64_t> args;  // [count, (option, value) x count]
  char* info_buf = nullptr;
  char* error_buf = nullptr;
  size_t info_cap = 0, error_cap = 0;
  int info_size_slot = -1, error_size_slot = -1, wall_slot = -1, threads_slot = -1;  // caller's slots
};

// CUDA_ERROR_INVALID_VALUE: an option outside CUjit_option, options without an array;
// CUDA_ERROR_NOT_SUPPORTED: options that bind device symbols to host addresses or list
// referenced kernels/variables (pointers into this process; logged).
CUresult encode_jit(unsigned n, const CUjit_option* options, void* const* values, JitRequest* out,
                    const char* api);

// Applies the answer found at reply.results[first..first+3] and reply.inline_data (info then
// error log) to the caller's buffers and `values` (which may be null).
void apply_jit_answer(const JitRequest& req, const Reply& reply, size_t first, void** values);

}  // namespace gpool::shim
