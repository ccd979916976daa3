// Conditional graph nodes on the emulator (IF with one or two bodies, WHILE,
// SWITCH with n bodies) and their handles.
//
// A CondHandle is made by cuGraphConditionalHandleCreate on a graph and kept
// alive by that graph (Graph::cond_handles), by its clones and by every
// conditional node and executable graph that uses it (shared ownership). Its
// value lives in an exec cell (gpool/emu/exec/graph_cond.h) that kernels write
// with cudaGraphSetConditional; the cell goes when the last owner does.
//
// A conditional node owns its body graphs like a child graph node owns its
// child: they are registered Graph handles (the program fills them) that
// cannot be destroyed on their own. An executable graph keeps each body's
// flattened order (CondNode::orders); a launch turns the node into one stream
// task that reads the handle's value when it runs (after the work before it
// on the stream) and runs the chosen body's work inline, again and again for
// WHILE while the value is non-zero.
//
// Thread safety: like graph.h, under graph_mu(); the launch task reads only
// what it copied.
#pragma once

#include "graph.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace gpool::emu::rt {

struct CondHandle {
  uint64_t id = 0;  // the CUgraphConditionalHandle value (the exec cell)
  uint32_t default_value = 0;
  unsigned flags = 0;  // CU_GRAPH_COND_ASSIGN_DEFAULT
  Context* ctx = nullptr;
  ~CondHandle();
};

struct CondNode {
  std::shared_ptr<CondHandle> handle;
  CUgraphConditionalNodeType type = CU_GRAPH_COND_TYPE_IF;
  CUcontext given_ctx = nullptr;
  std::vector<std::unique_ptr<Graph>> bodies;     // size() = the node's size
  std::vector<CUgraph> body_handles;              // the array phGraph_out points to (driver-owned)
  std::vector<std::vector<GraphNode*>> orders;    // exec clones only: each body flattened
};

// Makes the conditional node `out` of graph `parent` from `p`: checks the
// handle (created on `parent` or a graph enclosing it), type and size, and
// creates the empty registered body graphs. Does not set p.phGraph_out
// (report_bodies does, once the node is in its graph). REQUIRES: graph_mu held.
CUresult make_cond_node(const CUDA_CONDITIONAL_NODE_PARAMS& p, Graph* parent, GraphNode* out);
// Points p->phGraph_out at the node's array of body graph handles, which
// lives as long as the node (as the driver does: the array is driver-owned).
// REQUIRES: graph_mu held.
void report_bodies(GraphNode& n, CUDA_CONDITIONAL_NODE_PARAMS* p);

// Deep copy of a conditional node's parameters (bodies cloned). REQUIRES: graph_mu held.
std::unique_ptr<CondNode> cond_clone(const CondNode& c, bool reg);
// Same kind, size and body structure (cuGraphExecUpdate).
bool cond_same_kind(const CondNode& a, const CondNode& b);

// True when conditional bodies may hold a node of type `t` (kernel, empty,
// child graph, memset, memcpy, conditional; the driver's rule).
bool cond_body_allows(CUgraphNodeType t);

// The stream task of a conditional node of an executable graph launched on a
// stream of `ctx`. Errors as cuGraphLaunch.
CUresult cond_task(const GraphNode& n, Context* ctx, Task* out);
// Adds to *out every handle the executable graph's nodes use that has
// CU_GRAPH_COND_ASSIGN_DEFAULT (reset at the start of each launch).
void cond_defaults(const std::vector<GraphNode*>& order, std::vector<std::shared_ptr<CondHandle>>* out);

}  // namespace gpool::emu::rt
