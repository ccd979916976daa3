// Shim: graph copy nodes with a host side (calls.toml 490-491, server/src/worker_graph_host_copy.h).
//
// The program's host buffer stays here, registered as a host-function id (hostfn::add_copy);
// the server's node copies to or from its own staging buffer, and a marker next to the node
// asks this process for the bytes (host to device) or hands it the bytes (device to host) when
// the node runs, at every launch, on the host-function thread in stream order.
//
// While the process has a stream capture open (cuStreamBeginCapture* .. cuStreamEndCapture, a
// count, not per stream: a stream joins a capture through events the shim does not see),
// cuMemcpyHtoDAsync/DtoHAsync first ask the server whether their stream is capturing
// (CaptureHostCopy, one round trip); outside captures they are sent as before.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cuda.h>

#include <cstddef>

namespace gpool::shim::hostcopy {

void capture_begun();
void capture_ended();

// An async host copy on `stream`: recorded as a graph node when the stream is capturing
// (`recorded` true, the result is the call's), else nothing done (`recorded` false).
CUresult try_capture(bool to_device, void* host, CUdeviceptr device, size_t bytes, CUstream stream,
                     bool& recorded);

// cuGraphAddMemcpyNode with one host side: a 1D copy between `host` and `device`.
CUresult add_node(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, bool to_device,
                  void* host, CUdeviceptr device, size_t bytes);

}  // namespace gpool::shim::hostcopy
