// The allocation table and the backing storage of device memory.
#include "alloc_table.h"

#include "runtime.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace gpool::emu::rt {

namespace {

// Per-thread last hit of accessible(): [base, end) valid while generation matches.
struct HitCache {
  uint64_t base = 0, end = 0, generation = 0;
};
thread_local HitCache t_hit;

constexpr uint64_t kMmapThreshold = 1ull << 20;

// Bytes in use per device. Plain atomics: no destructor runs at exit, when
// cudart's atexit handlers may still free memory.
constexpr int kMaxDevices = 16;
std::atomic<uint64_t> g_used[kMaxDevices];

}  // namespace

AllocTable& allocs() {
  static auto* t = new AllocTable();  // never destroyed: freed memory may be checked at exit
  return *t;
}

void AllocTable::insert(Alloc a) {
  std::unique_lock lock(mu_);
  a.buffer_id = next_buffer_id_++;
  map_[a.base] = a;
}

std::optional<Alloc> AllocTable::remove(uint64_t base) {
  std::unique_lock lock(mu_);
  auto it = map_.find(base);
  if (it == map_.end()) return std::nullopt;
  Alloc a = it->second;
  map_.erase(it);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return a;
}

void AllocTable::replace(const std::vector<uint64_t>& removed, std::vector<Alloc> inserted) {
  std::unique_lock lock(mu_);
  for (uint64_t base : removed) map_.erase(base);
  for (Alloc& a : inserted) {
    a.buffer_id = next_buffer_id_++;
    map_[a.base] = a;
  }
  if (!removed.empty()) generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::optional<Alloc> AllocTable::find(uint64_t addr) const { return find_range(addr, 0); }

std::optional<Alloc> AllocTable::find_range(uint64_t addr, uint64_t len) const {
  std::shared_lock lock(mu_);
  auto it = map_.upper_bound(addr);
  if (it == map_.begin()) return std::nullopt;
  --it;
  const Alloc& a = it->second;
  const uint64_t span = a.size == 0 ? 1 : a.size;
  if (addr - a.base >= span) return std::nullopt;
  if (len > span - (addr - a.base)) return std::nullopt;
  return a;
}

bool AllocTable::overlaps(uint64_t addr, uint64_t len) const {
  std::shared_lock lock(mu_);
  auto it = map_.lower_bound(addr);
  if (it != map_.end() && it->first < addr + len) return true;
  if (it == map_.begin()) return false;
  --it;
  return it->first + it->second.size > addr;
}

std::vector<Alloc> AllocTable::owned_by(const Context* ctx) const {
  std::shared_lock lock(mu_);
  std::vector<Alloc> out;
  for (const auto& [base, a] : map_)
    if (a.ctx == ctx) out.push_back(a);
  return out;
}

bool AllocTable::accessible(uint64_t addr, uint64_t len) const {
  const uint64_t gen = generation_.load(std::memory_order_acquire);
  HitCache& c = t_hit;
  if (c.generation == gen && addr >= c.base && addr <= c.end && len <= c.end - addr) return true;
  std::shared_lock lock(mu_);
  auto it = map_.upper_bound(addr);
  if (it == map_.begin()) return false;
  --it;
  const Alloc& a = it->second;
  if (addr - a.base >= a.size || len > a.size - (addr - a.base)) return false;
  c = {a.base, a.base + a.size, gen};
  return true;
}

// `whole_pages`: mmap even below the threshold (managed memory: page-aligned and on pages no
// other allocation shares, as a client mirroring it in its own pages needs).
uint64_t storage_alloc(uint64_t bytes, bool* mmapped, bool whole_pages) {
  const uint64_t rounded = round_up(bytes == 0 ? 1 : bytes, 256);
  if (rounded >= kMmapThreshold || whole_pages) {
    void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) return 0;
    *mmapped = true;
    return reinterpret_cast<uint64_t>(p);
  }
  void* p = std::aligned_alloc(256, rounded);
  if (p == nullptr) return 0;
  std::memset(p, 0, rounded);
  *mmapped = false;
  return reinterpret_cast<uint64_t>(p);
}

void storage_free(uint64_t base, uint64_t bytes, bool mmapped) {
  if (mmapped) {
    munmap(reinterpret_cast<void*>(base), round_up(bytes == 0 ? 1 : bytes, 256));
  } else {
    std::free(reinterpret_cast<void*>(base));
  }
}

bool reserve_device_memory(int device, uint64_t bytes) {
  Device* d = rt::device(device);
  if (d == nullptr || device >= kMaxDevices) return false;
  auto& used = g_used[device];
  uint64_t cur = used.load();
  do {
    if (bytes > d->total_mem - cur) return false;
  } while (!used.compare_exchange_weak(cur, cur + bytes));
  return true;
}

void release_device_memory(int device, uint64_t bytes) {
  if (device < 0 || device >= kMaxDevices) return;
  auto& used = g_used[device];
  uint64_t cur = used.load();
  while (!used.compare_exchange_weak(cur, bytes > cur ? 0 : cur - bytes)) {
  }
}

uint64_t used_device_memory(int device) {
  if (device < 0 || device >= kMaxDevices) return 0;
  return g_used[device].load();
}

CUresult device_alloc(Context* ctx, int device, uint64_t bytes, AllocKind kind, unsigned flags,
                      MemPool* pool, bool module_global, uint64_t* out) {
  if (bytes == 0 && !module_global) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t reserved = round_up(bytes == 0 ? 1 : bytes, 256);
  const bool counted = kind == AllocKind::Device || kind == AllocKind::Managed;
  if (counted && !reserve_device_memory(device, reserved)) {
    log().info("cuMemAlloc of {} bytes failed: device {} has {} of {} bytes in use", bytes, device,
               used_device_memory(device), rt::device(device) ? rt::device(device)->total_mem : 0);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  bool mmapped = false;
  const uint64_t base = storage_alloc(bytes, &mmapped, kind == AllocKind::Managed);
  if (base == 0) {
    if (counted) release_device_memory(device, reserved);
    log().warn("host memory exhausted backing a {}-byte device allocation", bytes);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  Alloc a;
  a.base = base;
  a.size = bytes == 0 ? 1 : bytes;
  a.reserved = counted ? reserved : 0;
  a.kind = kind;
  a.ctx = ctx;
  a.device = device;
  a.flags = flags;
  a.pool = pool;
  a.module_global = module_global;
  a.mmapped = mmapped;
  allocs().insert(a);
  *out = base;
  return CUDA_SUCCESS;
}

CUresult device_free(uint64_t base) {
  auto found = allocs().find(base);
  if (!found || found->base != base || found->kind == AllocKind::HostRegistered || found->vmm || found->graph_mem) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto a = allocs().remove(base);
  if (!a) return CUDA_ERROR_INVALID_VALUE;  // lost a race with another free
  storage_free(a->base, a->size, a->mmapped);
  if (a->reserved) release_device_memory(a->device, a->reserved);
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt
