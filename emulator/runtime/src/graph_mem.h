// Graph memory nodes on the emulator: memory allocation and free nodes, the
// allocations they make, and the device's graph-memory statistics
// (cuDeviceGraphMemTrim, cuDevice{Get,Set}GraphMemAttribute).
//
// A GraphMem is one allocation of one alloc node. Its address is fixed when
// the node is made (the backing storage is allocated then, so the address is
// stable across every instantiation and launch) but the memory is valid only
// while the allocation is live: from a launch of the graph (the allocation is
// made when cuGraphLaunch is called, before the stream reaches the node, as
// the emulator's cuMemAllocAsync does) until it is freed by a free node of
// a launched graph, cuMemFreeAsync (in stream order) or cuMemFree. While
// live it is an entry of the allocation table (alloc_table.h, flag
// `graph_mem`), so kernels, copies and memsets reach it; otherwise an access
// is an illegal address.
//
// Physical memory: the bytes of a live allocation are counted against the
// device (reserve_device_memory). Freed bytes stay with the graph allocator
// (counted as RESERVED, reused by the next graph allocation of the device)
// until cuDeviceGraphMemTrim gives them back, as the driver does.
//
// Ownership: a GraphMem is shared by its alloc node, the nodes of executable
// clones and free nodes naming it (shared_ptr), and by the table of live
// allocations while it is live or still in the allocation table, so an
// allocation outlives its graph and exec until it is freed.
//
// Thread safety: GraphMem state marked "mem" is guarded by graph_mem_mu()
// (recursive; taken after graph_mu() when both are held, and alone by
// stream tasks). Fields marked "graph" are guarded by graph_mu().
//
// Contexts: a live allocation is owned by the context of the launch that
// made it; destroying or resetting that context frees it (as the context's
// other allocations). The address stays reserved for the node.
#pragma once

#include "graph.h"
#include "stream.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace gpool::emu::rt {

// One per graph that has a memory node (Graph::mem_owner), shared with the
// executable graph instantiated from it (one at a time). Guarded by graph_mu.
struct GraphMemOwner {
  int execs = 0;  // live executable graphs instantiated from the graph
};

struct GraphMem {
  GraphMem() = default;
  GraphMem(const GraphMem&) = delete;
  GraphMem& operator=(const GraphMem&) = delete;
  ~GraphMem();

  // Constant after creation.
  uint64_t base = 0;
  uint64_t bytes = 0;     // as requested
  uint64_t reserved = 0;  // bytes counted against the device (256-byte rounded)
  int device = 0;
  bool mmapped = false;
  CUmemPoolProps props{};
  std::vector<CUmemAccessDesc> access;  // reported by cuGraphMemAllocNodeGetParams

  // graph: the owning graph's token and where free nodes name the allocation
  // (set under graph_mu; atomic because frees outside graphs read them under
  // graph_mem_mu only).
  std::weak_ptr<GraphMemOwner> owner;
  std::atomic<bool> freed_in_owner{false};   // a free node of the owning graph frees it
  std::atomic<bool> freed_elsewhere{false};  // a free node of another graph frees it

  // mem: program-visible state.
  bool live = false;      // allocated and not yet freed (at call time)
  bool in_table = false;  // in the allocation table (frees remove it in stream order)
  uint64_t gen = 0;       // bumped by every allocation: a stale stream-ordered free does nothing
};

std::recursive_mutex& graph_mem_mu();

// A new alloc node's allocation for graph `g` (address reserved now). Errors
// as cuGraphAddMemAllocNode. REQUIRES: graph_mu held.
CUresult graph_mem_make_alloc(Graph* g, const CUmemPoolProps& props, const CUmemAccessDesc* access,
                              size_t access_count, size_t bytes, GraphNode* out);
// A new free node of `g` for `dptr`: checks the driver's rules (an address
// an alloc node returned; not freed twice in one graph; not freed in both the
// owning graph and another). Call graph_mem_commit_free once the node is in
// the graph. REQUIRES: graph_mu held.
CUresult graph_mem_make_free(Graph* g, CUdeviceptr dptr, GraphNode* out);
void graph_mem_commit_free(Graph* g, GraphMem* m);

// Instantiation rule: one executable graph at a time per graph with memory
// nodes. REQUIRES: graph_mu held.
CUresult graph_mem_instantiate_check(const Graph& g);
void graph_mem_instantiated(Graph* g, GraphExec* e);
void graph_mem_exec_destroyed(GraphExec* e);
// cuGraphExecUpdate: memory nodes must name the same allocations.
bool graph_mem_update_ok(const Graph& exec_graph, const Graph& src);

// cuGraphLaunch of an exec with memory nodes: checks (a live allocation of
// the exec without AUTO_FREE_ON_LAUNCH: INVALID_VALUE; a free node of an
// allocation that is not live: INVALID_VALUE), makes the allocations
// (OUT_OF_MEMORY when the device is full) and marks the frees, recording in
// *gens the generation each free node's task (graph_mem_free_task) frees.
CUresult graph_mem_launch(GraphExec* e, Context* ctx, std::map<const GraphMem*, uint64_t>* gens);
Task graph_mem_free_task(std::shared_ptr<GraphMem> m, std::shared_ptr<std::map<const GraphMem*, uint64_t>> gens);

// cuMemFree / cuMemFreeAsync of a live graph allocation (the table entry at
// `base` has graph_mem set; also the teardown of the context that launched it). Errors: INVALID_VALUE when not live or freed by
// its own graph.
CUresult graph_mem_free_now(uint64_t base);
CUresult graph_mem_free_async(uint64_t base, const std::shared_ptr<Stream>& s);

// cuMemAllocAsync / cuMemAllocFromPoolAsync and cuMemFreeAsync on a capturing
// stream: an alloc node (with `props`' location) or a free node.
CUresult graph_mem_capture_alloc(const std::shared_ptr<Stream>& s, size_t bytes, const CUmemPoolProps& props,
                                 CUdeviceptr* out);
CUresult graph_mem_capture_free(const std::shared_ptr<Stream>& s, CUdeviceptr dptr);

// True when [addr, addr + len) lies inside the address an allocation node
// reserved (live or not): copy and memset nodes may name it when they are
// made; whether it is allocated is checked when they run.
bool graph_mem_reserved(uint64_t addr, uint64_t len);

// cuGraphAddNode(_v2) of a memory node (the generic path).
CUresult graph_mem_add_node(CUgraphNode* ph, CUgraph hg, const CUgraphNode* deps, size_t n,
                            CUgraphNodeParams* params);

}  // namespace gpool::emu::rt
