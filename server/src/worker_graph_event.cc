// Worker: graph event record and wait nodes (calls.toml GraphAddEventNode..GraphEventNodeSetEvent,
// 372-374). The event is one of the session's (handles[0], checked by event_of); graph, node and
// exec ids are checked against the session's tables (worker_graph.cc).
#include <vector>

#include "worker.h"

namespace gpool::server {

CUresult Worker::op_graph_add_event_node(Ctx& c) {
  GraphAddEventNodeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  if (c.handle_count() != 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t kind = a.kind;
  if (kind > 1) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  if (CUresult st = event_of(c, 0, e); st != CUDA_SUCCESS) return st;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode node = nullptr;
  const CUresult st = kind == 0 ? drv_.cuGraphAddEventRecordNode(&node, g, deps.data(), deps.size(), e)
                                : drv_.cuGraphAddEventWaitNode(&node, g, deps.data(), deps.size(), e);
  if (st != CUDA_SUCCESS) return st;
  c.results = {node_id(node)};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_event_node_get(Ctx& c) {
  GraphEventNodeGetEventArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  if (a.kind > 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  const CUresult st = a.kind == 0 ? drv_.cuGraphEventRecordNodeGetEvent(n, &e)
                                    : drv_.cuGraphEventWaitNodeGetEvent(n, &e);
  if (st != CUDA_SUCCESS) return st;
  const uint64_t id = streams_.events.id_of(e);
  if (id == 0) return CUDA_ERROR_INVALID_VALUE;  // the event was destroyed since
  c.results = {id};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_event_node_set(Ctx& c) {
  GraphEventNodeSetEventArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  if (a.kind > 1 || c.handle_count() != 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUevent e = nullptr;
  if (CUresult st = event_of(c, 0, e); st != CUDA_SUCCESS) return st;
  const bool record = a.kind == 0;
  if (a.exec == 0) {
    return record ? drv_.cuGraphEventRecordNodeSetEvent(n, e) : drv_.cuGraphEventWaitNodeSetEvent(n, e);
  }
  CUgraphExec x = graph_exec_of(a.exec);
  if (x == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n = exec_node(a.exec, n);
  return record ? drv_.cuGraphExecEventRecordNodeSetEvent(x, n, e) : drv_.cuGraphExecEventWaitNodeSetEvent(x, n, e);
}

}  // namespace gpool::server
