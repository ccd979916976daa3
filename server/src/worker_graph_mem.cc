// Worker: graph memory nodes for the session (calls.toml 380-382): allocation and free nodes
// added node by node or captured (cuMemAllocAsync / cuMemFreeAsync on a capturing stream), their
// parameters, cuDeviceGraphMemTrim and the graph-memory attributes.
//
// Quota (docs/architecture.md, "Graphs through the pool"): an allocation node reserves only an
// address; its memory is charged to the tenant when a launch makes it (GraphLaunch: every
// allocation node of the exec whose memory is not live yet), before the driver is asked (over
// the quota: CUDA_ERROR_OUT_OF_MEMORY, the launch's sticky error, nothing launched). The live
// allocation is then an ordinary entry of the session's allocation table, so copies and memsets
// pass the range checks and cuMemFree / cuMemFreeAsync free it (and return the charge) as any
// other. A free node in a launched exec removes the entry as a stream-ordered free does: the
// charge stays until the device's next synchronisation (settle_frees), which also trims the
// driver's graph memory so that nothing freed is kept on the device beyond the quota. A node
// larger than the tenant's whole quota is refused when it is added. What is still charged at
// the end of the session returns through the supervisor (session_table.h), as any allocation.
//
// Every node and graph id is looked up in the session's tables (worker_graph.cc) first; a free
// node may only name an address an allocation node of this session reserved (graph_mem_).
#include "worker.h"

#include "gpool/common/log.h"

#include <limits>

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }


}  // namespace

bool Worker::graph_mem_range_ok(CUdeviceptr p, uint64_t bytes) const {
  auto it = graph_mem_.upper_bound(p);
  if (it == graph_mem_.begin()) return false;
  --it;
  const uint64_t off = p - it->first;
  return off <= it->second.bytes && bytes <= it->second.bytes - off;
}

bool Worker::stream_capturing(CUstream s) {
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  return drv_.cuStreamIsCapturing(s, &status) == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE;
}

CUresult Worker::graph_mem_capture_alloc(Ctx& c, int device, uint64_t bytes,
                                         const std::function<CUresult(CUdeviceptr&)>& alloc) {
  if (bytes > tenant_total(device, std::numeric_limits<uint64_t>::max())) return CUDA_ERROR_OUT_OF_MEMORY;
  CUdeviceptr p = 0;
  const CUresult st = alloc(p);
  if (st != CUDA_SUCCESS) return st;
  graph_mem_[p] = GraphMemRange{bytes, device};
  graph_mem_seen_ = true;
  c.results = {p};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_mem_node(Ctx& c) {
  GraphAddMemNodeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t kind = a.kind;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode node = nullptr;  // the decoder checked the kind's fields (calls.toml variants.params)
  if (kind == 1) {  // free
    const CUdeviceptr p = a.free.dptr;
    if (graph_mem_.count(p) == 0) {
      logger().warn("session {}: free node for {:#x}, which no allocation node of this session returned",
                    params_.session_id, p);
      return CUDA_ERROR_INVALID_VALUE;
    }
    const CUresult st = drv_.cuGraphAddMemFreeNode(&node, g, deps.data(), deps.size(), p);
    if (st == CUDA_SUCCESS) c.results = {node_id(node)};
    return st;
  }
  // alloc: device index, bytes, k (device index, flags) pairs
  const uint64_t bytes = a.alloc.bytes, naccess = a.alloc.k;
  if (naccess > devices_.size()) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEM_ALLOC_NODE_PARAMS p{};
  p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  if (!vmm_device(a.alloc.device, p.poolProps.location)) return CUDA_ERROR_INVALID_DEVICE;
  std::vector<CUmemAccessDesc> access(naccess);
  for (uint64_t i = 0; i < naccess; ++i) {
    if (!vmm_device(a.alloc.access[2 * i], access[i].location)) return CUDA_ERROR_INVALID_DEVICE;
    access[i].flags = static_cast<CUmemAccess_flags>(a.alloc.access[2 * i + 1]);
  }
  p.accessDescs = access.empty() ? nullptr : access.data();
  p.accessDescCount = access.size();
  p.bytesize = bytes;
  const int device = p.poolProps.location.id;
  if (bytes > tenant_total(device, std::numeric_limits<uint64_t>::max())) {
    logger().info("session {}: a {}-byte graph allocation node exceeds tenant {}'s quota on device {}; refused "
                  "with CUDA_ERROR_OUT_OF_MEMORY", params_.session_id, bytes, params_.tenant, device);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  const CUresult st = drv_.cuGraphAddMemAllocNode(&node, g, deps.data(), deps.size(), &p);
  if (st != CUDA_SUCCESS) return st;
  graph_mem_[p.dptr] = GraphMemRange{bytes, device};
  graph_mem_seen_ = true;
  c.results = {node_id(node), p.dptr};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_mem_params(Ctx& c) {
  GraphMemNodeGetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
  if (CUresult st = drv_.cuGraphNodeGetType(n, &t); st != CUDA_SUCCESS) return st;
  auto index_of = [&](int physical) -> uint64_t {
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].physical == physical) return i;
    }
    return 0;
  };
  if (t == CU_GRAPH_NODE_TYPE_MEM_FREE) {
    CUdeviceptr p = 0;
    const CUresult st = drv_.cuGraphMemFreeNodeGetParams(n, &p);
    if (st == CUDA_SUCCESS) c.results = {static_cast<uint64_t>(t), p};
    return st;
  }
  if (t != CU_GRAPH_NODE_TYPE_MEM_ALLOC) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEM_ALLOC_NODE_PARAMS p{};
  if (CUresult st = drv_.cuGraphMemAllocNodeGetParams(n, &p); st != CUDA_SUCCESS) return st;
  c.results = {static_cast<uint64_t>(t), index_of(p.poolProps.location.id), p.bytesize, p.dptr, p.accessDescCount};
  for (size_t i = 0; i < p.accessDescCount && p.accessDescs != nullptr; ++i) {
    c.results.push_back(index_of(p.accessDescs[i].location.id));
    c.results.push_back(static_cast<uint64_t>(p.accessDescs[i].flags));
  }
  return CUDA_SUCCESS;
}

CUresult Worker::op_device_graph_mem(Ctx& c) {
  DeviceGraphMemArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t index = a.device, what = a.what;
  if (index >= devices_.size()) return CUDA_ERROR_INVALID_DEVICE;
  const CUdevice dev = devices_[index].dev;
  const auto attr = static_cast<CUgraphMem_attribute>(a.attribute);
  switch (what) {
    case 0: return drv_.cuDeviceGraphMemTrim(dev);
    case 1: {
      cuuint64_t v = 0;
      const CUresult st = drv_.cuDeviceGetGraphMemAttribute(dev, attr, &v);
      if (st == CUDA_SUCCESS) c.results = {v};
      return st;
    }
    case 2: {
      cuuint64_t v = a.value;
      return drv_.cuDeviceSetGraphMemAttribute(dev, attr, &v);
    }
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

void Worker::graph_mem_instantiated(uint64_t exec_id, const std::vector<CUgraphNode>& nodes, unsigned long long) {
  GraphExecMem m;
  for (CUgraphNode n : nodes) {
    CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
    if (drv_.cuGraphNodeGetType(n, &t) != CUDA_SUCCESS) continue;
    if (t == CU_GRAPH_NODE_TYPE_MEM_ALLOC) {
      CUDA_MEM_ALLOC_NODE_PARAMS p{};
      if (drv_.cuGraphMemAllocNodeGetParams(n, &p) == CUDA_SUCCESS && graph_mem_.count(p.dptr)) m.allocs.push_back(p.dptr);
    } else if (t == CU_GRAPH_NODE_TYPE_MEM_FREE) {
      CUdeviceptr p = 0;
      if (drv_.cuGraphMemFreeNodeGetParams(n, &p) == CUDA_SUCCESS) m.frees.push_back(p);
    }
  }
  if (!m.allocs.empty() || !m.frees.empty()) graph_exec_mem_[exec_id] = std::move(m);
}

CUresult Worker::graph_mem_before_launch(uint64_t exec_id, std::vector<CUdeviceptr>& charged) {
  auto it = graph_exec_mem_.find(exec_id);
  if (it == graph_exec_mem_.end()) return CUDA_SUCCESS;
  for (CUdeviceptr p : it->second.allocs) {
    if (allocs_.find(p) != nullptr) continue;  // still live (AUTO_FREE_ON_LAUNCH reuses it; else the driver refuses)
    const GraphMemRange& r = graph_mem_.at(p);
    if (!charge(r.device, r.bytes)) {
      for (CUdeviceptr q : charged) uncharge(graph_mem_.at(q).device, graph_mem_.at(q).bytes);
      charged.clear();
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    charged.push_back(p);
  }
  return CUDA_SUCCESS;
}

void Worker::graph_mem_after_launch(uint64_t exec_id, const std::vector<CUdeviceptr>& charged, bool ok) {
  if (!ok) {
    for (CUdeviceptr q : charged) uncharge(graph_mem_.at(q).device, graph_mem_.at(q).bytes);
    return;
  }
  for (CUdeviceptr q : charged) record_allocation(q, graph_mem_.at(q).bytes, graph_mem_.at(q).device);
  auto it = graph_exec_mem_.find(exec_id);
  if (it == graph_exec_mem_.end()) return;
  for (CUdeviceptr p : it->second.frees) {
    if (allocs_.find(p) != nullptr) forget_allocation(p, true);
  }
}

}  // namespace gpool::server
