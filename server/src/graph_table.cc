#include "graph_table.h"

namespace gpool::server {

uint64_t GraphTable::graph_id(CUgraph g) {
  for (const auto& [id, h] : graphs_) {
    if (h == g) return id;
  }
  const uint64_t id = kGraphTag | ++counter_;
  graphs_[id] = g;
  return id;
}

uint64_t GraphTable::node_id(CUgraphNode n) {
  if (auto it = node_ids_.find(n); it != node_ids_.end()) return it->second;
  const uint64_t id = kGraphNodeTag | ++counter_;
  nodes_[id] = n;
  node_ids_[n] = id;
  return id;
}

uint64_t GraphTable::add_exec(CUgraphExec e) {
  const uint64_t id = kGraphExecTag | ++counter_;
  execs_[id] = e;
  return id;
}

void GraphTable::erase_graph(uint64_t id, const std::vector<CUgraphNode>& nodes) {
  graphs_.erase(id);
  for (CUgraphNode node : nodes) {
    if (auto it = node_ids_.find(node); it != node_ids_.end()) {
      nodes_.erase(it->second);
      node_ids_.erase(it);
    }
  }
}

void GraphTable::forget_graph(CUgraph g) {
  std::erase_if(graphs_, [&](const auto& kv) { return kv.second == g; });
}

void GraphTable::forget_objects(const std::vector<CUgraphNode>& nodes, const std::vector<CUgraph>& graphs) {
  for (CUgraphNode node : nodes) {
    if (auto it = node_ids_.find(node); it != node_ids_.end()) {
      nodes_.erase(it->second);
      node_ids_.erase(it);
    }
  }
  for (CUgraph g : graphs) {
    child_owner_.erase(g);
    forget_graph(g);
  }
}

void GraphTable::erase_node(uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  node_ids_.erase(it->second);
  nodes_.erase(it);
}

}  // namespace gpool::server
