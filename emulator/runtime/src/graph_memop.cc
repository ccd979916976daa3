// Batch memory-op graph nodes: cuGraphAddBatchMemOpNode, cuGraphBatchMemOpNodeGet/SetParams,
// cuGraphExecBatchMemOpNodeSetParams (and the generic cuGraphAddNode/NodeSetParams path,
// graph.cc). A node holds a checked copy of the operations (memop.h, v2 rules); a launch runs
// them in order like cuStreamBatchMemOp on the launch stream (graph_exec.cc).
#include "graph.h"

#include "context.h"
#include "memop.h"

#include <cstring>

namespace gpool::emu::rt {

CUresult make_memop_node(const CUDA_BATCH_MEM_OP_NODE_PARAMS_v2& p, GraphNode* out) {
  Context* ctx = nullptr;
  if (CUresult r = find_context(p.ctx, &ctx); r != CUDA_SUCCESS) return r;
  if (p.flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = memop_check(p.paramArray, p.count, MemOpApi::V2, true); r != CUDA_SUCCESS) return r;
  out->type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
  out->memops.assign(p.paramArray, p.paramArray + p.count);
  out->memop_ctx = p.ctx;
  out->memop_flags = p.flags;
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

CUDA_BATCH_MEM_OP_NODE_PARAMS_v2 as_v2(const CUDA_BATCH_MEM_OP_NODE_PARAMS& p) {
  CUDA_BATCH_MEM_OP_NODE_PARAMS_v2 q{};
  q.ctx = p.ctx;
  q.count = p.count;
  q.paramArray = p.paramArray;
  q.flags = p.flags;
  return q;
}

// A live batch memory-op node of a graph. REQUIRES: graph_mu held.
GraphNode* memop_node(CUgraphNode h) {
  GraphNode* n = lookup<GraphNode>(h);
  return n != nullptr && n->type == CU_GRAPH_NODE_TYPE_BATCH_MEM_OP ? n : nullptr;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphAddBatchMemOpNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                        const CUgraphNode* dependencies, size_t numDependencies,
                                                        const CUDA_BATCH_MEM_OP_NODE_PARAMS* nodeParams) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (phGraphNode == nullptr || hGraph == nullptr || nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
  p.memOp = as_v2(*nodeParams);
  return gpool_impl_cuGraphAddNode_v2(phGraphNode, hGraph, dependencies, nullptr, numDependencies, &p);
}

extern "C" CUresult gpool_impl_cuGraphBatchMemOpNodeGetParams(CUgraphNode hNode,
                                                              CUDA_BATCH_MEM_OP_NODE_PARAMS* nodeParams_out) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (nodeParams_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = memop_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  nodeParams_out->ctx = n->memop_ctx;
  nodeParams_out->count = static_cast<unsigned>(n->memops.size());
  nodeParams_out->paramArray = n->memops.data();  // owned by the node until it changes or goes
  nodeParams_out->flags = n->memop_flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphBatchMemOpNodeSetParams(CUgraphNode hNode,
                                                              const CUDA_BATCH_MEM_OP_NODE_PARAMS* nodeParams) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode tmp;
  if (CUresult r = make_memop_node(as_v2(*nodeParams), &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* n = memop_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n->memops = std::move(tmp.memops);
  n->memop_ctx = tmp.memop_ctx;
  n->memop_flags = tmp.memop_flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecBatchMemOpNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                                  const CUDA_BATCH_MEM_OP_NODE_PARAMS* nodeParams) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GraphNode tmp;
  if (CUresult r = make_memop_node(as_v2(*nodeParams), &tmp); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphExec* e = lookup<GraphExec>(hGraphExec);
  GraphNode* orig = lookup<GraphNode>(hNode);
  if (e == nullptr || orig == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto it = e->by_origin.find(orig);
  if (it == e->by_origin.end() || it->second->type != CU_GRAPH_NODE_TYPE_BATCH_MEM_OP) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  GraphNode* n = it->second;
  // The context, the count, the kinds and the barrier/flush flags are fixed in an executable graph.
  if (tmp.memop_ctx != n->memop_ctx || !memop_update_ok(n->memops, tmp.memops)) return CUDA_ERROR_INVALID_VALUE;
  n->memops = std::move(tmp.memops);
  return CUDA_SUCCESS;
}
