// Shim: graph memory nodes (calls.toml 380-382, server/src/worker_graph_mem.cc):
// cuGraphAddMemAllocNode, cuGraphAddMemFreeNode, their parameter queries, cuDeviceGraphMemTrim
// and cuDevice{Get,Set}GraphMemAttribute. Captured allocations (cuMemAllocAsync /
// cuMemFreeAsync on a capturing stream) are the ordinary forwarded calls (memory.cc); the
// server's backend records them as nodes.
//
// The address an allocation node returns is recorded as a known device range that no free
// removes (the address stays reserved for the node while its memory comes and goes with the
// launches), so unified-address copies and cuMemFreeAsync/cuMemFree recognise it. The memory is
// charged to the tenant's quota by the server when a launch makes it.
//
// A graph lives on the server of the calling thread's current device: an allocation on (or
// access for) a device of another server is refused with CUDA_ERROR_NOT_SUPPORTED, logged.
//
// Thread safety: every entry point may be called from any thread; the access descriptors
// cuGraphMemAllocNodeGetParams returns are kept per node until the process ends (a later query
// of the same node reuses them).
#include <map>
#include <mutex>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

spdlog::logger& logger() { return gpool::log::logger("shim"); }

uint64_t id_of(const void* h) { return reinterpret_cast<uint64_t>(h); }

// The client's ordinal of the routed session's server ordinal `local`, or -1.
int global_device(uint64_t local) {
  Session* routed = &Session::instance();
  for (int d = 0; d < Pool::global().device_count(); ++d) {
    Session* s = nullptr;
    uint64_t l = 0;
    if (Pool::global().locate(d, s, l) == CUDA_SUCCESS && s == routed && l == local) return d;
  }
  return -1;
}

// Access descriptors reported by cuGraphMemAllocNodeGetParams, per node id.
std::mutex g_mu;
std::map<uint64_t, std::vector<CUmemAccessDesc>>& access_storage() {
  static auto* m = new std::map<uint64_t, std::vector<CUmemAccessDesc>>();  // leaked: usable during exit
  return *m;
}

CUresult add_mem_node(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, std::vector<uint64_t> extra,
                      Reply& r) {
  if (out == nullptr || g == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint64_t> args = {id_of(g), extra[0], ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(id_of(deps[i]));
  args.insert(args.end(), extra.begin() + 1, extra.end());
  if (CUresult st = Session::instance().sync(Op::GraphAddMemNode, args, {}, {}, {}, &r); st != CUDA_SUCCESS) return st;
  if (r.results.empty()) return CUDA_ERROR_UNKNOWN;
  *out = reinterpret_cast<CUgraphNode>(r.results[0]);
  return CUDA_SUCCESS;
}

// Sends DeviceGraphMem for client device `dev`.
CUresult device_graph_mem(CUdevice dev, uint64_t what, uint64_t attr, uint64_t value, Reply* r) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session* s = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(dev, s, local); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {local, what, attr, value};
  return s->sync(Op::DeviceGraphMem, args, {}, {}, {}, r);
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphAddMemAllocNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                      size_t ndeps, CUDA_MEM_ALLOC_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const CUmemPoolProps& props = p->poolProps;
  if (props.allocType != CU_MEM_ALLOCATION_TYPE_PINNED || props.location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
      props.handleTypes != CU_MEM_HANDLE_TYPE_NONE || p->bytesize == 0 ||
      (p->accessDescCount > 0 && p->accessDescs == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  Session* s = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(props.location.id, s, local); st != CUDA_SUCCESS) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (s != &Session::instance()) {
    logger().warn("cuGraphAddMemAllocNode: device {} is on another gpool server than the graph; returning "
                  "CUDA_ERROR_NOT_SUPPORTED", props.location.id);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  std::vector<uint64_t> extra = {0, local, p->bytesize, p->accessDescCount};
  if (CUresult st = Pool::global().append_access(p->accessDescs, p->accessDescCount, s, "cuGraphAddMemAllocNode",
                                                 CUDA_ERROR_INVALID_VALUE, extra);
      st != CUDA_SUCCESS) {
    return st;
  }
  Reply r;
  if (CUresult st = add_mem_node(out, g, deps, ndeps, std::move(extra), r); st != CUDA_SUCCESS) return st;
  if (r.results.size() < 2) return CUDA_ERROR_UNKNOWN;
  p->dptr = r.results[1];
  add_device_range(p->dptr, p->bytesize, false);  // reserved for the node: no free removes it
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphAddMemFreeNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                     size_t ndeps, CUdeviceptr dptr) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Reply r;
  return add_mem_node(out, g, deps, ndeps, {1, dptr}, r);
}

extern "C" CUresult gpool_impl_cuGraphMemAllocNodeGetParams(CUgraphNode node, CUDA_MEM_ALLOC_NODE_PARAMS* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphMemNodeGetParams, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.empty() || r.results[0] != CU_GRAPH_NODE_TYPE_MEM_ALLOC) return CUDA_ERROR_INVALID_VALUE;
  if (r.results.size() < 5 || r.results.size() != 5 + 2 * r.results[4]) return CUDA_ERROR_UNKNOWN;
  const int dev = global_device(r.results[1]);
  if (dev < 0) return CUDA_ERROR_UNKNOWN;
  std::vector<CUmemAccessDesc> access(r.results[4]);
  for (size_t i = 0; i < access.size(); ++i) {
    access[i].location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    access[i].location.id = global_device(r.results[5 + 2 * i]);
    access[i].flags = static_cast<CUmemAccess_flags>(r.results[6 + 2 * i]);
  }
  *out = CUDA_MEM_ALLOC_NODE_PARAMS{};
  out->poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  out->poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  out->poolProps.location.id = dev;
  out->bytesize = r.results[2];
  out->dptr = r.results[3];
  out->accessDescCount = access.size();
  std::lock_guard<std::mutex> lock(g_mu);
  auto& kept = access_storage()[id_of(node)];
  kept = std::move(access);
  out->accessDescs = kept.empty() ? nullptr : kept.data();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphMemFreeNodeGetParams(CUgraphNode node, CUdeviceptr* dptr_out) {
  if (dptr_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphMemNodeGetParams, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.empty() || r.results[0] != CU_GRAPH_NODE_TYPE_MEM_FREE) return CUDA_ERROR_INVALID_VALUE;
  if (r.results.size() != 2) return CUDA_ERROR_UNKNOWN;
  *dptr_out = r.results[1];
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGraphMemTrim(CUdevice dev) { return device_graph_mem(dev, 0, 0, 0, nullptr); }

extern "C" CUresult gpool_impl_cuDeviceGetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Reply r;
  if (CUresult st = device_graph_mem(dev, 1, static_cast<uint64_t>(attr), 0, &r); st != CUDA_SUCCESS) return st;
  if (r.results.size() != 1) return CUDA_ERROR_UNKNOWN;
  *static_cast<cuuint64_t*>(value) = r.results[0];
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceSetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return device_graph_mem(dev, 2, static_cast<uint64_t>(attr), *static_cast<const cuuint64_t*>(value), nullptr);
}
