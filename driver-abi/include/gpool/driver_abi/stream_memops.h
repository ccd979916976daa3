// The operations of a stream memory-operation call (cuStreamWaitValue*, cuStreamWriteValue*,
// cuStreamBatchMemOp, plain and _v2) or a batch memory-op graph node, answered the same way by
// every gpool driver library that takes them (the emulator, and the client shim, which must give
// the emulator's answers: differential suite, MemOpTest).
//
// Thread safety: pure function of its arguments (and of what `check_address` does); any thread
// may call it.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <functional>

namespace gpool::abi {

// The API generation a call came through: the v1 entry points (cuStreamWaitValue32, ...)
// accept CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER and refuse CU_STREAM_MEM_OP_BARRIER; the _v2
// entry points and graph nodes the other way round.
enum class MemOpApi { V1, V2 };

// Most operations in one cuStreamBatchMemOp or one node (the driver: "less than 256").
constexpr unsigned kMaxMemOps = 255;

// The word a wait or write operation reads or writes: 4 bytes for the _32 kinds, 8 for _64.
// Only meaningful for those four kinds.
unsigned memop_width(unsigned kind);

// The one operation of a cuStreamWaitValue*/cuStreamWriteValue* call as a batch entry: `kind`
// (a wait or write kind), the word's address, the value (cut to 32 bits for the _32 kinds) and
// the call's flags, unchecked (check_stream_memops checks it).
CUstreamBatchMemOpParams single_memop(CUstreamBatchMemOpType kind, CUdeviceptr addr, uint64_t value,
                                      unsigned flags);

// Checks `count` operations at `ops` for `api`, in order, stopping at the first refusal:
// - CUDA_ERROR_INVALID_VALUE for a null `ops`, a count of 0 or more than kMaxMemOps, an unknown
//   kind, a wait's flags beyond its condition and CU_STREAM_WAIT_VALUE_FLUSH, a write's flags
//   beyond what `api` allows, a flush with flags, a barrier through V1 or of an unknown type;
// - otherwise, for a wait or write, whatever `check_address(address, memop_width(kind))`
//   returns (the backend's own rules for the word: alignment, which memory it may be);
// - CUDA_SUCCESS when every operation passes.
CUresult check_stream_memops(const CUstreamBatchMemOpParams* ops, unsigned count, MemOpApi api,
                             const std::function<CUresult(CUdeviceptr, unsigned)>& check_address);

}  // namespace gpool::abi
