// Shim: graph event record and wait nodes (calls.toml 372-374, server/src/worker_graph_event.cc).
// The event travels as the session's event handle; node, graph and exec handles are the
// server's ids, as for every graph call (graph.cc).
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

HandleRef event_ref(CUevent e) { return HandleRef(reinterpret_cast<uint64_t>(e), gpool::remote::HandleKind_Event); }

CUresult add(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, CUevent e, uint64_t kind) {
  if (out == nullptr || e == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), kind, ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  const HandleRef h[] = {event_ref(e)};
  uint64_t node = 0;
  if (CUresult st = Session::instance().sync_value(Op::GraphAddEventNode, args, h, node); st != CUDA_SUCCESS) {
    return st;
  }
  *out = reinterpret_cast<CUgraphNode>(node);
  return CUDA_SUCCESS;
}

CUresult get(CUgraphNode n, CUevent* out, uint64_t kind) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(n), kind};
  uint64_t id = 0;
  if (CUresult st = Session::instance().sync_value(Op::GraphEventNodeGetEvent, args, {}, id); st != CUDA_SUCCESS) {
    return st;
  }
  *out = reinterpret_cast<CUevent>(id);
  return CUDA_SUCCESS;
}

CUresult set(CUgraphExec x, CUgraphNode n, CUevent e, uint64_t kind) {
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(x), reinterpret_cast<uint64_t>(n), kind};
  const HandleRef h[] = {event_ref(e)};
  return Session::instance().sync(Op::GraphEventNodeSetEvent, args, h);
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphAddEventRecordNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                         size_t ndeps, CUevent e) {
  return add(out, g, deps, ndeps, e, 0);
}
extern "C" CUresult gpool_impl_cuGraphAddEventWaitNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                       size_t ndeps, CUevent e) {
  return add(out, g, deps, ndeps, e, 1);
}
extern "C" CUresult gpool_impl_cuGraphEventRecordNodeGetEvent(CUgraphNode n, CUevent* out) { return get(n, out, 0); }
extern "C" CUresult gpool_impl_cuGraphEventWaitNodeGetEvent(CUgraphNode n, CUevent* out) { return get(n, out, 1); }
extern "C" CUresult gpool_impl_cuGraphEventRecordNodeSetEvent(CUgraphNode n, CUevent e) { return set(nullptr, n, e, 0); }
extern "C" CUresult gpool_impl_cuGraphEventWaitNodeSetEvent(CUgraphNode n, CUevent e) { return set(nullptr, n, e, 1); }
extern "C" CUresult gpool_impl_cuGraphExecEventRecordNodeSetEvent(CUgraphExec x, CUgraphNode n, CUevent e) {
  return set(x, n, e, 0);
}
extern "C" CUresult gpool_impl_cuGraphExecEventWaitNodeSetEvent(CUgraphExec x, CUgraphNode n, CUevent e) {
  return set(x, n, e, 1);
}
