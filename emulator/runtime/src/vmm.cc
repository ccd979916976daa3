// Virtual memory management: reservations, physical allocations (memfd),
// mappings and access, and their runs in the allocation table. See vmm.h.
#include "vmm.h"

#include "alloc_table.h"
#include "context.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

namespace gpool::emu::rt {
namespace {

constexpr uint64_t kG = kVmmGranularity;

struct Physical {
  int fd = -1;
  uint64_t size = 0;
  int device = 0;
  CUmemAllocationProp prop{};
  uint64_t refs = 1;      // handle references: cuMemCreate + cuMemRetainAllocationHandle - cuMemRelease
  uint64_t mappings = 0;  // live cuMemMap mappings of it
};

struct Mapping {
  uint64_t size = 0;
  uint64_t offset = 0;
  CUmemGenericAllocationHandle handle = 0;
  std::vector<uint32_t> access;  // per granule: bit d = read-write for device d
};

struct Reservation {
  uint64_t size = 0;
  std::map<uint64_t, Mapping> maps;      // by base address
  std::map<uint64_t, uint64_t> runs;     // published table entries: base -> size
};

struct State {
  std::mutex mu;
  std::map<uint64_t, Reservation> reservations;                 // by base, guarded by mu
  std::map<CUmemGenericAllocationHandle, Physical> physicals;   // guarded by mu
  CUmemGenericAllocationHandle next_handle = 1;                 // guarded by mu
};

State& state() {
  static auto* s = new State();  // never destroyed: atexit handlers may still unmap
  return *s;
}

bool aligned(uint64_t v) { return v % kG == 0; }

// Checks a CUmemAllocationProp for cuMemCreate / cuMemGetAllocationGranularity.
CUresult check_prop(const CUmemAllocationProp* prop, const char* call) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (prop->type == CU_MEM_ALLOCATION_TYPE_INVALID) return CUDA_ERROR_INVALID_VALUE;
  if (prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) {
    return gpool::abi::unimplemented(fmt::format("{} with an allocation type other than PINNED", call).c_str());
  }
  if (prop->location.type == CU_MEM_LOCATION_TYPE_INVALID) return CUDA_ERROR_INVALID_VALUE;
  if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return gpool::abi::unimplemented(fmt::format("{} for a non-device location", call).c_str());
  }
  if (device(prop->location.id) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE) {
    return gpool::abi::unimplemented(fmt::format("{} with shareable handle types", call).c_str());
  }
  if (prop->allocFlags.usage != 0) {
    return gpool::abi::unimplemented(fmt::format("{} with usage flags (tile pool, decompression)", call).c_str());
  }
  return CUDA_SUCCESS;
}

// The reservation containing all of [addr, addr + len), or end(). REQUIRES: mu held.
std::map<uint64_t, Reservation>::iterator reservation_of(State& s, uint64_t addr, uint64_t len) {
  auto it = s.reservations.upper_bound(addr);
  if (it == s.reservations.begin()) return s.reservations.end();
  --it;
  const uint64_t off = addr - it->first;
  if (off >= it->second.size || len > it->second.size - off) return s.reservations.end();
  return it;
}

// The mappings of `r` that tile [addr, addr + len) exactly, contiguous, in
// order; empty when the range is not fully mapped. With `whole`, the range
// must also begin and end on mapping boundaries. REQUIRES: mu held.
std::vector<std::map<uint64_t, Mapping>::iterator> tiling(Reservation& r, uint64_t addr, uint64_t len, bool whole) {
  std::vector<std::map<uint64_t, Mapping>::iterator> out;
  auto it = r.maps.upper_bound(addr);
  if (it == r.maps.begin()) return {};
  --it;
  if (whole && it->first != addr) return {};
  uint64_t at = addr;
  const uint64_t end = addr + len;
  while (at < end) {
    if (it == r.maps.end() || it->first > at || it->first + it->second.size <= at) return {};
    out.push_back(it);
    at = it->first + it->second.size;
    ++it;
  }
  if (whole && at != end) return {};
  return out;
}

// Frees a physical allocation nobody refers to any more. REQUIRES: mu held.
void maybe_free_physical(State& s, CUmemGenericAllocationHandle h) {
  auto it = s.physicals.find(h);
  if (it == s.physicals.end() || it->second.refs != 0 || it->second.mappings != 0) return;
  close(it->second.fd);
  release_device_memory(it->second.device, it->second.size);
  s.physicals.erase(it);
}

// Recomputes the accessible runs of reservation `r` and publishes the
// difference to the allocation table in one step. REQUIRES: mu held.
void publish_runs(State& s, Reservation& r) {
  std::map<uint64_t, uint64_t> runs;
  std::map<uint64_t, int> run_device;
  uint64_t cur_base = 0, cur_end = 0;
  int cur_dev = 0;
  auto flush = [&] {
    if (cur_end > cur_base) {
      runs[cur_base] = cur_end - cur_base;
      run_device[cur_base] = cur_dev;
    }
    cur_base = cur_end = 0;
  };
  for (const auto& [base, m] : r.maps) {
    const int dev = s.physicals.at(m.handle).device;
    for (size_t g = 0; g < m.access.size(); ++g) {
      const uint64_t addr = base + g * kG;
      if (m.access[g] == 0) {
        flush();
        continue;
      }
      if (cur_end != addr || cur_end == 0) {
        flush();
        cur_base = addr;
        cur_dev = dev;
      }
      cur_end = addr + kG;
    }
  }
  flush();

  std::vector<uint64_t> removed;
  std::vector<Alloc> inserted;
  for (const auto& [base, size] : r.runs) {
    auto it = runs.find(base);
    if (it == runs.end() || it->second != size) removed.push_back(base);
  }
  for (const auto& [base, size] : runs) {
    auto it = r.runs.find(base);
    if (it != r.runs.end() && it->second == size) continue;
    Alloc a;
    a.base = base;
    a.size = size;
    a.reserved = 0;  // counted by cuMemCreate
    a.kind = AllocKind::Device;
    a.ctx = nullptr;  // VMM memory belongs to no context
    a.device = run_device[base];
    a.vmm = true;
    inserted.push_back(a);
  }
  if (!removed.empty() || !inserted.empty()) allocs().replace(removed, std::move(inserted));
  r.runs = std::move(runs);
}

bool protect(uint64_t addr, uint64_t len, int prot) {
  if (mprotect(reinterpret_cast<void*>(addr), len, prot) == 0) return true;
  log().error("mprotect of VMM range {:#x}+{:#x} failed: {}; the host is out of memory maps (vm.max_map_count)", addr,
              len, std::strerror(errno));
  return false;
}

// Applies `prot` to the granules of [addr, addr + len) whose accessibility
// `pick` selects, in runs. REQUIRES: mu held.
template <class Pick>
bool protect_granules(const std::vector<std::map<uint64_t, Mapping>::iterator>& ms, uint64_t addr, uint64_t len,
                      int prot, Pick pick) {
  uint64_t run = 0, run_end = 0;
  bool ok = true;
  for (auto m : ms) {
    for (size_t g = 0; g < m->second.access.size(); ++g) {
      const uint64_t a = m->first + g * kG;
      if (a < addr || a >= addr + len) continue;
      if (pick(m->second, g)) {
        if (run_end != a) {
          if (run_end > run) ok &= protect(run, run_end - run, prot);
          run = a;
        }
        run_end = a + kG;
      }
    }
  }
  if (run_end > run) ok &= protect(run, run_end - run, prot);
  return ok;
}

}  // namespace

bool vmm_mapping_at(uint64_t addr, uint64_t* base, uint64_t* size) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto r = reservation_of(s, addr, 1);
  if (r == s.reservations.end()) return false;
  auto m = r->second.maps.upper_bound(addr);
  if (m == r->second.maps.begin()) return false;
  --m;
  if (addr - m->first >= m->second.size) return false;
  *base = m->first;
  *size = m->second.size;
  return true;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                            CUmemAllocationGranularity_flags option) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (granularity == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult r = check_prop(prop, "cuMemGetAllocationGranularity"); r != CUDA_SUCCESS) return r;
  *granularity = kG;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                                   unsigned long long flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (ptr == nullptr || size == 0 || !aligned(size) || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (alignment != 0 && (alignment & (alignment - 1)) != 0) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t align = alignment > kG ? alignment : kG;
  if (size > (1ull << 52) || align > (1ull << 46)) return CUDA_ERROR_OUT_OF_MEMORY;
  constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  uint64_t base = 0;
  if (addr != 0 && addr % align == 0) {  // the hint, when that address range is free
    void* p = mmap(reinterpret_cast<void*>(addr), size, PROT_NONE, kFlags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != MAP_FAILED && reinterpret_cast<uint64_t>(p) == addr) {
      base = addr;
    } else if (p != MAP_FAILED) {
      munmap(p, size);  // an old kernel that treats the flag as a hint
    }
  }
  if (base == 0) {
    const uint64_t over = size + align;
    void* p = mmap(nullptr, over, PROT_NONE, kFlags, -1, 0);
    if (p == MAP_FAILED) {
      log().info("cuMemAddressReserve of {} bytes failed: {}", size, std::strerror(errno));
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    const auto raw = reinterpret_cast<uint64_t>(p);
    base = round_up(raw, align);
    if (base > raw) munmap(p, base - raw);
    if (raw + over > base + size) munmap(reinterpret_cast<void*>(base + size), raw + over - (base + size));
  }
  State& s = state();
  {
    std::lock_guard lock(s.mu);
    Reservation r;
    r.size = size;
    s.reservations.emplace(base, std::move(r));
  }
  *ptr = base;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.reservations.find(ptr);
  if (it == s.reservations.end() || it->second.size != size) {
    log().info("cuMemAddressFree: {:#x}+{:#x} is not a reservation made by cuMemAddressReserve", ptr, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!it->second.maps.empty()) {
    log().info("cuMemAddressFree: {:#x} still has {} mappings; cuMemUnmap them first", ptr, it->second.maps.size());
    return CUDA_ERROR_INVALID_VALUE;
  }
  munmap(reinterpret_cast<void*>(ptr), size);
  s.reservations.erase(it);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                           const CUmemAllocationProp* prop, unsigned long long flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr || size == 0 || !aligned(size) || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_prop(prop, "cuMemCreate"); r != CUDA_SUCCESS) return r;
  const int dev = prop->location.id;
  if (!reserve_device_memory(dev, size)) {
    log().info("cuMemCreate of {} bytes failed: device {} has {} of {} bytes in use", size, dev,
               used_device_memory(dev), device(dev)->total_mem);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  const int fd = memfd_create("gpool-vmm", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    log().warn("backing a {}-byte cuMemCreate allocation failed: {}", size, std::strerror(errno));
    if (fd >= 0) close(fd);
    release_device_memory(dev, size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  Physical p;
  p.fd = fd;
  p.size = size;
  p.device = dev;
  p.prop = *prop;
  p.prop.allocFlags.compressionType = 0;       // no compressible memory here
  p.prop.allocFlags.gpuDirectRDMACapable = 0;  // nor RDMA
  p.prop.win32HandleMetaData = nullptr;
  State& s = state();
  std::lock_guard lock(s.mu);
  const CUmemGenericAllocationHandle h = s.next_handle++;
  s.physicals.emplace(h, p);
  *handle = h;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemRelease(CUmemGenericAllocationHandle handle) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.physicals.find(handle);
  if (it == s.physicals.end() || it->second.refs == 0) {
    log().info("cuMemRelease: {:#x} is not a live allocation handle", handle);
    return CUDA_ERROR_INVALID_VALUE;
  }
  --it->second.refs;
  maybe_free_physical(s, handle);  // stays while mapped, as in CUDA
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                                        unsigned long long flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (size == 0 || !aligned(ptr) || !aligned(size) || !aligned(offset) || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  State& s = state();
  std::lock_guard lock(s.mu);
  auto ph = s.physicals.find(handle);
  if (ph == s.physicals.end() || ph->second.refs == 0) return CUDA_ERROR_INVALID_VALUE;
  if (offset > ph->second.size || size > ph->second.size - offset) return CUDA_ERROR_INVALID_VALUE;
  auto r = reservation_of(s, ptr, size);
  if (r == s.reservations.end()) {
    log().info("cuMemMap: {:#x}+{:#x} is not inside one cuMemAddressReserve range", ptr, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto& maps = r->second.maps;
  auto next = maps.lower_bound(ptr);
  if (next != maps.end() && next->first < ptr + size) return CUDA_ERROR_INVALID_VALUE;
  if (next != maps.begin() && std::prev(next)->first + std::prev(next)->second.size > ptr) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  void* p = mmap(reinterpret_cast<void*>(ptr), size, PROT_NONE, MAP_SHARED | MAP_FIXED, ph->second.fd,
                 static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    log().warn("cuMemMap of {:#x}+{:#x} failed: {}", ptr, size, std::strerror(errno));
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  Mapping m;
  m.size = size;
  m.offset = offset;
  m.handle = handle;
  m.access.assign(size / kG, 0);
  maps.emplace(ptr, std::move(m));
  ++ph->second.mappings;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemUnmap(CUdeviceptr ptr, size_t size) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (size == 0 || !aligned(ptr) || !aligned(size)) return CUDA_ERROR_INVALID_VALUE;
  // Like cuMemFree, wait for the current context's work that may use the memory.
  if (Context* ctx = current_context(); ctx != nullptr) context_wait_idle(ctx);
  State& s = state();
  std::lock_guard lock(s.mu);
  auto r = reservation_of(s, ptr, size);
  if (r == s.reservations.end()) return CUDA_ERROR_INVALID_VALUE;
  auto ms = tiling(r->second, ptr, size, true);
  if (ms.empty()) {
    log().info("cuMemUnmap: {:#x}+{:#x} does not cover whole mappings exactly", ptr, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::vector<CUmemGenericAllocationHandle> handles;
  for (auto m : ms) handles.push_back(m->second.handle);
  for (auto m : ms) r->second.maps.erase(m);
  publish_runs(s, r->second);  // out of the table before the pages go
  void* p = mmap(reinterpret_cast<void*>(ptr), size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0);
  if (p == MAP_FAILED) {
    // The range stays mapped to the memfd but inaccessible; the memory is
    // released from the accounting regardless.
    log().error("cuMemUnmap: remapping {:#x}+{:#x} as reserved failed: {}", ptr, size, std::strerror(errno));
  }
  for (CUmemGenericAllocationHandle h : handles) {
    --s.physicals.at(h).mappings;
    maybe_free_physical(s, h);
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (size == 0 || !aligned(ptr) || !aligned(size) || desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  uint32_t grant = 0, revoke = 0;
  for (size_t i = 0; i < count; ++i) {
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
      if (desc[i].location.type == CU_MEM_LOCATION_TYPE_INVALID) return CUDA_ERROR_INVALID_VALUE;
      return gpool::abi::unimplemented("cuMemSetAccess for a non-device location");
    }
    const int dev = desc[i].location.id;
    if (device(dev) == nullptr || dev >= 32) return CUDA_ERROR_INVALID_DEVICE;
    const uint32_t bit = 1u << dev;
    switch (desc[i].flags) {
      case CU_MEM_ACCESS_FLAGS_PROT_READWRITE:
        grant |= bit;
        revoke &= ~bit;
        break;
      case CU_MEM_ACCESS_FLAGS_PROT_NONE:
        revoke |= bit;
        grant &= ~bit;
        break;
      case CU_MEM_ACCESS_FLAGS_PROT_READ: return gpool::abi::unimplemented("cuMemSetAccess with PROT_READ");
      default: return CUDA_ERROR_INVALID_VALUE;
    }
  }
  State& s = state();
  std::lock_guard lock(s.mu);
  auto r = reservation_of(s, ptr, size);
  if (r == s.reservations.end()) return CUDA_ERROR_INVALID_VALUE;
  auto ms = tiling(r->second, ptr, size, false);
  if (ms.empty()) {
    log().info("cuMemSetAccess: {:#x}+{:#x} is not fully mapped", ptr, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto in_range = [&](uint64_t base, size_t g) { return base + g * kG >= ptr && base + g * kG < ptr + size; };
  // Granules becoming accessible get their pages first, then the table
  // changes, then granules that lost access lose their pages.
  std::vector<std::vector<uint32_t>> before;
  for (auto m : ms) {
    before.push_back(m->second.access);
    for (size_t g = 0; g < m->second.access.size(); ++g) {
      if (in_range(m->first, g)) m->second.access[g] = (m->second.access[g] | grant) & ~revoke;
    }
  }
  size_t idx = 0;
  std::map<const Mapping*, const std::vector<uint32_t>*> old;
  for (auto m : ms) old[&m->second] = &before[idx++];
  const bool ok_rw = protect_granules(ms, ptr, size, PROT_READ | PROT_WRITE, [&](const Mapping& m, size_t g) {
    return (*old[&m])[g] == 0 && m.access[g] != 0;
  });
  if (!ok_rw) {
    idx = 0;
    for (auto m : ms) m->second.access = before[idx++];
    protect_granules(ms, ptr, size, PROT_NONE, [&](const Mapping& m, size_t g) { return m.access[g] == 0; });
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  publish_runs(s, r->second);
  protect_granules(ms, ptr, size, PROT_NONE, [&](const Mapping& m, size_t g) {
    return (*old[&m])[g] != 0 && m.access[g] == 0;
  });
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location, CUdeviceptr ptr) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (location->type != CU_MEM_LOCATION_TYPE_DEVICE) {
    if (location->type == CU_MEM_LOCATION_TYPE_INVALID) return CUDA_ERROR_INVALID_VALUE;
    return gpool::abi::unimplemented("cuMemGetAccess for a non-device location");
  }
  if (device(location->id) == nullptr || location->id >= 32) return CUDA_ERROR_INVALID_DEVICE;
  State& s = state();
  std::lock_guard lock(s.mu);
  auto r = reservation_of(s, ptr, 1);
  if (r == s.reservations.end()) return CUDA_ERROR_INVALID_VALUE;
  auto ms = tiling(r->second, ptr, 1, false);
  if (ms.empty()) return CUDA_ERROR_INVALID_VALUE;
  const Mapping& m = ms.front()->second;
  const uint32_t mask = m.access[(ptr - ms.front()->first) / kG];
  *flags = (mask >> location->id) & 1 ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE : CU_MEM_ACCESS_FLAGS_PROT_NONE;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto a = reinterpret_cast<uint64_t>(addr);
  State& s = state();
  std::lock_guard lock(s.mu);
  auto r = reservation_of(s, a, 1);
  if (r == s.reservations.end()) return CUDA_ERROR_INVALID_VALUE;
  auto ms = tiling(r->second, a, 1, false);
  if (ms.empty()) return CUDA_ERROR_INVALID_VALUE;
  const CUmemGenericAllocationHandle h = ms.front()->second.handle;
  ++s.physicals.at(h).refs;  // needs its own cuMemRelease
  *handle = h;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                                      CUmemGenericAllocationHandle handle) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.physicals.find(handle);
  if (it == s.physicals.end() || it->second.refs == 0) return CUDA_ERROR_INVALID_VALUE;
  *prop = it->second.prop;
  return CUDA_SUCCESS;
}
