// Graph memory nodes: cuGraphAddMemAllocNode, cuGraphAddMemFreeNode, their
// parameter queries, cuDeviceGraphMemTrim, cuDevice{Get,Set}GraphMemAttribute,
// and the allocation state behind them (graph_mem.h).
#include "graph_mem.h"

#include "alloc_table.h"
#include "capture.h"
#include "context.h"

#include <algorithm>
#include <functional>
#include <set>

namespace gpool::emu::rt {
namespace {

constexpr int kMaxGraphMemDevices = 16;

// Per device, guarded by graph_mem_mu(): bytes of live graph allocations
// (in the allocation table) and bytes the graph allocator keeps after frees.
struct DeviceGraphMem {
  uint64_t used = 0;
  uint64_t used_high = 0;
  uint64_t cached = 0;
  uint64_t reserved_high = 0;
};

// Guarded by graph_mem_mu().
DeviceGraphMem g_dev[kMaxGraphMemDevices];
std::map<uint64_t, std::weak_ptr<GraphMem>> g_all;     // every allocation an alloc node made, by address
std::map<uint64_t, std::shared_ptr<GraphMem>> g_held;  // live or still in the allocation table

void note_high(DeviceGraphMem& d) {
  d.used_high = std::max(d.used_high, d.used);
  d.reserved_high = std::max(d.reserved_high, d.used + d.cached);
}

// Physical bytes for an allocation of `device`: the allocator's own first,
// then the device's (*from_cache: how much came from the allocator's own).
// False (nothing taken) when the device is full.
bool take_physical(int device, uint64_t bytes, uint64_t* from_cache) {
  DeviceGraphMem& d = g_dev[device];
  *from_cache = std::min(d.cached, bytes);
  if (bytes > *from_cache && !reserve_device_memory(device, bytes - *from_cache)) return false;
  d.cached -= *from_cache;
  return true;
}

// Undoes take_physical.
void give_back_physical(int device, uint64_t bytes, uint64_t from_cache) {
  g_dev[device].cached += from_cache;
  release_device_memory(device, bytes - from_cache);
}

// Makes `m` accessible (allocation table) and counts it; `ctx` is the launch's
// context (its teardown frees the allocation). REQUIRES: graph_mem_mu, physical bytes taken.
void enter_table(const std::shared_ptr<GraphMem>& m, Context* ctx) {
  Alloc a;
  a.ctx = ctx;
  a.base = m->base;
  a.size = m->bytes;
  a.kind = AllocKind::Device;
  a.device = m->device;
  a.graph_mem = true;
  allocs().insert(a);
  m->in_table = true;
  g_held[m->base] = m;
  g_dev[m->device].used += m->reserved;
  note_high(g_dev[m->device]);
}

// Removes `m` from the allocation table; its bytes stay with the graph allocator. REQUIRES: graph_mem_mu.
void leave_table(GraphMem* m) {
  allocs().remove(m->base);
  m->in_table = false;
  DeviceGraphMem& d = g_dev[m->device];
  d.used -= std::min(d.used, m->reserved);
  d.cached += m->reserved;
  if (!m->live) g_held.erase(m->base);  // may destroy m (recursive mutex: its destructor locks again)
}

// The live allocation at exactly `base`, or nullptr. REQUIRES: graph_mem_mu.
std::shared_ptr<GraphMem> held_at(uint64_t base) {
  auto it = g_held.find(base);
  return it == g_held.end() ? nullptr : it->second;
}

bool is_mem_node(const GraphNode& n) {
  return n.type == CU_GRAPH_NODE_TYPE_MEM_ALLOC || n.type == CU_GRAPH_NODE_TYPE_MEM_FREE;
}

}  // namespace

std::recursive_mutex& graph_mem_mu() {
  static auto* mu = new std::recursive_mutex();  // leaked: usable during exit
  return *mu;
}

GraphMem::~GraphMem() {
  std::lock_guard lock(graph_mem_mu());
  g_all.erase(base);  // no other allocation has this address until the storage is freed below
  storage_free(base, bytes, mmapped);
}

CUresult graph_mem_make_alloc(Graph* g, const CUmemPoolProps& props, const CUmemAccessDesc* access,
                              size_t access_count, size_t bytes, GraphNode* out) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (props.allocType != CU_MEM_ALLOCATION_TYPE_PINNED || props.location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  Device* dev = device(props.location.id);
  if (dev == nullptr || props.location.id >= kMaxGraphMemDevices) return CUDA_ERROR_INVALID_VALUE;
  if (props.handleTypes != CU_MEM_HANDLE_TYPE_NONE) return CUDA_ERROR_INVALID_VALUE;  // IPC is not supported
  if (access_count > 0 && access == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (access_count > runtime().devices.size()) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < access_count; ++i) {
    if (access[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || device(access[i].location.id) == nullptr) {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  const uint64_t reserved = round_up(bytes, 256);
  if (reserved > dev->total_mem) {
    log().info("cuGraphAddMemAllocNode: {} bytes exceed device {}'s {} bytes", bytes, props.location.id,
               dev->total_mem);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  auto m = std::make_shared<GraphMem>();
  m->base = storage_alloc(bytes, &m->mmapped);  // the address, fixed for the node's lifetime
  if (m->base == 0) return CUDA_ERROR_OUT_OF_MEMORY;
  m->bytes = bytes;
  m->reserved = reserved;
  m->device = props.location.id;
  m->props = props;
  m->access.assign(access, access + access_count);
  if (!g->mem_owner) g->mem_owner = std::make_shared<GraphMemOwner>();
  m->owner = g->mem_owner;
  {
    std::lock_guard lock(graph_mem_mu());
    g_all[m->base] = m;
  }
  out->type = CU_GRAPH_NODE_TYPE_MEM_ALLOC;
  out->mem = std::move(m);
  return CUDA_SUCCESS;
}

CUresult graph_mem_make_free(Graph* g, CUdeviceptr dptr, GraphNode* out) {
  std::shared_ptr<GraphMem> m;
  {
    std::lock_guard lock(graph_mem_mu());
    auto it = g_all.find(dptr);
    if (it != g_all.end()) m = it->second.lock();
  }
  if (!m) {
    log().info("cuGraphAddMemFreeNode: {:#x} is not an address a memory allocation node returned", dptr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const bool own_graph = g->mem_owner != nullptr && m->owner.lock() == g->mem_owner;
  for (const auto& n : g->nodes) {
    if (n->type == CU_GRAPH_NODE_TYPE_MEM_FREE && n->mem && n->mem->base == dptr) {
      log().info("cuGraphAddMemFreeNode: {:#x} is already freed in this graph", dptr);
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  if (own_graph ? m->freed_elsewhere : m->freed_in_owner) {
    log().info("cuGraphAddMemFreeNode: {:#x} is freed in {} already; an allocation is freed either in its own "
               "graph or in other graphs", dptr, own_graph ? "another graph" : "its own graph");
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!g->mem_owner) g->mem_owner = std::make_shared<GraphMemOwner>();
  out->type = CU_GRAPH_NODE_TYPE_MEM_FREE;
  out->mem = std::move(m);
  return CUDA_SUCCESS;
}

void graph_mem_commit_free(Graph* g, GraphMem* m) {
  const bool own_graph = g->mem_owner != nullptr && m->owner.lock() == g->mem_owner;
  (own_graph ? m->freed_in_owner : m->freed_elsewhere) = true;
}

CUresult graph_mem_instantiate_check(const Graph& g) {
  if (g.mem_owner && g.mem_owner->execs > 0) {
    log().info("cuGraphInstantiate: a graph with memory nodes has an executable graph already; destroy it first");
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

void graph_mem_instantiated(Graph* g, GraphExec* e) {
  if (!g->mem_owner) return;
  e->mem_owner = g->mem_owner;
  ++e->mem_owner->execs;
}

void graph_mem_exec_destroyed(GraphExec* e) {
  if (e->mem_owner) --e->mem_owner->execs;
  e->mem_owner.reset();
}

bool graph_mem_update_ok(const Graph& exec_graph, const Graph& src) {
  if (exec_graph.nodes.size() != src.nodes.size()) return false;
  for (size_t i = 0; i < src.nodes.size(); ++i) {
    const GraphNode& x = *exec_graph.nodes[i];
    const GraphNode& y = *src.nodes[i];
    if ((is_mem_node(x) || is_mem_node(y)) && x.mem != y.mem) return false;
  }
  return true;
}

CUresult graph_mem_launch(GraphExec* e, Context* ctx, std::map<const GraphMem*, uint64_t>* gens) {
  std::lock_guard lock(graph_mem_mu());
  const bool auto_free = (e->flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH) != 0;
  std::set<const GraphMem*> allocated_here;
  std::vector<std::shared_ptr<GraphMem>> need;  // allocations to make (not in the table)
  for (const GraphNode* n : e->order) {
    if (n->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) {
      const auto& m = n->mem;
      if (m->live && !auto_free) {
        log().info("cuGraphLaunch: the allocation {:#x} of an earlier launch is not freed (instantiate with "
                   "CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH to free it at each launch)", m->base);
        return CUDA_ERROR_INVALID_VALUE;
      }
      allocated_here.insert(m.get());
      if (!m->in_table) need.push_back(m);
    } else if (n->type == CU_GRAPH_NODE_TYPE_MEM_FREE) {
      const auto& m = n->mem;
      if (!allocated_here.count(m.get()) && !m->live) {
        log().info("cuGraphLaunch: a free node names {:#x}, which is not allocated", m->base);
        return CUDA_ERROR_INVALID_VALUE;
      }
    }
  }
  std::vector<uint64_t> from_cache(need.size(), 0);
  for (size_t i = 0; i < need.size(); ++i) {
    if (!take_physical(need[i]->device, need[i]->reserved, &from_cache[i])) {
      for (size_t j = 0; j < i; ++j) give_back_physical(need[j]->device, need[j]->reserved, from_cache[j]);
      log().info("cuGraphLaunch: device {} has no room for a {}-byte graph allocation", need[i]->device,
                 need[i]->bytes);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
  }
  for (const auto& m : need) enter_table(m, ctx);
  for (const GraphNode* n : e->order) {
    const auto& m = n->mem;
    if (n->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) {
      m->live = true;  // with AUTO_FREE_ON_LAUNCH a still-live one is freed and made again: the same bytes
      ++m->gen;
      g_held[m->base] = m;
    } else if (n->type == CU_GRAPH_NODE_TYPE_MEM_FREE) {
      m->live = false;
      (*gens)[m.get()] = m->gen;
    }
  }
  return CUDA_SUCCESS;
}

bool graph_mem_reserved(uint64_t addr, uint64_t len) {
  std::lock_guard lock(graph_mem_mu());
  auto it = g_all.upper_bound(addr);
  if (it == g_all.begin()) return false;
  --it;
  auto m = it->second.lock();
  if (!m) return false;
  const uint64_t off = addr - m->base;
  return off < m->bytes && len <= m->bytes - off;
}

Task graph_mem_free_task(std::shared_ptr<GraphMem> m, std::shared_ptr<std::map<const GraphMem*, uint64_t>> gens) {
  return [m = std::move(m), gens = std::move(gens)] {
    std::lock_guard lock(graph_mem_mu());
    auto it = gens->find(m.get());
    if (it != gens->end() && m->in_table && !m->live && m->gen == it->second) leave_table(m.get());
  };
}

namespace {

// The live allocation at `base` that a free outside its graph may free. REQUIRES: graph_mem_mu.
std::shared_ptr<GraphMem> freeable(uint64_t base, const char* what) {
  auto m = held_at(base);
  if (!m || !m->live) {
    log().info("{}: the graph allocation {:#x} is not allocated", what, base);
    return nullptr;
  }
  if (m->freed_in_owner) {
    log().info("{}: {:#x} is freed by its own graph and cannot be freed outside it", what, base);
    return nullptr;
  }
  return m;
}

}  // namespace

CUresult graph_mem_free_now(uint64_t base) {
  std::lock_guard lock(graph_mem_mu());
  auto m = freeable(base, "cuMemFree");
  if (!m) return CUDA_ERROR_INVALID_VALUE;
  m->live = false;
  if (m->in_table) leave_table(m.get());
  return CUDA_SUCCESS;
}

CUresult graph_mem_free_async(uint64_t base, const std::shared_ptr<Stream>& s) {
  std::shared_ptr<GraphMem> m;
  uint64_t gen = 0;
  {
    std::lock_guard lock(graph_mem_mu());
    m = freeable(base, "cuMemFreeAsync");
    if (!m) return CUDA_ERROR_INVALID_VALUE;
    m->live = false;
    gen = m->gen;
  }
  submit(s, [m, gen] {
    std::lock_guard lock(graph_mem_mu());
    if (m->in_table && !m->live && m->gen == gen) leave_table(m.get());
  });
  return CUDA_SUCCESS;
}

CUresult graph_mem_capture_alloc(const std::shared_ptr<Stream>& s, size_t bytes, const CUmemPoolProps& props,
                                 CUdeviceptr* out) {
  auto node = std::make_unique<GraphNode>();
  {
    std::lock_guard lock(graph_mu());
    Graph* g = s->cap ? s->cap->graph : nullptr;
    if (g == nullptr) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (CUresult r = graph_mem_make_alloc(g, props, nullptr, 0, bytes, node.get()); r != CUDA_SUCCESS) return r;
  }
  const CUdeviceptr p = node->mem->base;
  if (CUresult r = capture_add(s, std::move(node)); r != CUDA_SUCCESS) return r;
  *out = p;
  return CUDA_SUCCESS;
}

CUresult graph_mem_capture_free(const std::shared_ptr<Stream>& s, CUdeviceptr dptr) {
  auto node = std::make_unique<GraphNode>();
  Graph* g = nullptr;
  {
    std::lock_guard lock(graph_mu());
    g = s->cap ? s->cap->graph : nullptr;
    if (g == nullptr) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (CUresult r = graph_mem_make_free(g, dptr, node.get()); r != CUDA_SUCCESS) return r;
  }
  std::shared_ptr<GraphMem> m = node->mem;
  if (CUresult r = capture_add(s, std::move(node)); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  if (lookup<Graph>(g) != nullptr) graph_mem_commit_free(g, m.get());  // the capture's graph, unless already gone
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

// Adds `proto` to graph `hg` after `deps` (checked); a free node's rule flags are set once it is in.
CUresult add_mem_node(CUgraphNode* ph, CUgraph hg, const CUgraphNode* deps, size_t n,
                      const std::function<CUresult(Graph*, GraphNode*)>& make) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (ph == nullptr || hg == nullptr || (n > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(hg);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<GraphNode*> dv;
  for (size_t i = 0; i < n; ++i) {
    GraphNode* d = lookup<GraphNode>(deps[i]);
    if (d == nullptr || d->graph != g || std::find(dv.begin(), dv.end(), d) != dv.end()) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    dv.push_back(d);
  }
  auto proto = std::make_unique<GraphNode>();
  if (CUresult r = make(g, proto.get()); r != CUDA_SUCCESS) return r;
  GraphNode* node = graph_add(g, std::move(proto), dv);
  if (node->type == CU_GRAPH_NODE_TYPE_MEM_FREE) graph_mem_commit_free(g, node->mem.get());
  *ph = reinterpret_cast<CUgraphNode>(node);
  return CUDA_SUCCESS;
}

CUresult alloc_node(CUgraphNode* ph, CUgraph hg, const CUgraphNode* deps, size_t n, const CUmemPoolProps& props,
                    const CUmemAccessDesc* access, size_t access_count, size_t bytes, CUdeviceptr* dptr_out) {
  CUresult r = add_mem_node(ph, hg, deps, n, [&](Graph* g, GraphNode* out) {
    return graph_mem_make_alloc(g, props, access, access_count, bytes, out);
  });
  if (r == CUDA_SUCCESS) *dptr_out = reinterpret_cast<GraphNode*>(*ph)->mem->base;
  return r;
}

CUresult free_node(CUgraphNode* ph, CUgraph hg, const CUgraphNode* deps, size_t n, CUdeviceptr dptr) {
  return add_mem_node(ph, hg, deps, n, [&](Graph* g, GraphNode* out) { return graph_mem_make_free(g, dptr, out); });
}

}  // namespace

namespace gpool::emu::rt {

CUresult graph_mem_add_node(CUgraphNode* ph, CUgraph hg, const CUgraphNode* deps, size_t n,
                            CUgraphNodeParams* p) {
  if (p->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) {
    return alloc_node(ph, hg, deps, n, p->alloc.poolProps, p->alloc.accessDescs, p->alloc.accessDescCount,
                      p->alloc.bytesize, &p->alloc.dptr);
  }
  return free_node(ph, hg, deps, n, p->free.dptr);
}

}  // namespace gpool::emu::rt

extern "C" CUresult gpool_impl_cuGraphAddMemAllocNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                      const CUgraphNode* dependencies, size_t numDependencies,
                                                      CUDA_MEM_ALLOC_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return alloc_node(phGraphNode, hGraph, dependencies, numDependencies, nodeParams->poolProps,
                    nodeParams->accessDescs, nodeParams->accessDescCount, nodeParams->bytesize, &nodeParams->dptr);
}

extern "C" CUresult gpool_impl_cuGraphAddMemFreeNode(CUgraphNode* phGraphNode, CUgraph hGraph,
                                                     const CUgraphNode* dependencies, size_t numDependencies,
                                                     CUdeviceptr dptr) {
  return free_node(phGraphNode, hGraph, dependencies, numDependencies, dptr);
}

extern "C" CUresult gpool_impl_cuGraphMemAllocNodeGetParams(CUgraphNode hNode, CUDA_MEM_ALLOC_NODE_PARAMS* params_out) {
  if (params_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = lookup<GraphNode>(hNode);
  if (n == nullptr || n->type != CU_GRAPH_NODE_TYPE_MEM_ALLOC || !n->mem) return CUDA_ERROR_INVALID_VALUE;
  const GraphMem& m = *n->mem;
  *params_out = CUDA_MEM_ALLOC_NODE_PARAMS{};
  params_out->poolProps = m.props;
  params_out->accessDescs = m.access.empty() ? nullptr : m.access.data();  // owned by the node
  params_out->accessDescCount = m.access.size();
  params_out->bytesize = m.bytes;
  params_out->dptr = m.base;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphMemFreeNodeGetParams(CUgraphNode hNode, CUdeviceptr* dptr_out) {
  if (dptr_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  GraphNode* n = lookup<GraphNode>(hNode);
  if (n == nullptr || n->type != CU_GRAPH_NODE_TYPE_MEM_FREE || !n->mem) return CUDA_ERROR_INVALID_VALUE;
  *dptr_out = n->mem->base;
  return CUDA_SUCCESS;
}

// Freed graph memory is kept by the graph allocator until trimmed; live
// allocations are never released by a trim.
extern "C" CUresult gpool_impl_cuDeviceGraphMemTrim(CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr || dev >= kMaxGraphMemDevices) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard lock(graph_mem_mu());
  DeviceGraphMem& d = g_dev[dev];
  release_device_memory(dev, d.cached);
  d.cached = 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void* value) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr || dev >= kMaxGraphMemDevices) return CUDA_ERROR_INVALID_DEVICE;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mem_mu());
  const DeviceGraphMem& d = g_dev[dev];
  cuuint64_t v = 0;
  switch (attr) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT: v = d.used; break;
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: v = d.used_high; break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT: v = d.used + d.cached; break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: v = d.reserved_high; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  *static_cast<cuuint64_t*>(value) = v;
  return CUDA_SUCCESS;
}

// Only the high watermarks can be set, and only to 0 (a reset to the current value).
extern "C" CUresult gpool_impl_cuDeviceSetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void* value) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr || dev >= kMaxGraphMemDevices) return CUDA_ERROR_INVALID_DEVICE;
  if (value == nullptr || *static_cast<const cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mem_mu());
  DeviceGraphMem& d = g_dev[dev];
  switch (attr) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: d.used_high = d.used; break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: d.reserved_high = d.used + d.cached; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
