// CUDA graphs on the emulator: graphs, their nodes and executable graphs.
//
// A Graph owns its nodes (creation order kept: it is the order cuGraphGetNodes
// reports, the order cuGraphClone/cuGraphExecUpdate pair nodes by, and a tie
// breaker of the launch order). A node's parameters are copied when it is
// added or set (kernel arguments are packed at that time, as the driver does),
// so a graph never refers to memory of the caller's parameter structs.
//
// A GraphExec owns a private clone of the graph it was instantiated from,
// flattened (child graphs inlined) into one topological order. cuGraphLaunch
// enqueues the nodes in that order on the launch stream, so the graph runs
// after earlier work on the stream and before later work, and every edge is
// respected (a serial order is one of the orders the driver may pick).
//
// Memory allocation and free nodes share their allocation (GraphNode::mem)
// with every clone; their rules and state live in graph_mem.h.
//
// Handles: Graph, GraphNode and GraphExec are registered objects (runtime.h);
// every handle is checked before use. The nodes inside a GraphExec's clone
// are not registered: programs name exec nodes by their original node.
//
// Thread safety: all graph state is guarded by graph_mu(). Graph objects are
// not meant to be used concurrently by the program (as in CUDA), the mutex
// only keeps a misuse from corrupting memory.
#pragma once

#include "copy_engine.h"
#include "launch.h"
#include "runtime.h"
#include "user_object.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gpool::emu::rt {

struct Graph;
struct Event;
struct Context;
struct GraphMem;       // graph_mem.h
struct GraphMemOwner;  // graph_mem.h
struct CondHandle;  // graph_cond.h
struct CondNode;    // graph_cond.h

struct MemcpyNode {
  CUDA_MEMCPY3D params{};  // as given (reported by GetParams)
  CopySide dst, src;       // checked sides
  CopyShape shape;
};

struct GraphNode final : Object {
  static constexpr Kind kKind = Kind::GraphNode;
  GraphNode();  // out of line: CondNode is complete only in graph.cc
  ~GraphNode() override;

  Graph* graph = nullptr;  // owner
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  // Parameters of the node's type.
  KernelLaunch kernel;
  std::vector<void*> kernel_argv;  // pointers into kernel.args, reported as kernelParams
  CUfunction given_func = nullptr;  // func / kern / ctx as the program gave them (GetParams)
  CUkernel given_kern = nullptr;
  CUcontext given_ctx = nullptr;
  MemcpyNode copy;
  CUDA_MEMSET_NODE_PARAMS memset{};
  CUDA_HOST_NODE_PARAMS host{};
  CUevent event = nullptr;             // event record / wait
  std::unique_ptr<Graph> child;        // child graph (owned, registered as a Graph handle)
  std::shared_ptr<GraphMem> mem;       // memory alloc / free node: the allocation (graph_mem.h)
  // Kernel node attributes (cuGraphKernelNodeSetAttribute, or the cuLaunchKernelEx list of a
  // captured launch), at most one per id, in the order first set. COOPERATIVE is also
  // kernel.cooperative, the one the emulator applies at launch (graph_attr.cc).
  std::vector<CUlaunchAttribute> attrs;
  std::unique_ptr<CondNode> cond;      // conditional: handle, kind and body graphs (owned)
  // Batch memory-op node (memop.h): the operations (checked; GetParams hands out memops.data()),
  // the context as given and the node flags.
  std::vector<CUstreamBatchMemOpParams> memops;
  CUcontext memop_ctx = nullptr;
  unsigned memop_flags = 0;

  std::vector<GraphNode*> deps;   // incoming edges (in order added)
  std::vector<GraphNode*> succs;  // outgoing edges
  const GraphNode* origin = nullptr;  // the node this one was cloned from (FindInClone, exec updates)
  bool enabled = true;                // exec clones only (cuGraphNodeSetEnabled)
};

struct Graph final : Object {
  static constexpr Kind kKind = Kind::Graph;
  Graph() : Object(Kind::Graph) {}
  ~Graph() override;
  // References to user objects this graph owns (cuGraphRetainUserObject; copied by clones, which
  // own their own). Released when the graph is destroyed (user_object.h).
  UserRefs user_refs;
  std::vector<std::unique_ptr<GraphNode>> nodes;  // creation order
  GraphNode* owner_node = nullptr;  // set for a child graph or conditional body (cannot be destroyed on its own)
  bool registered = false;          // its nodes and it are live handles
  std::shared_ptr<GraphMemOwner> mem_owner;  // set once it has a memory node (graph_mem.h)
  std::vector<std::shared_ptr<CondHandle>> cond_handles;  // cuGraphConditionalHandleCreate on this graph
};

struct GraphExec final : Object {
  static constexpr Kind kKind = Kind::GraphExec;
  GraphExec() : Object(Kind::GraphExec) {}
  Context* ctx = nullptr;
  uint64_t flags = 0;
  std::unique_ptr<Graph> graph;          // private clone (not registered)
  std::vector<GraphNode*> order;         // flattened topological order
  std::map<const GraphNode*, GraphNode*> by_origin;  // original node (any depth) -> clone
  std::shared_ptr<GraphMemOwner> mem_owner;  // the graph's, when it has memory nodes (graph_mem.h)
};

std::mutex& graph_mu();

// New empty graph; registered when `reg`.
std::unique_ptr<Graph> graph_new(bool reg);

// Deep copy of `g` (nodes, edges, child graphs); each new node's origin is its
// source node. REQUIRES: graph_mu held.
std::unique_ptr<Graph> graph_clone(const Graph& g, bool reg);

// Adds a node of `proto`'s type and parameters to `g` after `deps`. Takes the
// parameters from `proto` (moved). REQUIRES: graph_mu held, deps checked
// and in `g`. Returns the node.
GraphNode* graph_add(Graph* g, std::unique_ptr<GraphNode> proto, const std::vector<GraphNode*>& deps);

// Destroys a top-level graph handle (and everything it owns).
void graph_delete(Graph* g);

// Node makers shared by explicit construction and stream capture: check
// and copy the parameters into `out`. Errors as the matching cuGraphAdd*Node.
CUresult make_kernel_node(const CUDA_KERNEL_NODE_PARAMS& p, GraphNode* out);
CUresult make_memcpy_node(const CUDA_MEMCPY3D& p, GraphNode* out);
CUresult make_memset_node(const CUDA_MEMSET_NODE_PARAMS& p, GraphNode* out);
// Batch memory-op node (graph_memop.cc). Errors: INVALID_VALUE (memop.h), INVALID_CONTEXT.
CUresult make_memop_node(const CUDA_BATCH_MEM_OP_NODE_PARAMS_v2& p, GraphNode* out);
void set_kernel_launch(GraphNode* n, KernelLaunch k);

// Kernel node attributes (graph_attr.cc). The attributes of a launch captured into `n`
// (cuLaunchKernelEx's list; IGNORE entries dropped, COOPERATIVE added for a cooperative launch
// that did not name it). REQUIRES: the list checked by check_launch_attributes.
void kernel_node_take_attrs(GraphNode* n, const CUlaunchAttribute* attrs, unsigned num_attrs);
// After new kernel parameters reached `n` (SetParams): keeps its cooperative attribute.
// Errors: COOPERATIVE_LAUNCH_TOO_LARGE, and INVALID_VALUE when a cluster dimension attribute no
// longer divides the grid.
CUresult kernel_node_reapply_attrs(GraphNode* n);
// The value of attribute `id` on `n`, zero when never set (false: `id` is unknown).
bool kernel_node_attr(const GraphNode& n, int id, CUlaunchAttributeValue* out);

// Enqueues the executable graph's nodes on `s` (cuGraphLaunch).
CUresult graph_exec_launch(GraphExec* e, const std::shared_ptr<Stream>& s);

// Memcpy node work (also used by captured copies): the checked copy, re-checking
// device sides at run time.
CUresult memcpy_prepare(const CUDA_MEMCPY3D& p, MemcpyNode* out);
Task memcpy_task(const MemcpyNode& n, Context* ctx);
// Memset node work: the checked fill, re-checking the range at run time.
Task memset_task(const CUDA_MEMSET_NODE_PARAMS& p, Context* ctx);

}  // namespace gpool::emu::rt
