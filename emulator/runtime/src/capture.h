// Stream capture: while a stream captures, work pushed into it is not run but
// recorded as nodes of a graph (graph.h), which cuStreamEndCapture returns.
//
// State: a Capture (one capture sequence) is shared by every stream that
// takes part in it: the origin stream that began it and the streams that
// joined it by waiting on an event recorded in a capturing stream. Each
// participating stream has its own set of "current dependencies" (the nodes
// its next node will depend on). An event recorded in a capturing stream
// remembers the recording stream's dependencies instead of a stream position.
// All of it is guarded by graph_mu(); Stream::capturing is a lock-free
// hint read on every enqueue.
//
// The rules (docs/emulator.md, "Stream capture") and their errors:
//   - work on a capturing stream: recorded; on an invalidated one:
//     CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
//   - synchronous calls on a capturing stream (synchronize, query,
//     synchronous copies): CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, and the
//     capture is invalidated;
//   - the legacy stream used while a blocking stream of its context captures:
//     CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, capture invalidated;
//   - waiting, in a capturing stream, on an event not recorded in the same
//     capture: CUDA_ERROR_STREAM_CAPTURE_ISOLATION, capture invalidated;
//   - potentially unsafe calls (cuMemAlloc, cuMemFree, ...) while the thread's
//     capture mode forbids them: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include "graph.h"
#include "launch.h"
#include "stream.h"

#include <memory>
#include <thread>
#include <vector>

namespace gpool::emu::rt {

struct Capture {
  uint64_t id = 0;
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  std::thread::id thread;        // the thread that began it
  Graph* graph = nullptr;        // registered graph being built
  bool own_graph = true;         // false for cuStreamBeginCaptureToGraph
  bool invalidated = false;
  Stream* origin = nullptr;
  std::vector<std::shared_ptr<Stream>> members;  // every stream that joined (origin included)
};

// Per stream: its capture and current dependencies (guarded by graph_mu()).
struct StreamCapture {
  std::shared_ptr<Capture> cap;
  std::vector<GraphNode*> deps;
};

// Call before putting work on `s`. Sets *capturing when `s` captures (then
// the caller adds a node instead of enqueuing). Errors: INVALIDATED for an
// invalidated capture; IMPLICIT for the legacy stream next to a capture.
CUresult capture_gate(const std::shared_ptr<Stream>& s, bool* capturing);

// Call before a synchronous use of `s` (synchronize, query, synchronous
// copy). Errors: UNSUPPORTED when `s` captures; IMPLICIT as above.
CUresult capture_gate_sync(const std::shared_ptr<Stream>& s);

// Call at the top of potentially unsafe calls (allocation, free, context
// synchronize). Errors: UNSUPPORTED when the thread's mode forbids them.
CUresult capture_unsafe_call(const char* what);

// Adds `node` to the capture of `s` after the stream's dependencies, which
// become the new node. Errors: INVALIDATED.
CUresult capture_add(const std::shared_ptr<Stream>& s, std::unique_ptr<GraphNode> node);
// `attrs`: the launch's checked cuLaunchKernelEx attribute list (null/0 for other launches),
// kept on the node (cuGraphKernelNodeGetAttribute).
CUresult capture_kernel(const std::shared_ptr<Stream>& s, KernelLaunch k, const CUlaunchAttribute* attrs,
                        unsigned num_attrs);

// Invalidates `s`'s capture (an unsupported operation was attempted on it)
// and returns `err`.
CUresult capture_fail(const std::shared_ptr<Stream>& s, CUresult err);

// Event record / wait while capturing. capture_event_record: `s` captures;
// the event now names the stream's dependencies. capture_event_wait: *handled
// is set when the wait concerned a capture (join or merge). Errors: ISOLATION.
CUresult capture_event_record(Event* e, const std::shared_ptr<Stream>& s);
CUresult capture_event_wait(const std::shared_ptr<Stream>& s, Event* e, bool* handled);
// True when `e` was last recorded in a capture still in progress.
bool capture_event_pending(Event* e);
// Forgets an event's capture record (event destroyed or recorded outside capture).
void capture_event_clear(Event* e);
// True when a capture in progress records into `g`. REQUIRES: graph_mu() held.
bool capture_uses_graph_locked(const Graph* g);
// A stream that is destroyed leaves its capture.
void capture_stream_gone(Stream* s);

}  // namespace gpool::emu::rt
