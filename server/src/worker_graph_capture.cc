// Worker: capture into an existing graph, capture dependency updates, the graph a child-graph
// node owns and a copy node's parameters (calls.toml 410-413; the rest of graphs:
// worker_graph.cc, worker_graph_query.cc).
//
// Every graph, node and stream id is looked up in the session's tables first, so a forged or
// stale id gets CUDA_ERROR_INVALID_VALUE (CUDA_ERROR_INVALID_HANDLE for a stream) and never
// reaches the driver.
//
// A child-graph node's graph is owned by the node: it gets a graph id like any graph (so its
// nodes can be listed and queried) but is recorded as owned by its node (GraphTable::set_child_owner), and GraphDestroy of
// that id is refused (CUDA_ERROR_INVALID_VALUE, as the emulator answers; a real driver would
// free memory its node still uses). The id leaves the table with the node (GraphDestroyNode)
// or the graph holding the node (GraphDestroy): forget_owned_ids() below.
//
// A graph being captured into (StreamBeginCaptureToGraph) stays the client's graph: a failed
// end of that capture does not drop its id, and GraphDestroy of it while the capture runs is
// CUDA_ERROR_ILLEGAL_STATE (GraphTable::capturing_into), as the emulator answers.
#include "worker.h"

#include "gpool/common/log.h"

#include <cstring>

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

// The session's graph nodes for client node ids (dependency lists of every add/capture call);
// false when any id is not a node of this session.
bool Worker::dependency_nodes(std::span<const uint64_t> ids, std::vector<CUgraphNode>& out) const {
  for (uint64_t id : ids) {
    CUgraphNode node = graph_node_of(id);
    if (node == nullptr) return false;
    out.push_back(node);
  }
  return true;
}

CUresult Worker::op_stream_begin_capture_to_graph(Ctx& c) {
  StreamBeginCaptureToGraphArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  settle_turn();  // a metered turn's timing events must not land in the capture
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  const CUresult st = drv_.cuStreamBeginCaptureToGraph(s, g, deps.empty() ? nullptr : deps.data(), nullptr,
                                                       deps.size(), static_cast<CUstreamCaptureMode>(a.mode));
  if (st == CUDA_SUCCESS) graphs_.mark_capture_into(g);
  return st;
}

CUresult Worker::op_stream_update_capture_deps(Ctx& c) {
  StreamUpdateCaptureDependenciesArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  return drv_.cuStreamUpdateCaptureDependencies_v2(s, deps.empty() ? nullptr : deps.data(), nullptr, deps.size(),
                                                   static_cast<unsigned>(a.flags));
}

CUresult Worker::op_graph_child_graph(Ctx& c) {
  GraphChildGraphGetArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraph child = nullptr;
  if (CUresult st = drv_.cuGraphChildGraphNodeGetGraph(n, &child); st != CUDA_SUCCESS) return st;
  graphs_.set_child_owner(child, n);
  c.results.push_back(graph_id(child));
  return CUDA_SUCCESS;
}

// The parameters go back as the CUDA_MEMCPY3D bytes. Through the pool a copy node never has a
// host side (worker_graph.cc refuses host copies in a capture; GraphAddNode builds device
// copies only), and an array side is an array of this session (the client holds the driver's
// array handle, worker_texture.cc); anything else is refused rather than leak a server address.
CUresult Worker::op_graph_memcpy_get(Ctx& c) {
  GraphMemcpyGetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMCPY3D p{};
  if (CUresult st = drv_.cuGraphMemcpyNodeGetParams(n, &p); st != CUDA_SUCCESS) return st;
  if (const HostCopyTag* t = host_copy_of(n); t != nullptr) {  // worker_graph_host_copy.h
    p = t->shape.params(nullptr);  // the host side is the client's
    const auto* b = reinterpret_cast<const std::byte*>(&p);
    c.inline_out.assign(b, b + sizeof p);
    c.results = {t->client_id};
    return CUDA_SUCCESS;
  }
  auto side_ok = [&](CUmemorytype t, CUarray a) {
    if (t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_UNIFIED) return true;
    return t == CU_MEMORYTYPE_ARRAY && arrays_.find_array(reinterpret_cast<uint64_t>(a)) != nullptr;
  };
  if (!side_ok(p.srcMemoryType, p.srcArray) || !side_ok(p.dstMemoryType, p.dstArray)) {
    logger().warn("session {}: cuGraphMemcpyNodeGetParams: the node has a side that is not this session's "
                  "device memory or arrays; returning CUDA_ERROR_NOT_SUPPORTED", params_.session_id);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  p.srcHost = p.dstHost = nullptr;
  p.reserved0 = p.reserved1 = nullptr;
  const auto* b = reinterpret_cast<const std::byte*>(&p);
  c.inline_out.assign(b, b + sizeof p);
  return CUDA_SUCCESS;
}

// Collects the driver nodes of `g` and, through its child-graph nodes, of every graph it owns.
void Worker::owned_graph_objects(CUgraph g, std::vector<CUgraphNode>& nodes, std::vector<CUgraph>& graphs) {
  size_t n = 0;
  if (drv_.cuGraphGetNodes(g, nullptr, &n) != CUDA_SUCCESS || n == 0) return;
  std::vector<CUgraphNode> mine(n);
  if (drv_.cuGraphGetNodes(g, mine.data(), &n) != CUDA_SUCCESS) return;
  mine.resize(n);
  for (CUgraphNode node : mine) {
    nodes.push_back(node);
    owned_child_objects(node, nodes, graphs);
  }
}

void Worker::owned_child_objects(CUgraphNode node, std::vector<CUgraphNode>& nodes, std::vector<CUgraph>& graphs) {
  // A conditional node's bodies (worker_graph_node.cc) are its own, as a child graph is.
  if (auto it = cond_bodies_.find(node); it != cond_bodies_.end()) {
    for (uint64_t id : it->second) {
      CUgraph body = graphs_.graph(id);
      if (body == nullptr) continue;
      graphs.push_back(body);
      owned_graph_objects(body, nodes, graphs);
    }
    return;
  }
  CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
  if (drv_.cuGraphNodeGetType(node, &t) != CUDA_SUCCESS || t != CU_GRAPH_NODE_TYPE_GRAPH) return;
  CUgraph child = nullptr;
  if (drv_.cuGraphChildGraphNodeGetGraph(node, &child) != CUDA_SUCCESS || child == nullptr) return;
  graphs.push_back(child);
  owned_graph_objects(child, nodes, graphs);
}

void Worker::forget_graph_objects(const std::vector<CUgraphNode>& nodes, const std::vector<CUgraph>& graphs) {
  for (CUgraphNode n : nodes) cond_bodies_.erase(n);
  graphs_.forget_objects(nodes, graphs);
}

}  // namespace gpool::server
