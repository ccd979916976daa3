// Graph construction: cuGraphCreate/Destroy/Clone, the cuGraphAdd*Node
// family, edges, node queries and parameter setters, cuGraphDebugDotPrint.
#include "graph.h"

#include "capture.h"
#include "graph_cond.h"
#include "context.h"
#include "event.h"
#include "graph_mem.h"
#include "module.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

namespace gpool::emu::rt {

std::mutex& graph_mu() {
  static std::mutex* mu = new std::mutex();  // leaked: usable during exit
  return *mu;
}

GraphNode::GraphNode() : Object(Kind::GraphNode) {}
GraphNode::~GraphNode() = default;

Graph::~Graph() {
  if (registered) {
    for (const auto& n : nodes) registry().remove(n.get());
    registry().remove(this);
  }
}

std::unique_ptr<Graph> graph_new(bool reg) {
  auto g = std::make_unique<Graph>();
  g->registered = reg;
  if (reg) registry().add(g.get());
  return g;
}

void set_kernel_launch(GraphNode* n, KernelLaunch k) {
  n->kernel = std::move(k);
  n->kernel_argv.clear();
  auto* base = const_cast<unsigned char*>(n->kernel.args->data());
  for (const auto& [off, size] : kernel_param_layout(n->kernel.func)) n->kernel_argv.push_back(base + off);
}

namespace {

// Copies the parameters of `src` (not its edges) into `dst`.
void copy_params(const GraphNode& src, GraphNode* dst, bool reg) {
  dst->type = src.type;
  dst->kernel = src.kernel;
  dst->kernel_argv = src.kernel_argv;  // the argument buffer is shared and immutable
  dst->given_func = src.given_func;
  dst->given_kern = src.given_kern;
  dst->given_ctx = src.given_ctx;
  dst->copy = src.copy;
  dst->memset = src.memset;
  dst->host = src.host;
  dst->event = src.event;
  dst->mem = src.mem;
  dst->attrs = src.attrs;
  dst->memops = src.memops;
  dst->memop_ctx = src.memop_ctx;
  dst->memop_flags = src.memop_flags;
  if (src.child) {
    dst->child = graph_clone(*src.child, reg);
  }
  dst->cond = src.cond ? cond_clone(*src.cond, reg) : nullptr;
}

}  // namespace

GraphNode* graph_add(Graph* g, std::unique_ptr<GraphNode> proto, const std::vector<GraphNode*>& deps) {
  GraphNode* n = proto.get();
  n->graph = g;
  n->deps = deps;
  for (GraphNode* d : deps) d->succs.push_back(n);
  if (n->child) n->child->owner_node = n;
  if (n->cond) {
    for (auto& b : n->cond->bodies) b->owner_node = n;
  }
  g->nodes.push_back(std::move(proto));
  if (g->registered) registry().add(n);
  return n;
}

std::unique_ptr<Graph> graph_clone(const Graph& g, bool reg) {
  auto out = graph_new(reg);
  out->cond_handles = g.cond_handles;  // a clone's nodes use the same handles
  out->user_refs = g.user_refs;        // a clone owns its own copies of the references
  std::map<const GraphNode*, GraphNode*> map;
  for (const auto& n : g.nodes) {  // nodes first: an edge may point to a later node
    auto c = std::make_unique<GraphNode>();
    copy_params(*n, c.get(), reg);
    c->origin = n.get();
    c->enabled = n->enabled;
    map[n.get()] = graph_add(out.get(), std::move(c), {});
  }
  for (const auto& n : g.nodes) {
    GraphNode* c = map.at(n.get());
    for (GraphNode* d : n->deps) {
      GraphNode* cd = map.at(d);
      c->deps.push_back(cd);
      cd->succs.push_back(c);
    }
  }
  return out;
}

namespace {

// True when a capture records into `n`'s child graph or conditional bodies, at any depth
// (cuStreamBeginCaptureToGraph into a body). REQUIRES: graph_mu held.
bool capture_uses_owned_locked(const GraphNode& n);

bool capture_uses_tree_locked(const Graph& g) {
  if (capture_uses_graph_locked(&g)) return true;
  for (const auto& n : g.nodes) {
    if (capture_uses_owned_locked(*n)) return true;
  }
  return false;
}

bool capture_uses_owned_locked(const GraphNode& n) {
  if (n.child && capture_uses_tree_locked(*n.child)) return true;
  if (n.cond) {
    for (const auto& b : n.cond->bodies) {
      if (capture_uses_tree_locked(*b)) return true;
    }
  }
  return false;
}

}  // namespace

void graph_delete(Graph* g) {
  std::lock_guard lock(graph_mu());
  delete g;
}

CUresult make_kernel_node(const CUDA_KERNEL_NODE_PARAMS& p, GraphNode* out) {
  CUfunction f = p.func != nullptr ? p.func : reinterpret_cast<CUfunction>(p.kern);
  if (f == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(p.func == nullptr ? p.ctx : nullptr, &ctx); r != CUDA_SUCCESS) return r;
  LaunchDims L{{p.gridDimX, p.gridDimY, p.gridDimZ}, {p.blockDimX, p.blockDimY, p.blockDimZ}, p.sharedMemBytes};
  KernelLaunch k;
  if (CUresult r = kernel_prepare(f, ctx, L, p.kernelParams, p.extra, false, &k); r != CUDA_SUCCESS) return r;
  out->type = CU_GRAPH_NODE_TYPE_KERNEL;
  set_kernel_launch(out, std::move(k));
  out->given_func = p.func;
  out->given_kern = p.kern;
  out->given_ctx = p.ctx;
  return CUDA_SUCCESS;
}

CUresult make_memcpy_node(const CUDA_MEMCPY3D& p, GraphNode* out) {
  if (CUresult r = memcpy_prepare(p, &out->copy); r != CUDA_SUCCESS) return r;
  out->type = CU_GRAPH_NODE_TYPE_MEMCPY;
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

GraphNode* find_node(CUgraphNode h) { return lookup<GraphNode>(h); }

// Checks the dependency list of a new node of `g`. REQUIRES: graph_mu held.
CUresult check_deps(Graph* g, const CUgraphNode* deps, size_t n, std::vector<GraphNode*>* out) {
  if (n > 0 && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < n; ++i) {
    GraphNode* d = find_node(deps[i]);
    if (d == nullptr || d->graph != g) return CUDA_ERROR_INVALID_VALUE;
    if (std::find(out->begin(), out->end(), d) != out->end()) return CUDA_ERROR_INVALID_VALUE;  // duplicate
    out->push_back(d);
  }
  return CUDA_SUCCESS;
}

CUresult add_node(CUgraphNode* ph, CUgraph hg, const CUgraphNode* deps, size_t n, std::unique_ptr<GraphNode> proto) {
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hg);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<GraphNode*> dv;
  if (CUresult r = check_deps(g, deps, n, &dv); r != CUDA_SUCCESS) return r;
  *ph = reinterpret_cast<CUgraphNode>(graph_add(g, std::move(proto), dv));
  return CUDA_SUCCESS;
}

CUresult add_prelude(CUgraphNode* ph, CUgraph hg) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (ph == nullptr || hg == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUDA_KERNEL_NODE_PARAMS from_v1(const CUDA_KERNEL_NODE_PARAMS_v1& p) {
  CUDA_KERNEL_NODE_PARAMS q{};
  q.func = p.func;
  q.gridDimX = p.gridDimX;
  q.gridDimY = p.gridDimY;
  q.gridDimZ = p.gridDimZ;
  q.blockDimX = p.blockDimX;
  q.blockDimY = p.blockDimY;
  q.blockDimZ = p.blockDimZ;
  q.sharedMemBytes = p.sharedMemBytes;
  q.kernelParams = p.kernelParams;
  q.extra = p.extra;
  return q;
}

CUresult make_event_node(CUgraphNodeType type, CUevent ev, GraphNode* out) {
  if (lookup<Event>(ev) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  out->type = type;
  out->event = ev;
  return CUDA_SUCCESS;
}

CUresult make_child_node(CUgraph child, GraphNode* out) {
  Graph* c = lookup<Graph>(child);
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (c->mem_owner) {  // graph_mem.h: only a moved child may hold memory nodes
    log().info("a graph with memory nodes cannot be cloned into a child graph node");
    return CUDA_ERROR_INVALID_VALUE;
  }
  out->type = CU_GRAPH_NODE_TYPE_GRAPH;
  out->child = graph_clone(*c, true);
  return CUDA_SUCCESS;
}

// One node from the generic CUgraphNodeParams (cuGraphAddNode) for graph
// `parent` (null for a parameter update). REQUIRES: graph_mu held.
CUresult make_node(const CUgraphNodeParams& p, Graph* parent, GraphNode* out) {
  switch (p.type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
      CUDA_KERNEL_NODE_PARAMS k{};
      std::memcpy(&k, &p.kernel, sizeof k);
      return make_kernel_node(k, out);
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY: return make_memcpy_node(p.memcpy.copyParams, out);
    case CU_GRAPH_NODE_TYPE_MEMSET: {
      CUDA_MEMSET_NODE_PARAMS m{};
      m.dst = p.memset.dst;
      m.pitch = p.memset.pitch;
      m.value = p.memset.value;
      m.elementSize = p.memset.elementSize;
      m.width = p.memset.width;
      m.height = p.memset.height;
      return make_memset_node(m, out);
    }
    case CU_GRAPH_NODE_TYPE_HOST:
      if (p.host.fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
      out->type = CU_GRAPH_NODE_TYPE_HOST;
      out->host.fn = p.host.fn;
      out->host.userData = p.host.userData;
      return CUDA_SUCCESS;
    case CU_GRAPH_NODE_TYPE_GRAPH:
      if (p.graph.ownership != CU_GRAPH_CHILD_GRAPH_OWNERSHIP_CLONE) {
        return gpool::abi::unimplemented("cuGraphAddNode with CU_GRAPH_CHILD_GRAPH_OWNERSHIP_MOVE");
      }
      return make_child_node(p.graph.graph, out);
    case CU_GRAPH_NODE_TYPE_EMPTY: out->type = CU_GRAPH_NODE_TYPE_EMPTY; return CUDA_SUCCESS;
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return make_event_node(p.type, p.eventWait.event, out);
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return make_event_node(p.type, p.eventRecord.event, out);
    // Memory nodes are added by graph_mem_add_node (graph_mem.cc) before this switch is reached;
    // their parameters cannot be set afterwards (cuGraphNodeSetParams).
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return CUDA_ERROR_INVALID_VALUE;
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: return make_cond_node(p.conditional, parent, out);
    case CU_GRAPH_NODE_TYPE_EXT_SEMAS_SIGNAL:
    case CU_GRAPH_NODE_TYPE_EXT_SEMAS_WAIT: return gpool::abi::unimplemented("cuGraphAddNode (external semaphore node)");
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: return make_memop_node(p.memOp, out);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

bool edge_data_default(const CUgraphEdgeData* e, size_t n) {
  if (e == nullptr) return true;
  for (size_t i = 0; i < n; ++i) {
    if (e[i].from_port != 0 || e[i].to_port != 0 || e[i].type != 0) return false;
  }
  return true;
}

// Writes `v` to an array of capacity *n (or only the count when `out` is null).
template <class T, class U>
CUresult report(const std::vector<U>& v, T* out, size_t* n) {
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (out == nullptr) {
    *n = v.size();
    return CUDA_SUCCESS;
  }
  const size_t k = std::min(*n, v.size());
  for (size_t i = 0; i < k; ++i) out[i] = reinterpret_cast<T>(v[i]);
  for (size_t i = k; i < *n; ++i) out[i] = nullptr;
  *n = v.size();
  return CUDA_SUCCESS;
}

void zero_edges(CUgraphEdgeData* e, size_t n) {
  if (e == nullptr) return;
  for (size_t i = 0; i < n; ++i) e[i] = CUgraphEdgeData{};
}

const char* type_name(CUgraphNodeType t) {
  switch (t) {
    case CU_GRAPH_NODE_TYPE_KERNEL: return "kernel";
    case CU_GRAPH_NODE_TYPE_MEMCPY: return "memcpy";
    case CU_GRAPH_NODE_TYPE_MEMSET: return "memset";
    case CU_GRAPH_NODE_TYPE_HOST: return "host";
    case CU_GRAPH_NODE_TYPE_GRAPH: return "graph";
    case CU_GRAPH_NODE_TYPE_EMPTY: return "empty";
    case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return "wait_event";
    case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return "event_record";
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC: return "mem_alloc";
    case CU_GRAPH_NODE_TYPE_MEM_FREE: return "mem_free";
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: return "conditional";
    case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP: return "batch_mem_op";
    default: return "other";
  }
}

void dot_graph(FILE* f, const Graph& g, const std::string& prefix) {
  std::map<const GraphNode*, size_t> index;
  for (size_t i = 0; i < g.nodes.size(); ++i) index[g.nodes[i].get()] = i;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = *g.nodes[i];
    const std::string id = prefix + "n" + std::to_string(i);
    if (n.type == CU_GRAPH_NODE_TYPE_GRAPH && n.child) {
      std::fprintf(f, "subgraph cluster_%s {\nlabel=\"child graph %zu\";\n%s [shape=point];\n", id.c_str(), i,
                   id.c_str());
      dot_graph(f, *n.child, id + "_");
      std::fprintf(f, "}\n");
      continue;
    }
    if (n.type == CU_GRAPH_NODE_TYPE_CONDITIONAL && n.cond) {
      static const char* const kinds[] = {"if", "while", "switch"};
      const char* kind = n.cond->type <= CU_GRAPH_COND_TYPE_SWITCH ? kinds[n.cond->type] : "?";
      std::fprintf(f, "subgraph cluster_%s {\nlabel=\"conditional %zu (%s, handle %#llx)\";\n%s [shape=point];\n",
                   id.c_str(), i, kind, static_cast<unsigned long long>(n.cond->handle->id), id.c_str());
      for (size_t b = 0; b < n.cond->bodies.size(); ++b) {
        std::fprintf(f, "subgraph cluster_%s_b%zu {\nlabel=\"body %zu\";\n", id.c_str(), b, b);
        dot_graph(f, *n.cond->bodies[b], id + "_b" + std::to_string(b) + "_");
        std::fprintf(f, "}\n");
      }
      std::fprintf(f, "}\n");
      continue;
    }
    std::string label = std::to_string(i) + ": " + type_name(n.type);
    if (n.type == CU_GRAPH_NODE_TYPE_KERNEL) {
      if (Function* fn = find_function(n.kernel.func)) label += "\\n" + fn->info->name;
      const auto& d = n.kernel.dims;
      label += "\\ngrid " + std::to_string(d.grid.x) + "x" + std::to_string(d.grid.y) + "x" + std::to_string(d.grid.z) +
               " block " + std::to_string(d.block.x) + "x" + std::to_string(d.block.y) + "x" +
               std::to_string(d.block.z);
    } else if (n.type == CU_GRAPH_NODE_TYPE_MEMCPY) {
      label += "\\n" + std::to_string(n.copy.shape.width) + "x" + std::to_string(n.copy.shape.height) + "x" +
               std::to_string(n.copy.shape.depth) + " bytes";
    } else if (n.type == CU_GRAPH_NODE_TYPE_MEMSET) {
      label += "\\n" + std::to_string(n.memset.width) + "x" + std::to_string(n.memset.height) + " x " +
               std::to_string(n.memset.elementSize) + " bytes";
    }
    std::fprintf(f, "%s [shape=box,label=\"%s\"];\n", id.c_str(), label.c_str());
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const GraphNode* d : g.nodes[i]->deps) {
      std::fprintf(f, "%sn%zu -> %sn%zu;\n", prefix.c_str(), index[d], prefix.c_str(), i);
    }
  }
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphCreate(CUgraph* phGraph, unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (phGraph == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  *phGraph = reinterpret_cast<CUgraph>(graph_new(true).release());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphDestroy(CUgraph hGraph) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr || g->owner_node != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (capture_uses_tree_locked(*g)) {  // also a capture into one of its conditional bodies
    log().info("cuGraphDestroy: the graph is being captured into; end the capture first");
    return CUDA_ERROR_ILLEGAL_STATE;
  }
  delete g;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphClone(CUgraph* phGraphClone, CUgraph originalGraph) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (phGraphClone == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(originalGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (g->mem_owner) {
    log().info("cuGraphClone: a graph with memory allocation or free nodes cannot be cloned");
    return CUDA_ERROR_INVALID_VALUE;
  }
  *phGraphClone = reinterpret_cast<CUgraph>(graph_clone(*g, true).release());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphNodeFindInClone(CUgraphNode* phNode, CUgraphNode hOriginalNode,
                                                      CUgraph hClonedGraph) {
  if (phNode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hClonedGraph);
  GraphNode* o = find_node(hOriginalNode);
  if (g == nullptr || o == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (const auto& n : g->nodes) {
    if (n->origin == o) {
      *phNode = reinterpret_cast<CUgraphNode>(n.get());
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuGraphAddKernelNode_v2(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                       const CUgraphNode* dependencies, size_t numDependencies,
                                                       const CUDA_KERNEL_NODE_PARAMS* nodeParams) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto n = std::make_unique<GraphNode>();
  if (CUresult r = make_kernel_node(*nodeParams, n.get()); r != CUDA_SUCCESS) return r;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddKernelNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                    const CUgraphNode* dependencies, size_t numDependencies,
                                                    const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS p = from_v1(*nodeParams);
  return gpool_impl_cuGraphAddKernelNode_v2(phGraphNode, hGraph, dependencies, numDependencies, &p);
}

extern "C" CUresult gpool_impl_cuGraphAddMemcpyNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                    const CUgraphNode* dependencies, size_t numDependencies,
                                                    const CUDA_MEMCPY3D* copyParams, CUcontext ctx) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  if (copyParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = use_context(ctx, &c); r != CUDA_SUCCESS) return r;
  auto n = std::make_unique<GraphNode>();
  if (CUresult r = make_memcpy_node(*copyParams, n.get()); r != CUDA_SUCCESS) return r;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddMemsetNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                    const CUgraphNode* dependencies, size_t numDependencies,
                                                    const CUDA_MEMSET_NODE_PARAMS* memsetParams, CUcontext ctx) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  if (memsetParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = use_context(ctx, &c); r != CUDA_SUCCESS) return r;
  auto n = std::make_unique<GraphNode>();
  if (CUresult r = make_memset_node(*memsetParams, n.get()); r != CUDA_SUCCESS) return r;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddHostNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                  const CUgraphNode* dependencies, size_t numDependencies,
                                                  const CUDA_HOST_NODE_PARAMS* nodeParams) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  if (nodeParams == nullptr || nodeParams->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto n = std::make_unique<GraphNode>();
  n->type = CU_GRAPH_NODE_TYPE_HOST;
  n->host = *nodeParams;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddChildGraphNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                        const CUgraphNode* dependencies, size_t numDependencies,
                                                        CUgraph childGraph) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  auto n = std::make_unique<GraphNode>();
  {
    std::lock_guard lock(graph_mu());
    if (CUresult r = make_child_node(childGraph, n.get()); r != CUDA_SUCCESS) return r;
  }
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddEmptyNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                   const CUgraphNode* dependencies, size_t numDependencies) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  auto n = std::make_unique<GraphNode>();
  n->type = CU_GRAPH_NODE_TYPE_EMPTY;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddEventRecordNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                         const CUgraphNode* dependencies, size_t numDependencies,
                                                         CUevent event) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  auto n = std::make_unique<GraphNode>();
  if (CUresult r = make_event_node(CU_GRAPH_NODE_TYPE_EVENT_RECORD, event, n.get()); r != CUDA_SUCCESS) return r;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddEventWaitNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                       const CUgraphNode* dependencies, size_t numDependencies,
                                                       CUevent event) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  auto n = std::make_unique<GraphNode>();
  if (CUresult r = make_event_node(CU_GRAPH_NODE_TYPE_WAIT_EVENT, event, n.get()); r != CUDA_SUCCESS) return r;
  return add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n));
}

extern "C" CUresult gpool_impl_cuGraphAddNode_v2(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                 const CUgraphNode* dependencies,
                                                 const CUgraphEdgeData* dependencyData, size_t numDependencies,
                                                 CUgraphNodeParams* nodeParams) {
  if (CUresult r = add_prelude(phGraphNode, hGraph); r != CUDA_SUCCESS) return r;
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!edge_data_default(dependencyData, numDependencies)) {
    return gpool::abi::unimplemented("cuGraphAddNode with non-default edge data");
  }
  if (nodeParams->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC || nodeParams->type == CU_GRAPH_NODE_TYPE_MEM_FREE) {
    return graph_mem_add_node(phGraphNode, hGraph, dependencies, numDependencies, nodeParams);
  }
  auto n = std::make_unique<GraphNode>();
  {
    std::lock_guard lock(graph_mu());  // child graph clones read the child; conditionals look up the graph
    if (CUresult r = make_node(*nodeParams, lookup<Graph>(hGraph), n.get()); r != CUDA_SUCCESS) return r;
  }
  const bool cond = n->type == CU_GRAPH_NODE_TYPE_CONDITIONAL;
  if (CUresult r = add_node(phGraphNode, hGraph, dependencies, numDependencies, std::move(n)); r != CUDA_SUCCESS) {
    return r;
  }
  if (cond) {  // the bodies are handed out only once the node is in its graph
    std::lock_guard lock(graph_mu());
    if (GraphNode* added = find_node(*phGraphNode)) report_bodies(*added, &nodeParams->conditional);
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphAddNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                              const CUgraphNode* dependencies, size_t numDependencies,
                                              CUgraphNodeParams* nodeParams) {
  return gpool_impl_cuGraphAddNode_v2(phGraphNode, hGraph, dependencies, nullptr, numDependencies, nodeParams);
}

extern "C" CUresult gpool_impl_cuGraphAddDependencies_v2(CUgraph hGraph, const CUgraphNode* from,
                                                         const CUgraphNode* to, const CUgraphEdgeData* edgeData,
                                                         size_t numDependencies) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (numDependencies > 0 && (from == nullptr || to == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (!edge_data_default(edgeData, numDependencies)) {
    return gpool::abi::unimplemented("cuGraphAddDependencies with non-default edge data");
  }
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::pair<GraphNode*, GraphNode*>> edges;
  for (size_t i = 0; i < numDependencies; ++i) {
    GraphNode* a = find_node(from[i]);
    GraphNode* b = find_node(to[i]);
    if (a == nullptr || b == nullptr || a->graph != g || b->graph != g || a == b) return CUDA_ERROR_INVALID_VALUE;
    if (std::find(b->deps.begin(), b->deps.end(), a) != b->deps.end()) return CUDA_ERROR_INVALID_VALUE;
    for (const auto& e : edges) {
      if (e.first == a && e.second == b) return CUDA_ERROR_INVALID_VALUE;
    }
    edges.emplace_back(a, b);
  }
  for (auto [a, b] : edges) {
    b->deps.push_back(a);
    a->succs.push_back(b);
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode* from, const CUgraphNode* to,
                                                      size_t numDependencies) {
  return gpool_impl_cuGraphAddDependencies_v2(hGraph, from, to, nullptr, numDependencies);
}

extern "C" CUresult gpool_impl_cuGraphRemoveDependencies_v2(CUgraph hGraph, const CUgraphNode* from,
                                                            const CUgraphNode* to, const CUgraphEdgeData* edgeData,
                                                            size_t numDependencies) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (numDependencies > 0 && (from == nullptr || to == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (!edge_data_default(edgeData, numDependencies)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (g->mem_owner) {
    log().info("cuGraphRemoveDependencies: edges of a graph with memory nodes cannot be removed");
    return CUDA_ERROR_INVALID_VALUE;
  }
  for (size_t i = 0; i < numDependencies; ++i) {
    GraphNode* a = find_node(from[i]);
    GraphNode* b = find_node(to[i]);
    if (a == nullptr || b == nullptr || a->graph != g || b->graph != g) return CUDA_ERROR_INVALID_VALUE;
    if (std::find(b->deps.begin(), b->deps.end(), a) == b->deps.end()) return CUDA_ERROR_INVALID_VALUE;
  }
  for (size_t i = 0; i < numDependencies; ++i) {
    GraphNode* a = find_node(from[i]);
    GraphNode* b = find_node(to[i]);
    b->deps.erase(std::find(b->deps.begin(), b->deps.end(), a));
    a->succs.erase(std::find(a->succs.begin(), a->succs.end(), b));
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphRemoveDependencies(CUgraph hGraph, const CUgraphNode* from,
                                                         const CUgraphNode* to, size_t numDependencies) {
  return gpool_impl_cuGraphRemoveDependencies_v2(hGraph, from, to, nullptr, numDependencies);
}

extern "C" CUresult gpool_impl_cuGraphGetNodes(CUgraph hGraph, CUgraphNode* nodes, size_t* numNodes) {
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<GraphNode*> v;
  for (const auto& n : g->nodes) v.push_back(n.get());
  return report(v, nodes, numNodes);
}

extern "C" CUresult gpool_impl_cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode* rootNodes, size_t* numRootNodes) {
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<GraphNode*> v;
  for (const auto& n : g->nodes) {
    if (n->deps.empty()) v.push_back(n.get());
  }
  return report(v, rootNodes, numRootNodes);
}

extern "C" CUresult gpool_impl_cuGraphGetEdges_v2(CUgraph hGraph, CUgraphNode* from, CUgraphNode* to,
                                                  CUgraphEdgeData* edgeData, size_t* numEdges) {
  if (numEdges == nullptr || ((from == nullptr) != (to == nullptr))) return CUDA_ERROR_INVALID_VALUE;
  if (edgeData != nullptr && from == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<GraphNode*> a, b;
  for (const auto& n : g->nodes) {
    for (GraphNode* d : n->deps) {
      a.push_back(d);
      b.push_back(n.get());
    }
  }
  if (from == nullptr) {
    *numEdges = a.size();
    return CUDA_SUCCESS;
  }
  const size_t cap = *numEdges;
  report(a, from, numEdges);
  *numEdges = cap;
  report(b, to, numEdges);
  zero_edges(edgeData, cap);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphGetEdges(CUgraph hGraph, CUgraphNode* from, CUgraphNode* to, size_t* numEdges) {
  return gpool_impl_cuGraphGetEdges_v2(hGraph, from, to, nullptr, numEdges);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode* dependencies,
                                                             CUgraphEdgeData* edgeData, size_t* numDependencies) {
  std::lock_guard lock(graph_mu());
  GraphNode* n = find_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dependencies != nullptr && numDependencies != nullptr) zero_edges(edgeData, *numDependencies);
  return report(n->deps, dependencies, numDependencies);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode* dependencies,
                                                          size_t* numDependencies) {
  return gpool_impl_cuGraphNodeGetDependencies_v2(hNode, dependencies, nullptr, numDependencies);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependentNodes_v2(CUgraphNode hNode, CUgraphNode* dependentNodes,
                                                               CUgraphEdgeData* edgeData, size_t* numDependentNodes) {
  std::lock_guard lock(graph_mu());
  GraphNode* n = find_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dependentNodes != nullptr && numDependentNodes != nullptr) zero_edges(edgeData, *numDependentNodes);
  return report(n->succs, dependentNodes, numDependentNodes);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependentNodes(CUgraphNode hNode, CUgraphNode* dependentNodes,
                                                            size_t* numDependentNodes) {
  return gpool_impl_cuGraphNodeGetDependentNodes_v2(hNode, dependentNodes, nullptr, numDependentNodes);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType* type) {
  if (type == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = find_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *type = n->type;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphDestroyNode(CUgraphNode hNode) {
  std::lock_guard lock(graph_mu());
  GraphNode* n = find_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A capturing stream may name the node as a dependency: not while the capture runs.
  if (capture_uses_graph_locked(n->graph) || capture_uses_owned_locked(*n)) return CUDA_ERROR_ILLEGAL_STATE;
  if (n->graph->mem_owner) {
    log().info("cuGraphDestroyNode: nodes of a graph with memory nodes cannot be deleted");
    return CUDA_ERROR_INVALID_VALUE;
  }
  for (GraphNode* d : n->deps) d->succs.erase(std::find(d->succs.begin(), d->succs.end(), n));
  for (GraphNode* s : n->succs) s->deps.erase(std::find(s->deps.begin(), s->deps.end(), n));
  if (n->graph->registered) registry().remove(n);
  auto& v = n->graph->nodes;
  v.erase(std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.get() == n; }));  // deletes n
  return CUDA_SUCCESS;
}

// ---- parameters of a node -------------------------------------------------

namespace {

// The node `h` when it is of type `t`. REQUIRES: graph_mu held.
GraphNode* node_of(CUgraphNode h, CUgraphNodeType t) {
  GraphNode* n = find_node(h);
  return n != nullptr && n->type == t ? n : nullptr;
}

void kernel_params_out(const GraphNode& n, CUDA_KERNEL_NODE_PARAMS* p) {
  *p = CUDA_KERNEL_NODE_PARAMS{};
  p->func = n.given_func;
  p->kern = n.given_kern;
  const auto& d = n.kernel.dims;
  p->gridDimX = d.grid.x;
  p->gridDimY = d.grid.y;
  p->gridDimZ = d.grid.z;
  p->blockDimX = d.block.x;
  p->blockDimY = d.block.y;
  p->blockDimZ = d.block.z;
  p->sharedMemBytes = d.shared;
  p->kernelParams = const_cast<void**>(n.kernel_argv.data());
  p->ctx = n.given_ctx;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_KERNEL);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  kernel_params_out(*n, nodeParams);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeGetParams(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS_v1* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS p;
  if (CUresult r = gpool_impl_cuGraphKernelNodeGetParams_v2(hNode, &p); r != CUDA_SUCCESS) return r;
  std::memcpy(nodeParams, &p, sizeof *nodeParams);  // v1 is the leading part of v2
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeSetParams_v2(CUgraphNode hNode,
                                                             const CUDA_KERNEL_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode tmp;
  if (CUresult r = make_kernel_node(*nodeParams, &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_KERNEL);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  tmp.attrs = n->attrs;  // attributes stay with the node
  if (CUresult r = kernel_node_reapply_attrs(&tmp); r != CUDA_SUCCESS) return r;
  n->kernel = tmp.kernel;
  n->kernel_argv = tmp.kernel_argv;
  n->given_func = tmp.given_func;
  n->given_kern = tmp.given_kern;
  n->given_ctx = tmp.given_ctx;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeSetParams(CUgraphNode hNode,
                                                          const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS p = from_v1(*nodeParams);
  return gpool_impl_cuGraphKernelNodeSetParams_v2(hNode, &p);
}

extern "C" CUresult gpool_impl_cuGraphMemcpyNodeGetParams(CUgraphNode hNode, CUDA_MEMCPY3D* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_MEMCPY);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *nodeParams = n->copy.params;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphMemcpyNodeSetParams(CUgraphNode hNode, const CUDA_MEMCPY3D* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  MemcpyNode tmp;
  if (CUresult r = memcpy_prepare(*nodeParams, &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_MEMCPY);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n->copy = tmp;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphMemsetNodeGetParams(CUgraphNode hNode, CUDA_MEMSET_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_MEMSET);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *nodeParams = n->memset;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphMemsetNodeSetParams(CUgraphNode hNode, const CUDA_MEMSET_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode tmp;
  if (CUresult r = make_memset_node(*nodeParams, &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_MEMSET);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n->memset = tmp.memset;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphHostNodeGetParams(CUgraphNode hNode, CUDA_HOST_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_HOST);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *nodeParams = n->host;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphHostNodeSetParams(CUgraphNode hNode, const CUDA_HOST_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr || nodeParams->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_HOST);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n->host = *nodeParams;
  return CUDA_SUCCESS;
}

namespace {

// The event of an event-record or event-wait node (`type` says which kind the node must be).
CUresult event_node_get(CUgraphNode hNode, CUgraphNodeType type, CUevent* event_out) {
  if (event_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, type);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *event_out = n->event;
  return CUDA_SUCCESS;
}

CUresult event_node_set(CUgraphNode hNode, CUgraphNodeType type, CUevent event) {
  if (lookup<Event>(event) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, type);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n->event = event;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphEventRecordNodeGetEvent(CUgraphNode hNode, CUevent* event_out) {
  return event_node_get(hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event_out);
}

extern "C" CUresult gpool_impl_cuGraphEventRecordNodeSetEvent(CUgraphNode hNode, CUevent event) {
  return event_node_set(hNode, CU_GRAPH_NODE_TYPE_EVENT_RECORD, event);
}

extern "C" CUresult gpool_impl_cuGraphEventWaitNodeGetEvent(CUgraphNode hNode, CUevent* event_out) {
  return event_node_get(hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event_out);
}

extern "C" CUresult gpool_impl_cuGraphEventWaitNodeSetEvent(CUgraphNode hNode, CUevent event) {
  return event_node_set(hNode, CU_GRAPH_NODE_TYPE_WAIT_EVENT, event);
}

extern "C" CUresult gpool_impl_cuGraphChildGraphNodeGetGraph(CUgraphNode hNode, CUgraph* phGraph) {
  if (phGraph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = node_of(hNode, CU_GRAPH_NODE_TYPE_GRAPH);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *phGraph = reinterpret_cast<CUgraph>(n->child.get());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphNodeSetParams(CUgraphNode hNode, CUgraphNodeParams* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode tmp;
  {
    std::lock_guard lock(graph_mu());
    GraphNode* n = find_node(hNode);
    if (n == nullptr || n->type != nodeParams->type) return CUDA_ERROR_INVALID_VALUE;
    if (n->type == CU_GRAPH_NODE_TYPE_GRAPH) return gpool::abi::unimplemented("cuGraphNodeSetParams on a child graph node");
    // A conditional node's handle, kind and size are fixed at creation (its bodies are edited in place).
    if (n->type == CU_GRAPH_NODE_TYPE_CONDITIONAL) return CUDA_ERROR_INVALID_VALUE;
  }
  {
    std::lock_guard lock(graph_mu());
    if (CUresult r = make_node(*nodeParams, nullptr, &tmp); r != CUDA_SUCCESS) return r;
  }
  std::lock_guard lock(graph_mu());
  GraphNode* n = find_node(hNode);
  if (n == nullptr || n->type != tmp.type) return CUDA_ERROR_INVALID_VALUE;
  tmp.attrs = n->attrs;  // attributes stay with a kernel node
  if (tmp.type == CU_GRAPH_NODE_TYPE_KERNEL) {
    if (CUresult r = kernel_node_reapply_attrs(&tmp); r != CUDA_SUCCESS) return r;
  }
  copy_params(tmp, n, false);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphDebugDotPrint(CUgraph hGraph, const char* path, unsigned int flags) {
  (void)flags;  // every verbosity prints the same: node types, kernel names and dimensions, copy sizes
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  FILE* f = std::fopen(path, "w");
  if (f == nullptr) return CUDA_ERROR_OPERATING_SYSTEM;
  std::fprintf(f, "digraph gpool_graph {\n");
  dot_graph(f, *g, "");
  std::fprintf(f, "}\n");
  const bool ok = std::fclose(f) == 0;
  return ok ? CUDA_SUCCESS : CUDA_ERROR_OPERATING_SYSTEM;
}
