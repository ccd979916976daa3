// Shim: the generic node API (cuGraphAddNode/_v2, cuGraphNodeSetParams, cuGraphExecNodeSetParams)
// and conditional nodes (cuGraphConditionalHandleCreate, calls.toml 395-396,
// server/src/worker_graph_node.cc).
//
// CUgraphNodeParams is a union keyed by `type`; it never travels as raw bytes (it holds client
// pointers: kernel parameter arrays, copy sides, the conditional's body array). Each kind the pool
// forwards goes through the typed layout of that kind: kernel, memset, empty, child-graph and
// device-to-device copy nodes through the existing per-kind entry points (graph.cc, graph_query.cc:
// GraphAddNode, GraphSetKernelParams, GraphMemsetParams, GraphMemcpySetParams,
// GraphExecChildGraphSetParams), conditional nodes through GraphAddConditionalNode, host nodes
// through hostfn.cc, event record/wait nodes through graph_event.cc, memory alloc/free nodes
// through graph_mem.cc. The one switch on the node type for each entry point is
// node_kind_refused() plus the switches below; kinds the pool does not forward (external
// semaphores, batch memory ops) are refused with CUDA_ERROR_NOT_SUPPORTED, logged with the kind's
// name.
//
// Conditional body graphs are graphs of the session (ids the server chose), filled with the usual
// calls. The array phGraph_out points to belongs to the shim and lives until the process ends
// (the driver's array lives as long as the node; a program never frees it).
//
// Thread safety: every entry point may be called from any thread; the body arrays are guarded by
// a mutex.
#include "graph_node.h"

#include <cstring>
#include <deque>
#include <mutex>
#include <span>
#include <unordered_set>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

// Most body graphs a SWITCH node may have through the pool (the server answers this many ids).
constexpr unsigned kMaxBodies = 256;

const char* kind_name(CUgraphNodeType t) {
  switch (t) {
    case CU_GRAPH_NODE_TYPE_HOST: return "host";
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: return "memory allocation";
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return "memory free";
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return "event record";
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return "event wait";
    case CU_GRAPH_NODE_TYPE_EXT_SEMAS_SIGNAL: return "external semaphore signal";
    case CU_GRAPH_NODE_TYPE_EXT_SEMAS_WAIT: return "external semaphore wait";
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: return "batch memory operation";
    default: return nullptr;  // not a node type
  }
}

// The answer for a node kind the pool does not forward: the place where host nodes (engineer
// hostfn) and memory alloc/free nodes (engineer memnodes) plug in is the `default:` of the
// switches below, which call this.
CUresult node_kind_refused(const char* call, CUgraphNodeType t) {
  const char* name = kind_name(t);
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;  // no such kind
  gpool::log::logger("shim").error("{}: {} nodes are not forwarded through the pool; returning "
                                   "CUDA_ERROR_NOT_SUPPORTED",
                                   call, name);
  return CUDA_ERROR_NOT_SUPPORTED;
}

CUDA_KERNEL_NODE_PARAMS kernel_v2(const CUDA_KERNEL_NODE_PARAMS_v3& k) {
  static_assert(sizeof(CUDA_KERNEL_NODE_PARAMS_v3) == sizeof(CUDA_KERNEL_NODE_PARAMS));
  CUDA_KERNEL_NODE_PARAMS p{};
  std::memcpy(&p, &k, sizeof p);  // v3 has v2's fields in v2's order
  return p;
}

CUDA_MEMSET_NODE_PARAMS memset_v1(const CUDA_MEMSET_NODE_PARAMS_v2& m) {
  CUDA_MEMSET_NODE_PARAMS p{};
  p.dst = m.dst;
  p.pitch = m.pitch;
  p.value = m.value;
  p.elementSize = m.elementSize;
  p.width = m.width;
  p.height = m.height;
  return p;
}

bool edges_default(const CUgraphEdgeData* e, size_t n) {
  if (e == nullptr) return true;
  for (size_t i = 0; i < n; ++i) {
    if (e[i].from_port != 0 || e[i].to_port != 0 || e[i].type != 0) return false;
  }
  return true;
}

// Body graph arrays handed out by cuGraphAddNode (kept for the process's life: see the header).
std::mutex g_bodies_mu;
std::deque<std::vector<CUgraph>> g_bodies;
std::unordered_set<CUgraph> g_body_set;  // every body handed out (ids are never reused)

CUresult add_conditional(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps,
                         CUDA_CONDITIONAL_NODE_PARAMS* p) {
  if (p->size == 0 || p->size > kMaxBodies) {
    if (p->size > kMaxBodies) {
      gpool::log::logger("shim").error("cuGraphAddNode: a conditional node with {} bodies; the pool allows {}",
                                       p->size, kMaxBodies);
    }
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (p->ctx != nullptr && context_device(p->ctx) != context_device(current_context())) {
    gpool::log::logger("shim").error("cuGraphAddNode: a conditional node for a context other than the current "
                                     "one; returning CUDA_ERROR_NOT_SUPPORTED");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  args.push_back(p->handle);
  args.push_back(static_cast<uint64_t>(p->type));
  args.push_back(p->size);
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphAddConditionalNode, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() != 1 + static_cast<size_t>(p->size)) return CUDA_ERROR_UNKNOWN;
  *out = reinterpret_cast<CUgraphNode>(r.results[0]);
  std::lock_guard lock(g_bodies_mu);
  auto& bodies = g_bodies.emplace_back();
  for (size_t i = 1; i < r.results.size(); ++i) bodies.push_back(reinterpret_cast<CUgraph>(r.results[i]));
  g_body_set.insert(bodies.begin(), bodies.end());
  p->phGraph_out = bodies.data();
  return CUDA_SUCCESS;
}

}  // namespace

bool gpool::shim::is_conditional_body(CUgraph g) {
  std::lock_guard lock(g_bodies_mu);
  return g_body_set.count(g) != 0;
}

extern "C" CUresult gpool_impl_cuGraphConditionalHandleCreate(CUgraphConditionalHandle* out, CUgraph g, CUcontext ctx,
                                                              unsigned int defaultLaunchValue, unsigned int flags) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (ctx != nullptr && context_device(ctx) != context_device(current_context())) {
    gpool::log::logger("shim").error("cuGraphConditionalHandleCreate: a context other than the current one; "
                                     "returning CUDA_ERROR_NOT_SUPPORTED");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const uint64_t args[] = {reinterpret_cast<uint64_t>(g), defaultLaunchValue, flags};
  uint64_t v = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphConditionalHandleCreate, args, {}, v);
  if (st == CUDA_SUCCESS) *out = v;
  return st;
}

extern "C" CUresult gpool_impl_cuGraphAddNode_v2(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                 const CUgraphEdgeData* edges, size_t ndeps, CUgraphNodeParams* p) {
  if (out == nullptr || p == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (!edges_default(edges, ndeps)) {
    gpool::log::logger("shim").error("cuGraphAddNode: non-default edge data is not supported; returning "
                                     "CUDA_ERROR_NOT_SUPPORTED");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS k = kernel_v2(p->kernel);
      return gpool_impl_cuGraphAddKernelNode_v2(out, g, deps, ndeps, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS m = memset_v1(p->memset);
      return gpool_impl_cuGraphAddMemsetNode(out, g, deps, ndeps, &m, p->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      return gpool_impl_cuGraphAddMemcpyNode(out, g, deps, ndeps, &p->memcpy.copyParams, p->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_EMPTY: return gpool_impl_cuGraphAddEmptyNode(out, g, deps, ndeps);
    case CU_GRAPH_NODE_TYPE_GRAPH:
      if (p->graph.ownership != CU_GRAPH_CHILD_GRAPH_OWNERSHIP_CLONE) {
        gpool::log::logger("shim").error("cuGraphAddNode: CU_GRAPH_CHILD_GRAPH_OWNERSHIP_MOVE is not supported; "
                                         "returning CUDA_ERROR_NOT_SUPPORTED");
        return CUDA_ERROR_NOT_SUPPORTED;
      }
      return gpool_impl_cuGraphAddChildGraphNode(out, g, deps, ndeps, p->graph.graph);
    case CU_GRAPH_NODE_TYPE_CONDITIONAL:
      if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
      return add_conditional(out, g, deps, ndeps, &p->conditional);
    case CU_GRAPH_NODE_TYPE_HOST: {  // hostfn.cc
      const CUDA_HOST_NODE_PARAMS h{p->host.fn, p->host.userData};
      return gpool_impl_cuGraphAddHostNode(out, g, deps, ndeps, &h);
    }
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:  // graph_event.cc
      return gpool_impl_cuGraphAddEventRecordNode(out, g, deps, ndeps, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return gpool_impl_cuGraphAddEventWaitNode(out, g, deps, ndeps, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {  // graph_mem.cc; the address comes back in the params
      CUDA_MEM_ALLOC_NODE_PARAMS a{};
      a.poolProps = p->alloc.poolProps;
      a.accessDescs = p->alloc.accessDescs;
      a.accessDescCount = p->alloc.accessDescCount;
      a.bytesize = p->alloc.bytesize;
      const CUresult st = gpool_impl_cuGraphAddMemAllocNode(out, g, deps, ndeps, &a);
      if (st == CUDA_SUCCESS) p->alloc.dptr = a.dptr;
      return st;
    }
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return gpool_impl_cuGraphAddMemFreeNode(out, g, deps, ndeps, p->free.dptr);
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {  // memop.cc
      const CUDA_BATCH_MEM_OP_NODE_PARAMS m{p->memOp.ctx, p->memOp.count, p->memOp.paramArray, p->memOp.flags};
      return gpool_impl_cuGraphAddBatchMemOpNode(out, g, deps, ndeps, &m);
    }
    default: return node_kind_refused("cuGraphAddNode", p->type);
  }
}

extern "C" CUresult gpool_impl_cuGraphAddNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps,
                                              CUgraphNodeParams* p) {
  return gpool_impl_cuGraphAddNode_v2(out, g, deps, nullptr, ndeps, p);
}

extern "C" CUresult gpool_impl_cuGraphNodeSetParams(CUgraphNode node, CUgraphNodeParams* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS k = kernel_v2(p->kernel);
      return gpool_impl_cuGraphKernelNodeSetParams_v2(node, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS m = memset_v1(p->memset);
      return gpool_impl_cuGraphMemsetNodeSetParams(node, &m);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY: return gpool_impl_cuGraphMemcpyNodeSetParams(node, &p->memcpy.copyParams);
    case CU_GRAPH_NODE_TYPE_EMPTY:
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: {
      // Nothing to set on an empty node; a conditional node's handle, kind and size are fixed at
      // creation (its bodies are edited in place). Either way the node must be of that type.
      CUgraphNodeType t{};
      if (CUresult st = gpool_impl_cuGraphNodeGetType(node, &t); st != CUDA_SUCCESS) return st;
      if (t != p->type) return CUDA_ERROR_INVALID_VALUE;
      return p->type == CU_GRAPH_NODE_TYPE_EMPTY ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    }
    case CU_GRAPH_NODE_TYPE_GRAPH:
      gpool::log::logger("shim").error("cuGraphNodeSetParams on a child graph node is not supported; returning "
                                       "CUDA_ERROR_NOT_SUPPORTED");
      return CUDA_ERROR_NOT_SUPPORTED;
    case CU_GRAPH_NODE_TYPE_HOST: {
      const CUDA_HOST_NODE_PARAMS h{p->host.fn, p->host.userData};
      return gpool_impl_cuGraphHostNodeSetParams(node, &h);
    }
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return gpool_impl_cuGraphEventRecordNodeSetEvent(node, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return gpool_impl_cuGraphEventWaitNodeSetEvent(node, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return CUDA_ERROR_INVALID_VALUE;  // fixed at creation, as on the emulator
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {  // memop.cc
      const CUDA_BATCH_MEM_OP_NODE_PARAMS m{p->memOp.ctx, p->memOp.count, p->memOp.paramArray, p->memOp.flags};
      return gpool_impl_cuGraphBatchMemOpNodeSetParams(node, &m);
    }
    default: return node_kind_refused("cuGraphNodeSetParams", p->type);
  }
}

extern "C" CUresult gpool_impl_cuGraphExecNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraphNodeParams* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (p->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      const CUDA_KERNEL_NODE_PARAMS k = kernel_v2(p->kernel);
      return gpool_impl_cuGraphExecKernelNodeSetParams_v2(exec, node, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      const CUDA_MEMSET_NODE_PARAMS m = memset_v1(p->memset);
      return gpool_impl_cuGraphExecMemsetNodeSetParams(exec, node, &m, p->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      return gpool_impl_cuGraphExecMemcpyNodeSetParams(exec, node, &p->memcpy.copyParams, p->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_GRAPH: return gpool_impl_cuGraphExecChildGraphNodeSetParams(exec, node, p->graph.graph);
    case CU_GRAPH_NODE_TYPE_EMPTY:
    case CU_GRAPH_NODE_TYPE_CONDITIONAL:
      // The emulator and the driver have no parameters to change on these in an executable graph.
      return CUDA_ERROR_INVALID_VALUE;
    case CU_GRAPH_NODE_TYPE_HOST: {
      const CUDA_HOST_NODE_PARAMS h{p->host.fn, p->host.userData};
      return gpool_impl_cuGraphExecHostNodeSetParams(exec, node, &h);
    }
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      return gpool_impl_cuGraphExecEventRecordNodeSetEvent(exec, node, p->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return gpool_impl_cuGraphExecEventWaitNodeSetEvent(exec, node, p->eventWait.event);
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return CUDA_ERROR_INVALID_VALUE;  // fixed at creation, as on the emulator
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {  // memop.cc
      const CUDA_BATCH_MEM_OP_NODE_PARAMS m{p->memOp.ctx, p->memOp.count, p->memOp.paramArray, p->memOp.flags};
      return gpool_impl_cuGraphExecBatchMemOpNodeSetParams(exec, node, &m);
    }
    default: return node_kind_refused("cuGraphExecNodeSetParams", p->type);
  }
}
