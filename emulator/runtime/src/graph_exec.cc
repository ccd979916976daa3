// Executable graphs: cuGraphInstantiate*, cuGraphLaunch, cuGraphUpload,
// cuGraphExecUpdate, the cuGraphExec*SetParams family and node enabling.
#include "graph.h"

#include "capture.h"
#include "context.h"
#include "event.h"
#include "graph_mem.h"
#include "graph_cond.h"
#include "memop.h"
#include "gpool/emu/exec/graph_cond.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

namespace gpool::emu::rt {
namespace {

// Kahn's algorithm over `g`, picking ready nodes in creation order. False on
// a cycle (*bad: a node on it).
bool topo_order(const Graph& g, std::vector<GraphNode*>* out, GraphNode** bad) {
  std::map<const GraphNode*, size_t> pending;
  for (const auto& n : g.nodes) pending[n.get()] = n->deps.size();
  std::vector<bool> done(g.nodes.size(), false);
  size_t emitted = 0;
  bool progress = true;
  while (emitted < g.nodes.size() && progress) {
    progress = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      GraphNode* n = g.nodes[i].get();
      if (done[i] || pending[n] != 0) continue;
      done[i] = true;
      ++emitted;
      progress = true;
      out->push_back(n);
      for (GraphNode* s : n->succs) --pending[s];
    }
  }
  if (emitted == g.nodes.size()) return true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!done[i]) *bad = g.nodes[i].get();
  }
  return false;
}

// Flattens `g` (child graphs inlined) into *out and maps origins. A
// conditional node stays one node; its bodies are flattened into its
// CondNode::orders. `in_body`: g is (inside) a conditional body, which may
// hold only the kinds cond_body_allows (*refused set when one does not).
bool flatten(Graph& g, GraphExec* e, std::vector<GraphNode*>* out, bool in_body, GraphNode** bad, bool* refused) {
  std::vector<GraphNode*> order;
  if (!topo_order(g, &order, bad)) return false;
  for (GraphNode* n : order) {
    if (n->origin != nullptr) e->by_origin[n->origin] = n;
    if (in_body && !cond_body_allows(n->type)) {
      *bad = n;
      *refused = true;
      return false;
    }
    if (n->type == CU_GRAPH_NODE_TYPE_GRAPH && n->child) {
      if (!flatten(*n->child, e, out, in_body, bad, refused)) return false;
      continue;
    }
    if (n->type == CU_GRAPH_NODE_TYPE_CONDITIONAL && n->cond) {
      n->cond->orders.assign(n->cond->bodies.size(), {});
      for (size_t i = 0; i < n->cond->bodies.size(); ++i) {
        if (!flatten(*n->cond->bodies[i], e, &n->cond->orders[i], true, bad, refused)) return false;
      }
    }
    out->push_back(n);
  }
  return true;
}

// Priority as a kernel node's attribute (0 when unset).
int node_priority(const GraphNode& n) {
  CUlaunchAttributeValue v{};
  return kernel_node_attr(n, CU_LAUNCH_ATTRIBUTE_PRIORITY, &v) ? v.priority : 0;
}

// Same structure: node count, node types and edges (by creation index), recursively; and the
// attribute changes cuGraphExecUpdate refuses (cooperative either way; priority when the exec
// was instantiated with CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY, per `flags`).
bool same_shape(const Graph& a, const Graph& b, CUgraphExecUpdateResultInfo* info, uint64_t flags) {
  auto fail = [&](CUgraphExecUpdateResult r, const GraphNode* to, const GraphNode* from) {
    info->result = r;
    info->errorNode = reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(to));
    info->errorFromNode = reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(from));
    return false;
  };
  if (a.nodes.size() != b.nodes.size()) return fail(CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, nullptr, nullptr);
  std::map<const GraphNode*, size_t> ia, ib;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    ia[a.nodes[i].get()] = i;
    ib[b.nodes[i].get()] = i;
  }
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const GraphNode& x = *a.nodes[i];
    const GraphNode& y = *b.nodes[i];
    if (x.type != y.type) return fail(CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED, &y, nullptr);
    std::vector<size_t> dx, dy;
    for (const GraphNode* d : x.deps) dx.push_back(ia[d]);
    for (const GraphNode* d : y.deps) dy.push_back(ib[d]);
    std::sort(dx.begin(), dx.end());
    std::sort(dy.begin(), dy.end());
    if (dx != dy) {
      return fail(CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, &y, y.deps.empty() ? nullptr : y.deps.front());
    }
    if (x.type == CU_GRAPH_NODE_TYPE_KERNEL && x.kernel.ctx != y.kernel.ctx) {
      return fail(CU_GRAPH_EXEC_UPDATE_ERROR_UNSUPPORTED_FUNCTION_CHANGE, &y, nullptr);
    }
    if (x.type == CU_GRAPH_NODE_TYPE_KERNEL &&
        (x.kernel.cooperative != y.kernel.cooperative ||
         ((flags & CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY) && node_priority(x) != node_priority(y)))) {
      return fail(CU_GRAPH_EXEC_UPDATE_ERROR_ATTRIBUTES_CHANGED, &y, nullptr);
    }
    if (x.type == CU_GRAPH_NODE_TYPE_GRAPH && !same_shape(*x.child, *y.child, info, flags)) return false;
    if (x.type == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP && !memop_update_ok(x.memops, y.memops)) {
      return fail(CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED, &y, nullptr);
    }
    if (x.type == CU_GRAPH_NODE_TYPE_CONDITIONAL) {
      // Kind and size are fixed; the bodies follow the same rules as any graph.
      if (!cond_same_kind(*x.cond, *y.cond)) return fail(CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED, &y, nullptr);
      for (size_t b = 0; b < x.cond->bodies.size(); ++b) {
        if (!same_shape(*x.cond->bodies[b], *y.cond->bodies[b], info, flags)) return false;
      }
    }
  }
  return true;
}

// Copies the parameters of `src`'s nodes into `mine` (same shape) and maps
// src's nodes to the exec's. REQUIRES: same_shape(mine, src).
void apply(Graph& mine, const Graph& src, GraphExec* e) {
  mine.user_refs = src.user_refs;  // the new graph's references replace the old (launches keep theirs)
  for (size_t i = 0; i < mine.nodes.size(); ++i) {
    GraphNode& x = *mine.nodes[i];
    const GraphNode& y = *src.nodes[i];
    e->by_origin[&y] = &x;
    switch (x.type) {
      case CU_GRAPH_NODE_TYPE_KERNEL:
        x.kernel = y.kernel;
        x.kernel_argv = y.kernel_argv;
        x.given_func = y.given_func;
        x.given_kern = y.given_kern;
        x.given_ctx = y.given_ctx;
        x.attrs = y.attrs;
        break;
      case CU_GRAPH_NODE_TYPE_MEMCPY: x.copy = y.copy; break;
      case CU_GRAPH_NODE_TYPE_MEMSET: x.memset = y.memset; break;
      case CU_GRAPH_NODE_TYPE_HOST: x.host = y.host; break;
      case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      case CU_GRAPH_NODE_TYPE_WAIT_EVENT: x.event = y.event; break;
      case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP:
        x.memops = y.memops;
        x.memop_ctx = y.memop_ctx;
        x.memop_flags = y.memop_flags;
        break;
      case CU_GRAPH_NODE_TYPE_GRAPH: apply(*x.child, *y.child, e); break;
      case CU_GRAPH_NODE_TYPE_CONDITIONAL:
        x.cond->handle = y.cond->handle;  // kernels of the new graph name its handle
        x.cond->given_ctx = y.cond->given_ctx;
        for (size_t b = 0; b < x.cond->bodies.size(); ++b) apply(*x.cond->bodies[b], *y.cond->bodies[b], e);
        break;
      default: break;
    }
  }
}

// Every user-object reference owned by `g` and the graphs inside it (child graphs, conditional
// bodies), as one bundle of new references.
void collect_user_refs(const Graph& g, UserRefs* out) {
  out->merge(g.user_refs);
  for (const auto& n : g.nodes) {
    if (n->child) collect_user_refs(*n->child, out);
    if (n->cond) {
      for (const auto& b : n->cond->bodies) collect_user_refs(*b, out);
    }
  }
}

// One step of a launch: a batch of tasks run back to back by the stream
// worker, or an event record / wait that needs a stream position.
struct Step {
  std::vector<Task> tasks;
  Event* record = nullptr;
  Event* wait = nullptr;
};

}  // namespace

CUresult graph_exec_launch(GraphExec* e, const std::shared_ptr<Stream>& s) {
  std::vector<Step> plan(1);
  auto free_gens = std::make_shared<std::map<const GraphMem*, uint64_t>>();  // graph_mem.h
  // Handles with CU_GRAPH_COND_ASSIGN_DEFAULT start every launch at their default.
  std::vector<std::shared_ptr<CondHandle>> defaults;
  cond_defaults(e->order, &defaults);
  if (!defaults.empty()) {
    plan.back().tasks.push_back([defaults] {
      for (const auto& h : defaults) exec::cond_cell_set(h->id, h->default_value);
    });
  }
  for (GraphNode* n : e->order) {
    if (!n->enabled) continue;
    switch (n->type) {
      case CU_GRAPH_NODE_TYPE_KERNEL: {
        Task t;
        if (CUresult r = kernel_task(n->kernel, &t); r != CUDA_SUCCESS) return r;
        plan.back().tasks.push_back(std::move(t));
        break;
      }
      case CU_GRAPH_NODE_TYPE_MEMCPY: plan.back().tasks.push_back(memcpy_task(n->copy, s->ctx)); break;
      case CU_GRAPH_NODE_TYPE_MEMSET: plan.back().tasks.push_back(memset_task(n->memset, s->ctx)); break;
      case CU_GRAPH_NODE_TYPE_HOST: {
        const CUhostFn fn = n->host.fn;
        void* ud = n->host.userData;
        plan.back().tasks.push_back([fn, ud] { fn(ud); });
        break;
      }
      case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      case CU_GRAPH_NODE_TYPE_WAIT_EVENT: {
        Event* ev = lookup<Event>(n->event);
        if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
        Step st;
        (n->type == CU_GRAPH_NODE_TYPE_EVENT_RECORD ? st.record : st.wait) = ev;
        plan.push_back(std::move(st));
        plan.emplace_back();
        break;
      }
      case CU_GRAPH_NODE_TYPE_CONDITIONAL: {
        Task t;
        if (CUresult r = cond_task(*n, s->ctx, &t); r != CUDA_SUCCESS) return r;
        plan.back().tasks.push_back(std::move(t));
        break;
      }
      case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: plan.back().tasks.push_back(memop_task(n->memops, s->ctx)); break;
      case CU_GRAPH_NODE_TYPE_EMPTY: break;
      case CU_GRAPH_NODE_TYPE_MEM_ALLOC: break;  // made at the call (graph_mem_launch below)
      case CU_GRAPH_NODE_TYPE_MEM_FREE: plan.back().tasks.push_back(graph_mem_free_task(n->mem, free_gens)); break;
      default: return gpool::abi::unimplemented("cuGraphLaunch of a graph with this node type");
    }
  }
  if (e->mem_owner) {
    if (CUresult r = graph_mem_launch(e, s->ctx, free_gens.get()); r != CUDA_SUCCESS) return r;
  }
  // The launch holds the graph's user objects until its work is done: its last task drops them
  // (user_object.h; their destructors then run on the destructor thread).
  auto refs = std::make_shared<std::unique_ptr<UserRefs>>(std::make_unique<UserRefs>());
  collect_user_refs(*e->graph, refs->get());
  if (!(*refs)->empty()) plan.emplace_back().tasks.push_back([refs] { refs->reset(); });  // once, whatever copies
  for (Step& st : plan) {
    if (st.record != nullptr) {
      event_record_on(st.record, s);
    } else if (st.wait != nullptr) {
      event_wait_on(s, st.wait);
    } else if (st.tasks.size() == 1) {
      submit(s, std::move(st.tasks.front()));
    } else if (!st.tasks.empty()) {
      submit(s, [tasks = std::move(st.tasks)] {
        for (const Task& t : tasks) t();
      });
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

constexpr unsigned long long kInstantiateFlags =
    CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
    CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;

CUresult instantiate(CUgraphExec* out, CUgraph hGraph, unsigned long long flags, CUgraphNode* err_node,
                     CUgraphInstantiateResult* result) {
  if (result) *result = CUDA_GRAPH_INSTANTIATE_ERROR;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr || (flags & ~kInstantiateFlags)) return CUDA_ERROR_INVALID_VALUE;
  if (flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) {
    if (result) *result = CUDA_GRAPH_INSTANTIATE_NODE_OPERATION_NOT_SUPPORTED;
    return gpool::abi::unimplemented("cuGraphInstantiate with CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH");
  }
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = graph_mem_instantiate_check(*g); r != CUDA_SUCCESS) return r;
  auto e = std::make_unique<GraphExec>();
  e->ctx = ctx;
  e->flags = flags;
  e->graph = graph_clone(*g, false);
  GraphNode* bad = nullptr;
  bool refused = false;
  if (!flatten(*e->graph, e.get(), &e->order, false, &bad, &refused)) {
    if (err_node) *err_node = reinterpret_cast<CUgraphNode>(const_cast<GraphNode*>(bad ? bad->origin : nullptr));
    if (refused) {
      if (result) *result = CUDA_GRAPH_INSTANTIATE_NODE_OPERATION_NOT_SUPPORTED;
      log().info("cuGraphInstantiate: a conditional body holds a node of a kind bodies may not hold (only kernel, "
                 "empty, child graph, memset, memcpy and conditional nodes)");
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (result) *result = CUDA_GRAPH_INSTANTIATE_INVALID_STRUCTURE;
    log().info("cuGraphInstantiate: the graph has a cycle");
    return CUDA_ERROR_INVALID_VALUE;
  }
  graph_mem_instantiated(g, e.get());
  registry().add(e.get());
  *out = reinterpret_cast<CUgraphExec>(e.release());
  if (result) *result = CUDA_GRAPH_INSTANTIATE_SUCCESS;
  return CUDA_SUCCESS;
}

// The exec's copy of `node` (a node of the graph it was made from, or of a
// graph it was updated from). REQUIRES: graph_mu held.
GraphNode* exec_node(GraphExec* e, CUgraphNode node) {
  GraphNode* n = lookup<GraphNode>(node);
  if (n == nullptr) return nullptr;
  auto it = e->by_origin.find(n);
  return it == e->by_origin.end() ? nullptr : it->second;
}

// The shared preamble of the cuGraphExec*SetParams family: the exec
// `hGraphExec` and its copy of `hNode`, which must be a node of type `type`.
// CUDA_ERROR_INVALID_VALUE for an unknown exec, a node the exec was not made
// from, or a node of another type. REQUIRES: graph_mu held.
CUresult exec_node_of(CUgraphExec hGraphExec, CUgraphNode hNode, CUgraphNodeType type, GraphExec** e_out,
                      GraphNode** n_out) {
  GraphExec* e = lookup<GraphExec>(hGraphExec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode* n = exec_node(e, hNode);
  if (n == nullptr || n->type != type) return CUDA_ERROR_INVALID_VALUE;
  if (e_out != nullptr) *e_out = e;
  *n_out = n;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphInstantiateWithFlags(CUgraphExec* phGraphExec, CUgraph hGraph,
                                                           unsigned long long flags) {
  return instantiate(phGraphExec, hGraph, flags, nullptr, nullptr);
}

extern "C" CUresult gpool_impl_cuGraphInstantiate_v2(CUgraphExec* phGraphExec, CUgraph hGraph,
                                                     CUgraphNode* phErrorNode, char* logBuffer, size_t bufferSize) {
  if (logBuffer != nullptr && bufferSize > 0) logBuffer[0] = '\0';
  if (phErrorNode) *phErrorNode = nullptr;
  CUresult r = instantiate(phGraphExec, hGraph, 0, phErrorNode, nullptr);
  if (r == CUDA_ERROR_INVALID_VALUE && logBuffer != nullptr && bufferSize > 0) {
    std::snprintf(logBuffer, bufferSize, "graph instantiation failed (a cycle or an invalid argument)");
  }
  return r;
}

extern "C" CUresult gpool_impl_cuGraphInstantiate(CUgraphExec* phGraphExec, CUgraph hGraph, CUgraphNode* phErrorNode,
                                                  char* logBuffer, size_t bufferSize) {
  return gpool_impl_cuGraphInstantiate_v2(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

extern "C" CUresult gpool_impl_cuGraphInstantiateWithParams(CUgraphExec* phGraphExec, CUgraph hGraph,
                                                            CUDA_GRAPH_INSTANTIATE_PARAMS* instantiateParams) {
  if (instantiateParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  instantiateParams->hErrNode_out = nullptr;
  CUresult r = instantiate(phGraphExec, hGraph, instantiateParams->flags, &instantiateParams->hErrNode_out,
                           &instantiateParams->result_out);
  if (r != CUDA_SUCCESS) return r;
  if (instantiateParams->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) {
    std::shared_ptr<Stream> s;
    if (CUresult r2 = resolve_stream(instantiateParams->hUploadStream, &s); r2 != CUDA_SUCCESS) return r2;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecDestroy(CUgraphExec hGraphExec) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphExec* e = lookup<GraphExec>(hGraphExec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  registry().remove(e);
  graph_mem_exec_destroyed(e);  // its live allocations stay until freed (graph_mem.h)
  delete e;  // pending launches hold their own copies of every parameter
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphExec* e = lookup<GraphExec>(hGraphExec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = e->flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  std::unique_ptr<GraphNode> child;
  {
    std::lock_guard lock(graph_mu());
    GraphExec* e = lookup<GraphExec>(hGraphExec);
    if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (!capturing) return graph_exec_launch(e, s);
    if (e->mem_owner) {
      log().info("cuGraphLaunch into a capture: a graph with memory nodes cannot become a child graph node");
      return CUDA_ERROR_INVALID_VALUE;
    }
    // Launching a graph into a capture records it as a child graph node.
    child = std::make_unique<GraphNode>();
    child->type = CU_GRAPH_NODE_TYPE_GRAPH;
    child->child = graph_clone(*e->graph, true);
  }
  return capture_add(s, std::move(child));
}

// The emulator has nothing to upload: work is made at launch. The call
// still checks its arguments.
extern "C" CUresult gpool_impl_cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  if (lookup<GraphExec>(hGraphExec) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph,
                                                    CUgraphExecUpdateResultInfo* resultInfo) {
  if (resultInfo == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *resultInfo = CUgraphExecUpdateResultInfo{};
  std::lock_guard lock(graph_mu());
  GraphExec* e = lookup<GraphExec>(hGraphExec);
  Graph* g = lookup<Graph>(hGraph);
  if (e == nullptr || g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!same_shape(*e->graph, *g, resultInfo, e->flags)) return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
  if (!graph_mem_update_ok(*e->graph, *g)) {  // memory nodes cannot change their allocations
    resultInfo->result = CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED;
    return CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
  }
  apply(*e->graph, *g, e);
  resultInfo->result = CU_GRAPH_EXEC_UPDATE_SUCCESS;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecUpdate(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphNode* hErrorNode_out,
                                                 CUgraphExecUpdateResult* updateResult_out) {
  if (hErrorNode_out == nullptr || updateResult_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExecUpdateResultInfo info{};
  CUresult r = gpool_impl_cuGraphExecUpdate_v2(hGraphExec, hGraph, &info);
  *hErrorNode_out = info.errorNode;
  *updateResult_out = info.result;
  return r;
}

extern "C" CUresult gpool_impl_cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                                 const CUDA_KERNEL_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode tmp;
  if (CUresult r = make_kernel_node(*nodeParams, &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_of(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_KERNEL, nullptr, &n); r != CUDA_SUCCESS) return r;
  if (n->kernel.ctx != tmp.kernel.ctx) return CUDA_ERROR_INVALID_VALUE;
  tmp.attrs = n->attrs;  // an exec node keeps its attributes (cooperative included)
  if (CUresult r = kernel_node_reapply_attrs(&tmp); r != CUDA_SUCCESS) return r;
  n->kernel = tmp.kernel;
  n->kernel_argv = tmp.kernel_argv;
  n->given_func = tmp.given_func;
  n->given_kern = tmp.given_kern;
  n->given_ctx = tmp.given_ctx;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecKernelNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                              const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS p{};
  std::memcpy(&p, nodeParams, sizeof *nodeParams);
  return gpool_impl_cuGraphExecKernelNodeSetParams_v2(hGraphExec, hNode, &p);
}

extern "C" CUresult gpool_impl_cuGraphExecMemcpyNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                              const CUDA_MEMCPY3D* copyParams, CUcontext ctx) {
  if (copyParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = use_context(ctx, &c); r != CUDA_SUCCESS) return r;
  MemcpyNode tmp;
  if (CUresult r = memcpy_prepare(*copyParams, &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_of(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_MEMCPY, nullptr, &n); r != CUDA_SUCCESS) return r;
  // The driver's rules: the instantiated copy and the new one are both 1D, and neither side
  // changes its kind of memory (device, host, array).
  const auto flat = [](const MemcpyNode& m) { return m.shape.height <= 1 && m.shape.depth <= 1; };
  const auto array = [](const CUDA_MEMCPY3D& p, bool src) {
    return (src ? p.srcMemoryType : p.dstMemoryType) == CU_MEMORYTYPE_ARRAY;
  };
  if (!flat(n->copy) || !flat(tmp) || n->copy.src.in_table != tmp.src.in_table ||
      n->copy.dst.in_table != tmp.dst.in_table || array(n->copy.params, true) != array(tmp.params, true) ||
      array(n->copy.params, false) != array(tmp.params, false)) {
    log().info("cuGraphExecMemcpyNodeSetParams: only 1D copies may change, and their kinds of memory may not");
    return CUDA_ERROR_INVALID_VALUE;
  }
  n->copy = tmp;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecMemsetNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                              const CUDA_MEMSET_NODE_PARAMS* memsetParams,
                                                              CUcontext ctx) {
  if (memsetParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = use_context(ctx, &c); r != CUDA_SUCCESS) return r;
  GraphNode tmp;
  if (CUresult r = make_memset_node(*memsetParams, &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_of(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_MEMSET, nullptr, &n); r != CUDA_SUCCESS) return r;
  n->memset = tmp.memset;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecHostNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                            const CUDA_HOST_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr || nodeParams->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_of(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_HOST, nullptr, &n); r != CUDA_SUCCESS) return r;
  n->host = *nodeParams;
  return CUDA_SUCCESS;
}

namespace {

CUresult exec_set_event(CUgraphExec hGraphExec, CUgraphNode hNode, CUevent event, CUgraphNodeType type) {
  if (lookup<Event>(event) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_of(hGraphExec, hNode, type, nullptr, &n); r != CUDA_SUCCESS) return r;
  n->event = event;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphExecEventRecordNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                                  CUevent event) {
  return exec_set_event(hGraphExec, hNode, event, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
}

extern "C" CUresult gpool_impl_cuGraphExecEventWaitNodeSetEvent(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                                CUevent event) {
  return exec_set_event(hGraphExec, hNode, event, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
}

extern "C" CUresult gpool_impl_cuGraphExecChildGraphNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                                  CUgraph childGraph) {
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(childGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphExec* e = nullptr;
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_of(hGraphExec, hNode, CU_GRAPH_NODE_TYPE_GRAPH, &e, &n); r != CUDA_SUCCESS) return r;
  if (!n->child) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExecUpdateResultInfo info{};
  if (!same_shape(*n->child, *g, &info, e->flags)) return CUDA_ERROR_INVALID_VALUE;  // topology must not change
  apply(*n->child, *g, e);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                        CUgraphNodeParams* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (nodeParams->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      CUDA_KERNEL_NODE_PARAMS k{};
      std::memcpy(&k, &nodeParams->kernel, sizeof k);
      return gpool_impl_cuGraphExecKernelNodeSetParams_v2(hGraphExec, hNode, &k);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
      return gpool_impl_cuGraphExecMemcpyNodeSetParams(hGraphExec, hNode, &nodeParams->memcpy.copyParams,
                                                       nodeParams->memcpy.copyCtx);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      CUDA_MEMSET_NODE_PARAMS m{};
      m.dst = nodeParams->memset.dst;
      m.pitch = nodeParams->memset.pitch;
      m.value = nodeParams->memset.value;
      m.elementSize = nodeParams->memset.elementSize;
      m.width = nodeParams->memset.width;
      m.height = nodeParams->memset.height;
      return gpool_impl_cuGraphExecMemsetNodeSetParams(hGraphExec, hNode, &m, nodeParams->memset.ctx);
    }
    case CU_GRAPH_NODE_TYPE_HOST: {
      CUDA_HOST_NODE_PARAMS h{nodeParams->host.fn, nodeParams->host.userData};
      return gpool_impl_cuGraphExecHostNodeSetParams(hGraphExec, hNode, &h);
    }
    case CU_GRAPH_NODE_TYPE_GRAPH:
      return gpool_impl_cuGraphExecChildGraphNodeSetParams(hGraphExec, hNode, nodeParams->graph.graph);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
      return gpool_impl_cuGraphExecEventRecordNodeSetEvent(hGraphExec, hNode, nodeParams->eventRecord.event);
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
      return gpool_impl_cuGraphExecEventWaitNodeSetEvent(hGraphExec, hNode, nodeParams->eventWait.event);
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: {
      CUDA_BATCH_MEM_OP_NODE_PARAMS p{};
      std::memcpy(&p, &nodeParams->memOp, sizeof p);
      return gpool_impl_cuGraphExecBatchMemOpNodeSetParams(hGraphExec, hNode, &p);
    }
    case CU_GRAPH_NODE_TYPE_CONDITIONAL:
      // A conditional node's parameters cannot change in an executable graph (update its bodies' nodes instead).
      return CUDA_ERROR_INVALID_VALUE;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

namespace {

// The exec's copy of `hNode` for cuGraphNodeSet/GetEnabled: kernel, memcpy and memset nodes only.
// REQUIRES: graph_mu held.
CUresult exec_node_enablable(CUgraphExec hGraphExec, CUgraphNode hNode, GraphNode** n_out) {
  GraphExec* e = lookup<GraphExec>(hGraphExec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode* n = exec_node(e, hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (n->type != CU_GRAPH_NODE_TYPE_KERNEL && n->type != CU_GRAPH_NODE_TYPE_MEMCPY &&
      n->type != CU_GRAPH_NODE_TYPE_MEMSET) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *n_out = n;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphNodeSetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                     unsigned int isEnabled) {
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_enablable(hGraphExec, hNode, &n); r != CUDA_SUCCESS) return r;
  n->enabled = isEnabled != 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphNodeGetEnabled(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                     unsigned int* isEnabled) {
  if (isEnabled == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = nullptr;
  if (CUresult r = exec_node_enablable(hGraphExec, hNode, &n); r != CUDA_SUCCESS) return r;
  *isEnabled = n->enabled ? 1 : 0;
  return CUDA_SUCCESS;
}
