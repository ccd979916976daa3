// Conditional graph nodes: cuGraphConditionalHandleCreate, the conditional
// node maker used by cuGraphAddNode, and the launch task (graph_cond.h).
#include "graph_cond.h"

#include "context.h"
#include "gpool/emu/exec/graph_cond.h"

#include <algorithm>

namespace gpool::emu::rt {

CondHandle::~CondHandle() { exec::cond_cell_destroy(id); }

namespace {

// The handle `id` when `g` or a graph enclosing it (through child graph and
// conditional body ownership) created it. REQUIRES: graph_mu held.
std::shared_ptr<CondHandle> find_handle(Graph* g, uint64_t id) {
  for (Graph* at = g; at != nullptr; at = at->owner_node != nullptr ? at->owner_node->graph : nullptr) {
    for (const auto& h : at->cond_handles) {
      if (h->id == id) return h;
    }
  }
  return nullptr;
}

void run_all(const std::vector<Task>& tasks) {
  for (const Task& t : tasks) t();
}

// The tasks of one flattened body, in order. Nested conditionals become
// their own task.
CUresult body_tasks(const std::vector<GraphNode*>& order, Context* ctx, std::vector<Task>* out) {
  for (GraphNode* n : order) {
    if (!n->enabled) continue;
    switch (n->type) {
      case CU_GRAPH_NODE_TYPE_KERNEL: {
        Task t;
        if (CUresult r = kernel_task(n->kernel, &t); r != CUDA_SUCCESS) return r;
        out->push_back(std::move(t));
        break;
      }
      case CU_GRAPH_NODE_TYPE_MEMCPY: out->push_back(memcpy_task(n->copy, ctx)); break;
      case CU_GRAPH_NODE_TYPE_MEMSET: out->push_back(memset_task(n->memset, ctx)); break;
      case CU_GRAPH_NODE_TYPE_CONDITIONAL: {
        Task t;
        if (CUresult r = cond_task(*n, ctx, &t); r != CUDA_SUCCESS) return r;
        out->push_back(std::move(t));
        break;
      }
      case CU_GRAPH_NODE_TYPE_EMPTY: break;
      default: return CUDA_ERROR_INVALID_VALUE;  // refused at instantiation (cond_body_allows)
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace

bool cond_body_allows(CUgraphNodeType t) {
  switch (t) {
    case CU_GRAPH_NODE_TYPE_KERNEL:
    case CU_GRAPH_NODE_TYPE_EMPTY:
    case CU_GRAPH_NODE_TYPE_GRAPH:
    case CU_GRAPH_NODE_TYPE_MEMSET:
    case CU_GRAPH_NODE_TYPE_MEMCPY:
    case CU_GRAPH_NODE_TYPE_CONDITIONAL: return true;
    default: return false;
  }
}

CUresult make_cond_node(const CUDA_CONDITIONAL_NODE_PARAMS& p, Graph* parent, GraphNode* out) {
  if (parent == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (p.type) {
    case CU_GRAPH_COND_TYPE_IF:
      if (p.size != 1 && p.size != 2) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CU_GRAPH_COND_TYPE_WHILE:
      if (p.size != 1) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CU_GRAPH_COND_TYPE_SWITCH:
      if (p.size == 0) return CUDA_ERROR_INVALID_VALUE;
      break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  std::shared_ptr<CondHandle> h = find_handle(parent, p.handle);
  if (!h) {
    log().info("conditional node: handle {:#x} was not created on this graph or a graph enclosing it", p.handle);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (p.ctx != nullptr) {  // the node's context must be the handle's
    Context* c = nullptr;
    if (CUresult r = use_context(p.ctx, &c); r != CUDA_SUCCESS) return r;
    if (c != h->ctx) return CUDA_ERROR_INVALID_VALUE;
  }
  auto c = std::make_unique<CondNode>();
  c->handle = std::move(h);
  c->type = p.type;
  c->given_ctx = p.ctx;
  for (unsigned i = 0; i < p.size; ++i) c->bodies.push_back(graph_new(parent->registered));
  out->type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
  out->cond = std::move(c);
  return CUDA_SUCCESS;
}

void report_bodies(GraphNode& n, CUDA_CONDITIONAL_NODE_PARAMS* p) {
  if (!n.cond) return;
  n.cond->body_handles.clear();
  for (const auto& b : n.cond->bodies) n.cond->body_handles.push_back(reinterpret_cast<CUgraph>(b.get()));
  p->phGraph_out = n.cond->body_handles.data();
}

std::unique_ptr<CondNode> cond_clone(const CondNode& c, bool reg) {
  auto out = std::make_unique<CondNode>();
  out->handle = c.handle;
  out->type = c.type;
  out->given_ctx = c.given_ctx;
  for (const auto& b : c.bodies) out->bodies.push_back(graph_clone(*b, reg));
  return out;
}

bool cond_same_kind(const CondNode& a, const CondNode& b) {
  return a.type == b.type && a.bodies.size() == b.bodies.size();
}

CUresult cond_task(const GraphNode& n, Context* ctx, Task* out) {
  if (!n.cond || n.cond->orders.size() != n.cond->bodies.size()) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::vector<Task>> bodies(n.cond->orders.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    if (CUresult r = body_tasks(n.cond->orders[i], ctx, &bodies[i]); r != CUDA_SUCCESS) return r;
  }
  const std::shared_ptr<CondHandle> h = n.cond->handle;
  const CUgraphConditionalNodeType type = n.cond->type;
  *out = [h, type, ctx, bodies = std::move(bodies)] {
    uint32_t v = 0;
    if (!exec::cond_cell_get(h->id, &v)) return;  // the handle keeps its cell alive: cannot happen
    switch (type) {
      case CU_GRAPH_COND_TYPE_IF:
        if (v != 0) {
          run_all(bodies[0]);
        } else if (bodies.size() == 2) {
          run_all(bodies[1]);
        }
        break;
      case CU_GRAPH_COND_TYPE_WHILE:
        // A faulted context runs nothing more, so no body could clear the value.
        while (v != 0 && ctx->sticky.load() == CUDA_SUCCESS) {
          run_all(bodies[0]);
          if (!exec::cond_cell_get(h->id, &v)) break;
        }
        break;
      case CU_GRAPH_COND_TYPE_SWITCH:
        if (v < bodies.size()) run_all(bodies[v]);
        break;
      default: break;
    }
  };
  return CUDA_SUCCESS;
}

void cond_defaults(const std::vector<GraphNode*>& order, std::vector<std::shared_ptr<CondHandle>>* out) {
  for (const GraphNode* n : order) {
    if (n->type != CU_GRAPH_NODE_TYPE_CONDITIONAL || !n->cond) continue;
    const auto& h = n->cond->handle;
    if ((h->flags & CU_GRAPH_COND_ASSIGN_DEFAULT) && std::find(out->begin(), out->end(), h) == out->end()) {
      out->push_back(h);
    }
    for (const auto& o : n->cond->orders) cond_defaults(o, out);
  }
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuGraphConditionalHandleCreate(CUgraphConditionalHandle* pHandle_out, CUgraph hGraph,
                                                              CUcontext ctx, unsigned int defaultLaunchValue,
                                                              unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (pHandle_out == nullptr || (flags & ~static_cast<unsigned>(CU_GRAPH_COND_ASSIGN_DEFAULT))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  Context* c = nullptr;
  if (CUresult r = use_context(ctx, &c); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto h = std::make_shared<CondHandle>();
  h->id = gpool::emu::exec::cond_cell_create(defaultLaunchValue);
  h->default_value = defaultLaunchValue;
  h->flags = flags;
  h->ctx = c;
  g->cond_handles.push_back(h);
  *pHandle_out = h->id;
  return CUDA_SUCCESS;
}
