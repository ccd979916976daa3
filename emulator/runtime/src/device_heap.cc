// HeapArena: first-fit allocation over a sorted free list with coalescing on
// release. Blocks are rounded up to 16 bytes (malloc's alignment on a GPU).
#include "device_heap.h"

#include <iterator>

namespace gpool::emu::rt {

HeapArena::HeapArena(uint64_t base, uint64_t bytes) : base_(base), bytes_(bytes / kAlign * kAlign) {
  if (bytes_ > 0) free_[0] = bytes_;
}

uint64_t HeapArena::allocate(uint64_t bytes) {
  if (bytes == 0 || bytes > bytes_) return 0;
  const uint64_t need = (bytes + kAlign - 1) / kAlign * kAlign;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const uint64_t off = it->first;
    const uint64_t rest = it->second - need;
    free_.erase(it);
    if (rest > 0) free_[off + need] = rest;
    live_[off] = need;
    return base_ + off;
  }
  return 0;
}

bool HeapArena::release(uint64_t addr) {
  if (addr < base_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto live = live_.find(addr - base_);
  if (live == live_.end()) return false;
  uint64_t off = live->first;
  uint64_t size = live->second;
  live_.erase(live);
  auto next = free_.lower_bound(off);
  if (next != free_.end() && next->first == off + size) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += size;
      return true;
    }
  }
  free_[off] = size;
  return true;
}

}  // namespace gpool::emu::rt
