#include "allocation_table.h"

#include <algorithm>
#include <utility>

namespace gpool::server {
namespace {

template <typename Map>
bool inside(const Map& ranges, CUdeviceptr p, uint64_t bytes) {
  auto it = ranges.upper_bound(p);
  if (it == ranges.begin()) return false;
  --it;
  const uint64_t off = p - it->first;
  return off <= it->second.bytes && bytes <= it->second.bytes - off;
}

bool valid_device(int device) { return device >= 0 && device < kMaxDevices; }

}  // namespace

void AllocationTable::record(CUdeviceptr p, uint64_t bytes, int device, CUdeviceptr driver_base) {
  allocations_[p] = Allocation{bytes, device, driver_base != p ? driver_base : 0};
  quota_.hold(bytes);
  quota_.set_allocation_count(allocations_.size());
}

const AllocationTable::Allocation* AllocationTable::find(CUdeviceptr p) const {
  auto it = allocations_.find(p);
  return it == allocations_.end() ? nullptr : &it->second;
}

CUdeviceptr AllocationTable::driver_address(CUdeviceptr p) const {
  const Allocation* a = find(p);
  return a != nullptr && a->driver_base != 0 ? a->driver_base : p;
}

bool AllocationTable::forget(CUdeviceptr p, bool keep_charge) {
  auto it = allocations_.find(p);
  if (it == allocations_.end()) return false;
  const Allocation a = it->second;
  allocations_.erase(it);
  quota_.set_allocation_count(allocations_.size());
  if (keep_charge && valid_device(a.device)) {
    freeing_[static_cast<size_t>(a.device)] += a.bytes;  // still held until settle()
    return true;
  }
  quota_.release(a.bytes);
  quota_.uncharge(a.device, a.bytes);
  return true;
}

void AllocationTable::settle(int device) {
  if (!valid_device(device)) return;
  const uint64_t bytes = std::exchange(freeing_[static_cast<size_t>(device)], 0);
  if (bytes == 0) return;
  quota_.release(bytes);
  quota_.uncharge(device, bytes);
}

uint64_t AllocationTable::freeing(int device) const {
  return valid_device(device) ? freeing_[static_cast<size_t>(device)] : 0;
}

std::vector<CUdeviceptr> AllocationTable::drop_device(int device) {
  std::vector<CUdeviceptr> dropped;
  for (const auto& [p, a] : allocations_) {
    if (a.device == device) dropped.push_back(p);
  }
  for (CUdeviceptr p : dropped) forget(p);
  settle(device);
  return dropped;
}

void AllocationTable::add_global(CUdeviceptr p, uint64_t bytes, size_t device_index) {
  Global& g = globals_[p];
  g.bytes = std::max(g.bytes, bytes);
  g.device = device_index;
}

void AllocationTable::drop_globals(size_t device_index) {
  std::erase_if(globals_, [&](const auto& kv) { return kv.second.device == device_index; });
}

bool AllocationTable::contains(CUdeviceptr p, uint64_t bytes) const {
  return inside(allocations_, p, bytes) || inside(globals_, p, bytes);
}

}  // namespace gpool::server
