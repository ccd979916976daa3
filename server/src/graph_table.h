// GraphTable: the session's CUDA graphs, graph nodes and executable graphs under ids the server
// chooses (kind tag in the top 16 bits, one counter below), so ids of different kinds never
// collide and a node id cannot be passed where a graph id is expected.
//
// graph_id()/node_id() answer the id a driver handle already has, or give it a new one (graphs
// and nodes reach the session from many calls: create, capture, clone, node lists). Execs get a
// fresh id each time (add_exec()). Graphs still being captured are marked (capturing()), so a
// client cannot destroy them by id while the driver owns them.
//
// Errors: graph()/node()/exec() answer nullptr for an id of the wrong kind, stale or forged;
// erase_*() of such an id changes nothing. Ownership: the driver handles stay the caller's to
// create and destroy; the table only maps them. Thread safety: the worker's one thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <set>
#include <unordered_map>
#include <vector>

namespace gpool::server {

class GraphTable {
 public:
  static constexpr uint64_t kGraphTag = 0x4752ull << 48;      // "GR"
  static constexpr uint64_t kGraphNodeTag = 0x474eull << 48;  // "GN"
  static constexpr uint64_t kGraphExecTag = 0x4758ull << 48;  // "GX"

  uint64_t graph_id(CUgraph g);
  uint64_t node_id(CUgraphNode n);
  uint64_t add_exec(CUgraphExec e);

  CUgraph graph(uint64_t id) const { return find(graphs_, id); }
  CUgraphNode node(uint64_t id) const { return find(nodes_, id); }
  CUgraphExec exec(uint64_t id) const { return find(execs_, id); }

  // Forgets graph `id` and the ids of `nodes` (its nodes, destroyed with it).
  void erase_graph(uint64_t id, const std::vector<CUgraphNode>& nodes);
  void forget_graph(CUgraph g);  // whatever id `g` has (a failed capture destroyed it)
  void erase_node(uint64_t id);
  void erase_exec(uint64_t id) { execs_.erase(id); }

  void mark_capturing(CUgraph g) { capturing_.insert(g); }
  void end_capture(CUgraph g) { capturing_.erase(g); }
  bool capturing(CUgraph g) const { return capturing_.count(g) != 0; }

  // Client graphs a stream captures into (StreamBeginCaptureToGraph): they stay the client's
  // after the capture, and cannot be destroyed while it runs.
  void mark_capture_into(CUgraph g) { capture_into_.insert(g); }
  bool end_capture_into(CUgraph g) { return capture_into_.erase(g) != 0; }
  bool capturing_into(CUgraph g) const { return capture_into_.count(g) != 0; }

  // Child graphs handed out by ChildGraphNodeGetGraph belong to their node: not destroyable
  // by their own id.
  void set_child_owner(CUgraph child, CUgraphNode n) { child_owner_[child] = n; }
  bool child_owned(CUgraph g) const { return child_owner_.count(g) != 0; }

  // Forgets the ids of `nodes` and of `graphs` (objects destroyed with a graph or a node).
  void forget_objects(const std::vector<CUgraphNode>& nodes, const std::vector<CUgraph>& graphs);

 private:
  template <typename H>
  static H find(const std::unordered_map<uint64_t, H>& m, uint64_t id) {
    auto it = m.find(id);
    return it == m.end() ? nullptr : it->second;
  }
  std::unordered_map<uint64_t, CUgraph> graphs_;
  std::unordered_map<uint64_t, CUgraphNode> nodes_;
  std::unordered_map<CUgraphNode, uint64_t> node_ids_;
  std::unordered_map<uint64_t, CUgraphExec> execs_;
  std::set<CUgraph> capturing_;  // graphs still being captured (not destroyable by id)
  std::set<CUgraph> capture_into_;
  std::unordered_map<CUgraph, CUgraphNode> child_owner_;
  uint64_t counter_ = 0;
};

}  // namespace gpool::server
