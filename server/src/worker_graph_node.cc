// Worker: conditional graph nodes and capture into an existing graph (calls.toml 395-397).
//
// GraphConditionalHandleCreate makes a handle on a graph of the session; the handle's value is
// the backend's (a kernel passes it to cudaGraphSetConditional unchanged), and the worker keeps
// the set of values it made so that a conditional node can only name a handle of this session.
// GraphAddConditionalNode adds the node and answers the ids of its body graphs, which enter the
// session's graph table (the client fills them with the usual calls). The bodies, their nodes
// and nested bodies leave the tables when the node's graph or the node itself is destroyed
// (cond_subtree, called by op_graph_destroy and op_graph_destroy_node).
// StreamBeginCaptureToGraph starts a capture into a graph of the session (typically a body).
//
// Thread safety: the worker thread only (like every op).
#include "worker.h"

#include "gpool/common/log.h"

#include <vector>

namespace gpool::server {
namespace {

spdlog::logger& logger_node() { return log::logger("worker"); }

constexpr uint64_t kMaxDeps = 4096;    // dependencies of one node (as GraphAddNode)
constexpr uint64_t kMaxBodies = 256;   // body graphs of one SWITCH node (the shim's limit too)

}  // namespace

CUresult Worker::op_graph_cond_handle_create(Ctx& c) {
  if (c.arg_count() != 3) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(c.arg(0));
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphConditionalHandle h = 0;
  const CUresult st = drv_.cuGraphConditionalHandleCreate(&h, g, ctx_, static_cast<unsigned>(c.arg(1)),
                                                         static_cast<unsigned>(c.arg(2)));
  if (st != CUDA_SUCCESS) return st;
  cond_handles_.insert(h);
  c.results.push_back(h);
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_add_cond_node(Ctx& c) {
  if (c.arg_count() < 2) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(c.arg(0));
  const uint64_t ndeps = c.arg(1);
  if (g == nullptr || ndeps > kMaxDeps || c.arg_count() != 2 + ndeps + 3) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  for (uint64_t i = 0; i < ndeps; ++i) {
    CUgraphNode d = graph_node_of(c.arg(2 + i));
    if (d == nullptr) return CUDA_ERROR_INVALID_VALUE;
    deps.push_back(d);
  }
  const size_t at = 2 + ndeps;
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
  p.conditional.handle = c.arg(at);
  p.conditional.type = static_cast<CUgraphConditionalNodeType>(c.arg(at + 1));
  const uint64_t size = c.arg(at + 2);
  if (size == 0 || size > kMaxBodies) return CUDA_ERROR_INVALID_VALUE;
  p.conditional.size = static_cast<unsigned>(size);
  p.conditional.ctx = ctx_;
  if (!cond_handles_.count(p.conditional.handle)) {
    logger_node().warn("session {}: conditional handle {:#x} was not made by this session", params_.session_id,
                  p.conditional.handle);
    return CUDA_ERROR_INVALID_VALUE;
  }
  CUgraphNode node = nullptr;
  const CUresult st = drv_.cuGraphAddNode_v2(&node, g, deps.data(), nullptr, deps.size(), &p);
  if (st != CUDA_SUCCESS) return st;
  if (p.conditional.phGraph_out == nullptr) return CUDA_ERROR_UNKNOWN;  // a backend that broke the contract
  c.results.push_back(node_id(node));
  std::vector<uint64_t>& bodies = cond_bodies_[node];
  bodies.clear();
  for (uint64_t i = 0; i < size; ++i) {
    const uint64_t id = graph_id(p.conditional.phGraph_out[i]);
    bodies.push_back(id);
    c.results.push_back(id);
  }
  return CUDA_SUCCESS;
}

CUresult Worker::op_stream_begin_capture_to_graph(Ctx& c) {
  if (c.arg_count() < 3) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  CUgraph g = graph_of(c.arg(0));
  const uint64_t ndeps = c.arg(2);
  if (g == nullptr || ndeps > kMaxDeps || c.arg_count() != 3 + ndeps) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  for (uint64_t i = 0; i < ndeps; ++i) {
    CUgraphNode d = graph_node_of(c.arg(3 + i));
    if (d == nullptr) return CUDA_ERROR_INVALID_VALUE;
    deps.push_back(d);
  }
  settle_turn();  // a metered turn's timing events must not land in the capture
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  const CUresult st = drv_.cuStreamBeginCaptureToGraph(s, g, deps.data(), nullptr, deps.size(),
                                                       static_cast<CUstreamCaptureMode>(c.arg(1)));
  if (st == CUDA_SUCCESS) capture_graphs_.insert(g);  // not destroyable by id while captured into
  return st;
}

void Worker::cond_subtree(const std::vector<CUgraphNode>& nodes, std::vector<uint64_t>& graph_ids,
                          std::vector<CUgraphNode>& inner) {
  for (CUgraphNode n : nodes) {
    auto it = cond_bodies_.find(n);
    if (it == cond_bodies_.end()) continue;
    for (uint64_t id : it->second) {
      auto g = graphs_.find(id);
      if (g == graphs_.end()) continue;
      graph_ids.push_back(id);
      size_t count = 0;
      std::vector<CUgraphNode> body;
      if (drv_.cuGraphGetNodes(g->second, nullptr, &count) == CUDA_SUCCESS && count > 0) {
        body.resize(count);
        if (drv_.cuGraphGetNodes(g->second, body.data(), &count) != CUDA_SUCCESS) body.clear();
      }
      inner.insert(inner.end(), body.begin(), body.end());
      cond_subtree(body, graph_ids, inner);
    }
  }
}

void Worker::forget_cond_subtree(const std::vector<CUgraphNode>& nodes, const std::vector<uint64_t>& graph_ids,
                                 const std::vector<CUgraphNode>& inner) {
  for (uint64_t id : graph_ids) graphs_.erase(id);
  for (const auto* list : {&nodes, &inner}) {
    for (CUgraphNode n : *list) {
      cond_bodies_.erase(n);
      if (auto it = graph_node_ids_.find(n); it != graph_node_ids_.end()) {
        graph_nodes_.erase(it->second);
        graph_node_ids_.erase(it);
      }
    }
  }
}

}  // namespace gpool::server
