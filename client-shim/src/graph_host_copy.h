// Shim: graph copy nodes with a host side (calls.toml 490-496, server/src/worker_graph_host_copy.h).
//
// The program's host buffer stays here, registered as a host-function id (hostfn::add_copy);
// the server's node copies to or from its own dense staging buffer, and a marker next to the
// node asks this process for the bytes (host to device) or hands it the bytes (device to host)
// when the node runs, at every launch, on the host-function thread in stream order. A pitched
// host side (2D/3D) is gathered into or scattered from the dense bytes here; more than one
// note's inline data travels in parts (HostCopyPartToServer / HostCopyPartToClient).
//
// While the process has a stream capture open (cuStreamBeginCapture* .. cuStreamEndCapture, a
// count, not per stream: a stream joins a capture through events the shim does not see), async
// copies with one host side (cuMemcpyHtoDAsync/DtoHAsync, cuMemcpyAsync, cuMemcpy2DAsync,
// cuMemcpy3DAsync) first ask the server whether their stream is capturing (CaptureHostCopy3D,
// one round trip); outside captures they are sent as before.
//
// Thread safety: every function may be called from any thread; serve() runs on the
// host-function thread.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace gpool::shim {
class Session;
}

namespace gpool::shim::hostcopy {

// The program's side of a copy node: its buffer and where in it the copy's box lies (as the
// host fields of CUDA_MEMCPY3D; pitch 0 for a 1D copy).
struct HostSide {
  std::byte* base = nullptr;
  size_t x = 0, y = 0, z = 0, pitch = 0, height = 0;
  size_t width = 0, rows = 1, depth = 1;
  bool to_device = true;
  size_t bytes() const { return width * rows * depth; }
};

void capture_begun();
void capture_ended();

// An async copy on `stream`: recorded as a graph node when it has exactly one host side and the
// stream is capturing (`recorded` true, the result is the call's), else nothing done
// (`recorded` false).
CUresult try_capture(const CUDA_MEMCPY3D& p, CUstream stream, bool& recorded);
CUresult try_capture(bool to_device, void* host, CUdeviceptr device, size_t bytes, CUstream stream, bool& recorded);

// True when `p` has exactly one host side (the other device memory or an array): a host copy node.
bool has_one_host_side(const CUDA_MEMCPY3D& p);

// cuGraphAddMemcpyNode with one host side (has_one_host_side).
CUresult add_node(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, const CUDA_MEMCPY3D& p);

// cuGraphMemcpyNodeSetParams (on_exec false) / cuGraphExecMemcpyNodeSetParams with one host side.
CUresult set_params(bool on_exec, CUgraphExec exec, CUgraphNode node, const CUDA_MEMCPY3D& p);

// cuGraphMemcpyNodeGetParams of a host copy node: the host side of `p` becomes the program's
// buffer and box registered under `id`; false for an id that is not a copy node's.
bool fill_host_side(uint64_t id, CUDA_MEMCPY3D& p);

// The host-function thread's work for a firing of a copy node: sends the bytes (host to
// device; parts, then HostFnDone) or writes `data` into the buffer and sends HostFnDone.
void serve(Session& s, const HostSide& h, uint64_t firing, std::span<const std::byte> data);

}  // namespace gpool::shim::hostcopy
