// Stream memory operations (cuStreamWaitValue32/64, cuStreamWriteValue32/64,
// cuStreamBatchMemOp) and the work of batch memory-op graph nodes.
//
// An operation is checked once, when it is enqueued or put into a graph node
// (memop_check): its kind and flags, the alignment of its address (4 bytes
// for 32-bit, 8 for 64-bit values) and that the word lies inside one
// allocation the runtime knows that is device memory, pinned host memory or
// registered host memory. Managed memory is refused: the driver documents
// that none of these operations accepts it. Every error is
// CUDA_ERROR_INVALID_VALUE.
//
// Running (memop_task, on the stream's worker thread, in stream order):
//   - a write stores the value with release order (after a full fence unless
//     CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER) and wakes every waiting stream;
//   - a wait holds its stream until the word satisfies the condition. It
//     sleeps on a condition variable that every finished stream task (kernel,
//     copy, memset, write) and every write operation signals, with a timeout
//     that grows from 20 us to 2 ms, so writes the runtime cannot see (the
//     host writing mapped memory, a kernel still running) are seen within
//     2 ms and an idle wait costs no core;
//   - a wait gives up, and skips the rest of its batch, when its context is
//     destroyed or reset (the context's generation moved) or has a sticky
//     error: the work behind it then runs into the torn-down or faulted
//     context like any other queued work. A word freed while waited on or
//     before a write stores the context's sticky CUDA_ERROR_ILLEGAL_ADDRESS.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include "stream.h"

#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/stream_memops.h"

#include <cstdint>
#include <vector>

namespace gpool::emu::rt {

struct Context;

// The API generation a call came through and the most operations in one call or node: shared
// with the client shim (gpool/driver_abi/stream_memops.h), which must answer alike.
using gpool::abi::kMaxMemOps;
using gpool::abi::MemOpApi;

// Checks `count` operations of `ops` for `api`. `node`: a graph node's operations (an
// address a graph allocation node reserved is accepted too). Errors: INVALID_VALUE.
CUresult memop_check(const CUstreamBatchMemOpParams* ops, unsigned count, MemOpApi api, bool node);

// Whether an executable graph's node with operations `now` may take `next` (exec parameter
// updates): same count and kinds, the same flags for barriers and flushes, and waits keeping
// their CU_STREAM_WAIT_VALUE_FLUSH bit; addresses, values and wait conditions may change.
bool memop_update_ok(const std::vector<CUstreamBatchMemOpParams>& now,
                     const std::vector<CUstreamBatchMemOpParams>& next);

// The task running `ops` (checked) in order for work of `ctx`.
Task memop_task(std::vector<CUstreamBatchMemOpParams> ops, Context* ctx);

// Wakes waiting operations: something may have written memory. Cheap when none waits.
void memop_notify();

}  // namespace gpool::emu::rt
