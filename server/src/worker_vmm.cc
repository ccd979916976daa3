// Worker: virtual memory management (cuMemAddressReserve, cuMemCreate, cuMemMap, cuMemSetAccess,
// cuMemUnmap, cuMemRelease, cuMemAddressFree) for the session, with the tenant's quota.
//
// The session's own tables decide what it may touch, before the driver is asked:
//   reservations  address ranges this session reserved (MemMap/MemUnmap/MemAddressFree must
//                 fall inside one of them);
//   handles       physical allocations this session created (MemMap and MemRelease take only
//                 these);
//   mappings      what is mapped where; those with READWRITE access join range_ok(), so copies
//                 and memsets may use them, also across mappings that lie back to back.
// Quota: MemCreate charges the tenant on the handle's device before the driver call (over
// quota: OUT_OF_MEMORY). The bytes return when the physical memory really goes away: the handle
// released and its last mapping unmapped (as CUDA frees it). A worker that dies returns every
// byte through the supervisor (session_table.h).
#include "worker.h"

#include <algorithm>

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

// The entry of `m` whose range [first, first + size) contains p, or m.end().
template <typename Map, typename SizeOf>
typename Map::const_iterator containing(const Map& m, CUdeviceptr p, SizeOf size_of) {
  auto it = m.upper_bound(p);
  if (it == m.begin()) return m.end();
  --it;
  return p - it->first < size_of(it->second) ? it : m.end();
}

}  // namespace

bool Worker::vmm_device(uint64_t index, CUmemLocation& out) const {
  if (index >= devices_.size()) return false;
  out.type = CU_MEM_LOCATION_TYPE_DEVICE;
  out.id = devices_[index].physical;
  return true;
}

bool Worker::vmm_range_ok(CUdeviceptr p, uint64_t bytes) const {
  // Walks mappings that lie back to back from the one holding p; all must be READWRITE.
  auto it = containing(vmm_maps_, p, [](const VmmMapping& m) { return m.size; });
  if (it == vmm_maps_.end()) return false;
  const CUdeviceptr end = p + bytes;
  if (end < p) return false;
  for (;;) {
    if (!it->second.accessible) return false;
    const CUdeviceptr map_end = it->first + it->second.size;
    if (end <= map_end) return true;
    auto next = std::next(it);
    if (next == vmm_maps_.end() || next->first != map_end) return false;
    it = next;
  }
}

bool Worker::vmm_mapped(uint64_t handle) const {
  return std::any_of(vmm_maps_.begin(), vmm_maps_.end(),
                     [&](const auto& m) { return m.second.handle == handle; });
}

void Worker::vmm_free_physical(std::map<uint64_t, VmmHandle>::iterator it) {
  bytes_held_ -= it->second.size;
  slot_.bytes_held.store(bytes_held_);
  uncharge(it->second.device, it->second.size);
  vmm_handles_.erase(it);
}

CUresult Worker::op_mem_granularity(Ctx& c) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  if (!vmm_device(c.arg(0), prop.location)) return CUDA_ERROR_INVALID_DEVICE;
  size_t g = 0;
  const CUresult st = drv_.cuMemGetAllocationGranularity(
      &g, &prop, static_cast<CUmemAllocationGranularity_flags>(c.arg(1)));
  if (st == CUDA_SUCCESS) c.results = {g};
  return st;
}

CUresult Worker::op_mem_address_reserve(Ctx& c) {
  const uint64_t size = c.arg(0), alignment = c.arg(1), flags = c.arg(2);
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr p = 0;
  const CUresult st = drv_.cuMemAddressReserve(&p, size, alignment, 0, flags);
  if (st != CUDA_SUCCESS) return st;
  vmm_reserved_[p] = size;
  c.results = {p};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_address_free(Ctx& c) {
  const CUdeviceptr p = c.arg(0);
  const uint64_t size = c.arg(1);
  auto r = vmm_reserved_.find(p);
  if (r == vmm_reserved_.end() || r->second != size) {
    logger().warn("session {}: address free of [{:#x}, +{}), which is not a reservation of this "
                  "session", params_.session_id, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto m = vmm_maps_.lower_bound(p);
  if (m != vmm_maps_.end() && m->first < p + size) return CUDA_ERROR_INVALID_VALUE;  // still mapped
  const CUresult st = drv_.cuMemAddressFree(p, size);
  if (st == CUDA_SUCCESS) vmm_reserved_.erase(r);
  return st;
}

CUresult Worker::op_mem_create(Ctx& c) {
  const uint64_t size = c.arg(0);
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  if (!vmm_device(c.arg(1), prop.location)) return CUDA_ERROR_INVALID_DEVICE;
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  const int device = prop.location.id;
  if (!charge(device, size)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUmemGenericAllocationHandle h = 0;
  const CUresult st = drv_.cuMemCreate(&h, size, &prop, 0);
  if (st != CUDA_SUCCESS) {
    uncharge(device, size);
    return st;
  }
  vmm_handles_[h] = VmmHandle{size, device, false};
  bytes_held_ += size;
  slot_.bytes_held.store(bytes_held_);
  c.results = {h};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_release(Ctx& c) {
  auto it = vmm_handles_.find(c.arg(0));
  if (it == vmm_handles_.end() || it->second.released) {
    logger().warn("session {}: release of allocation handle {:#x}, which this session does not "
                  "hold", params_.session_id, c.arg(0));
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemRelease(it->first);
  if (st != CUDA_SUCCESS) return st;
  it->second.released = true;
  if (!vmm_mapped(it->first)) vmm_free_physical(it);
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_map(Ctx& c) {
  const CUdeviceptr p = c.arg(0);
  const uint64_t size = c.arg(1), offset = c.arg(2), handle = c.arg(3);
  auto r = containing(vmm_reserved_, p, [](uint64_t s) { return s; });
  auto h = vmm_handles_.find(handle);
  if (r == vmm_reserved_.end() || size == 0 || size > r->second - (p - r->first) ||
      h == vmm_handles_.end() || h->second.released) {
    logger().warn("session {}: map of handle {:#x} at [{:#x}, +{}) outside this session's "
                  "reservations or handles", params_.session_id, handle, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemMap(p, size, offset, handle, 0);
  if (st != CUDA_SUCCESS) return st;
  vmm_maps_[p] = VmmMapping{size, handle, false};
  return CUDA_SUCCESS;
}

// The mappings that tile [p, p + size) exactly, back to back, as iterators; empty when they do not.
std::vector<std::map<CUdeviceptr, Worker::VmmMapping>::iterator> Worker::vmm_whole_mappings(
    CUdeviceptr p, uint64_t size) {
  std::vector<std::map<CUdeviceptr, VmmMapping>::iterator> out;
  auto it = vmm_maps_.find(p);
  CUdeviceptr at = p;
  const CUdeviceptr end = p + size;
  while (size > 0 && end > p && it != vmm_maps_.end() && it->first == at && at < end) {
    out.push_back(it);
    at += it->second.size;
    ++it;
  }
  if (at != end) out.clear();
  return out;
}

CUresult Worker::op_mem_unmap(Ctx& c) {
  const CUdeviceptr p = c.arg(0);
  const uint64_t size = c.arg(1);
  auto maps = vmm_whole_mappings(p, size);
  if (maps.empty()) {
    logger().warn("session {}: unmap of [{:#x}, +{}), which is not whole mappings of this session",
                  params_.session_id, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemUnmap(p, size);
  if (st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> handles;
  for (auto m : maps) {
    handles.push_back(m->second.handle);
    vmm_maps_.erase(m);
  }
  for (uint64_t handle : handles) {
    auto h = vmm_handles_.find(handle);
    if (h != vmm_handles_.end() && h->second.released && !vmm_mapped(handle)) vmm_free_physical(h);
  }
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_set_access(Ctx& c) {
  const CUdeviceptr p = c.arg(0);
  const uint64_t size = c.arg(1);
  const size_t pairs = (c.arg_count() - 2) / 2;
  if (c.arg_count() < 4 || (c.arg_count() - 2) % 2 != 0 || pairs > devices_.size()) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto maps = vmm_whole_mappings(p, size);
  if (maps.empty()) {
    logger().warn("session {}: access change on [{:#x}, +{}), which is not whole mappings of this "
                  "session", params_.session_id, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::vector<CUmemAccessDesc> desc(pairs);
  bool readwrite = false;
  for (size_t i = 0; i < pairs; ++i) {
    if (!vmm_device(c.arg(2 + 2 * i), desc[i].location)) return CUDA_ERROR_INVALID_DEVICE;
    desc[i].flags = static_cast<CUmemAccess_flags>(c.arg(3 + 2 * i));
    if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE) readwrite = true;
  }
  const CUresult st = drv_.cuMemSetAccess(p, size, desc.data(), desc.size());
  if (st != CUDA_SUCCESS) return st;
  for (auto m : maps) m->second.accessible = readwrite;
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_get_access(Ctx& c) {
  CUmemLocation loc{};
  if (!vmm_device(c.arg(0), loc)) return CUDA_ERROR_INVALID_DEVICE;
  const CUdeviceptr p = c.arg(1);
  if (containing(vmm_reserved_, p, [](uint64_t s) { return s; }) == vmm_reserved_.end()) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  unsigned long long flags = 0;
  const CUresult st = drv_.cuMemGetAccess(&flags, &loc, p);
  if (st == CUDA_SUCCESS) c.results = {flags};
  return st;
}

}  // namespace gpool::server
