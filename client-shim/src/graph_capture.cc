// Shim: capture into an existing graph, capture dependency updates, a child-graph node's graph
// and a copy node's parameters (calls.toml 410-413, server/src/worker_graph_capture.cc).
//
// Graph and node handles are the server's ids (graph.cc); the server checks each against the
// session's tables. The pool builds no edges with ports or types, so non-default edge data is
// CUDA_ERROR_NOT_SUPPORTED (logged), as the emulator answers. The graph that
// cuGraphChildGraphNodeGetGraph returns is owned by its node: the server refuses to destroy it
// by itself and drops its id with the node.
//
// The _ptsz variants reach these through driver-abi's per-thread fallback (stream_ref maps the
// per-thread default stream). Thread safety: every entry point may be called from any thread.
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "graph_host_copy.h"
#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

uint64_t id_of(const void* h) { return reinterpret_cast<uint64_t>(h); }

// Graph ids the server returned for child-graph nodes. cuGraphDestroy is async, so the shim
// refuses these itself, at the call (the server refuses them too). Ids are never reused, so an
// id stays here after its node is gone: destroying it is then refused as a stale id would be.
std::mutex g_owned_mu;
std::unordered_set<uint64_t>& owned_ids() {
  static auto* ids = new std::unordered_set<uint64_t>();
  return *ids;
}

bool default_edges(const CUgraphEdgeData* data, size_t n) {
  if (data == nullptr) return true;
  for (size_t i = 0; i < n; ++i) {
    if (data[i].from_port != 0 || data[i].to_port != 0 || data[i].type != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamBeginCaptureToGraph(CUstream s, CUgraph graph, const CUgraphNode* deps,
                                                           const CUgraphEdgeData* data, size_t ndeps,
                                                           CUstreamCaptureMode mode) {
  if (ndeps > 0 && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!default_edges(data, ndeps)) {
    return gpool::abi::unimplemented("cuStreamBeginCaptureToGraph with non-default edge data");
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {id_of(graph), static_cast<uint64_t>(mode), ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(id_of(deps[i]));
  const HandleRef h[] = {stream_ref(s)};
  const CUresult st = Session::instance().sync(Op::StreamBeginCaptureToGraph, args, h);
  if (st == CUDA_SUCCESS) gpool::shim::hostcopy::capture_begun();
  return st;
}

extern "C" CUresult gpool_impl_cuStreamUpdateCaptureDependencies_v2(CUstream s, CUgraphNode* deps,
                                                                    const CUgraphEdgeData* data, size_t ndeps,
                                                                    unsigned int flags) {
  if (ndeps > 0 && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!default_edges(data, ndeps)) {
    return gpool::abi::unimplemented("cuStreamUpdateCaptureDependencies with non-default edge data");
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {flags, ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(id_of(deps[i]));
  const HandleRef h[] = {stream_ref(s)};
  return Session::instance().sync(Op::StreamUpdateCaptureDependencies, args, h);
}

extern "C" CUresult gpool_impl_cuStreamUpdateCaptureDependencies(CUstream s, CUgraphNode* deps, size_t ndeps,
                                                                 unsigned int flags) {
  return gpool_impl_cuStreamUpdateCaptureDependencies_v2(s, deps, nullptr, ndeps, flags);
}

extern "C" CUresult gpool_impl_cuGraphChildGraphNodeGetGraph(CUgraphNode node, CUgraph* graph) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node)};
  uint64_t id = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphChildGraphGet, args, {}, id);
  if (st != CUDA_SUCCESS) return st;
  {
    std::lock_guard<std::mutex> lock(g_owned_mu);
    owned_ids().insert(id);
  }
  *graph = reinterpret_cast<CUgraph>(id);
  return CUDA_SUCCESS;
}

bool gpool::shim::graph_owned_by_node(CUgraph graph) {
  std::lock_guard<std::mutex> lock(g_owned_mu);
  return owned_ids().count(id_of(graph)) != 0;
}

extern "C" CUresult gpool_impl_cuGraphMemcpyNodeGetParams(CUgraphNode node, CUDA_MEMCPY3D* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphMemcpyGetParams, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.inline_data.size() != sizeof *params) return CUDA_ERROR_UNKNOWN;
  std::memcpy(params, r.inline_data.data(), sizeof *params);
  // A copy node with a host side: the server names the host-function id of the program's buffer.
  if (!r.results.empty() && !gpool::shim::hostcopy::fill_host_side(r.results[0], *params)) return CUDA_ERROR_UNKNOWN;
  return CUDA_SUCCESS;
}
