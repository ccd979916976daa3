// Worker: conditional graph nodes and capture into an existing graph (calls.toml 395-396).
//
// GraphConditionalHandleCreate makes a handle on a graph of the session; the handle's value is
// the backend's (a kernel passes it to cudaGraphSetConditional unchanged), and the worker keeps
// the set of values it made so that a conditional node can only name a handle of this session.
// GraphAddConditionalNode adds the node and answers the ids of its body graphs, which enter the
// session's graph table (the client fills them with the usual calls; a capture into one is
// StreamBeginCaptureToGraph, worker_graph_capture.cc). The bodies are graphs the node owns, like a
// child graph's: they, their nodes and nested bodies leave the tables when the node's graph or the
// node itself is destroyed (owned_child_objects / forget_graph_objects, worker_graph_capture.cc).
//
// Thread safety: the worker thread only (like every op).
#include "worker.h"

#include "gpool/common/log.h"

#include <vector>

namespace gpool::server {
namespace {

spdlog::logger& logger_node() { return log::logger("worker"); }

constexpr uint64_t kMaxBodies = 256;   // body graphs of one SWITCH node (the shim's limit too)

}  // namespace

CUresult Worker::op_graph_cond_handle_create(Ctx& c) {
  GraphConditionalHandleCreateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphConditionalHandle h = 0;
  const CUresult st = drv_.cuGraphConditionalHandleCreate(&h, g, ctx_, static_cast<unsigned>(a.default_value),
                                                         static_cast<unsigned>(a.flags));
  if (st != CUDA_SUCCESS) return st;
  cond_handles_.insert(h);
  c.results.push_back(h);
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_add_cond_node(Ctx& c) {
  GraphAddConditionalNodeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
  p.conditional.handle = a.handle;
  p.conditional.type = static_cast<CUgraphConditionalNodeType>(a.type);
  const uint64_t size = a.size;
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

}  // namespace gpool::server
