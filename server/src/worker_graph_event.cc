// Worker: graph event record and wait nodes (calls.toml GraphAddEventNode..GraphEventNodeSetEvent,
// 372-374). The event is one of the session's (handles[0], checked by event_of); graph, node and
// exec ids are checked against the session's tables (worker_graph.cc).
#include <vector>

#include "worker.h"

namespace gpool::server {
namespace {

constexpr uint64_t kMaxDeps = 4096;  // as a host node's (worker_hostfn.cc)

}  // namespace

CUresult Worker::op_graph_add_event_node(Ctx& c) {
  if (c.arg_count() < 3 || c.handle_count() != 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(c.arg(0));
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t kind = c.arg(1), ndeps = c.arg(2);
  if (kind > 1 || ndeps > kMaxDeps || c.arg_count() != 3 + ndeps) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  if (CUresult st = event_of(c, 0, e); st != CUDA_SUCCESS) return st;
  std::vector<CUgraphNode> deps;
  for (uint64_t i = 0; i < ndeps; ++i) {
    CUgraphNode n = graph_node_of(c.arg(3 + i));
    if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
    deps.push_back(n);
  }
  CUgraphNode node = nullptr;
  const CUresult st = kind == 0 ? drv_.cuGraphAddEventRecordNode(&node, g, deps.data(), deps.size(), e)
                                : drv_.cuGraphAddEventWaitNode(&node, g, deps.data(), deps.size(), e);
  if (st != CUDA_SUCCESS) return st;
  c.results = {node_id(node)};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_event_node_get(Ctx& c) {
  if (c.arg_count() != 2 || c.arg(1) > 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(c.arg(0));
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  const CUresult st = c.arg(1) == 0 ? drv_.cuGraphEventRecordNodeGetEvent(n, &e)
                                    : drv_.cuGraphEventWaitNodeGetEvent(n, &e);
  if (st != CUDA_SUCCESS) return st;
  const uint64_t id = streams_.events.id_of(e);
  if (id == 0) return CUDA_ERROR_INVALID_VALUE;  // the event was destroyed since
  c.results = {id};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_event_node_set(Ctx& c) {
  if (c.arg_count() != 3 || c.arg(2) > 1 || c.handle_count() != 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(c.arg(1));
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  if (CUresult st = event_of(c, 0, e); st != CUDA_SUCCESS) return st;
  const bool record = c.arg(2) == 0;
  if (c.arg(0) == 0) {
    return record ? drv_.cuGraphEventRecordNodeSetEvent(n, e) : drv_.cuGraphEventWaitNodeSetEvent(n, e);
  }
  CUgraphExec x = graph_exec_of(c.arg(0));
  if (x == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return record ? drv_.cuGraphExecEventRecordNodeSetEvent(x, n, e) : drv_.cuGraphExecEventWaitNodeSetEvent(x, n, e);
}

}  // namespace gpool::server
