// The allocation table: every range of memory the emulated devices know
// about (device allocations, pinned and registered host memory, managed
// memory, module globals), keyed by base address.
//
// Device pointers are host addresses of the backing storage (unified
// addressing), so a CUdeviceptr can be dereferenced by the runtime and by
// the interpreter directly once the table says the range is valid.
//
// It also implements exec::GlobalMemory for kernels: accessible() answers
// from a per-thread last-hit cache when it can and otherwise takes the
// shared lock for a map lookup. The cache is invalidated by a global
// generation counter bumped on every removal.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include "gpool/emu/exec/program.h"

#include "gpool/driver_abi/backend.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <vector>

namespace gpool::emu::rt {

struct Context;
struct MemPool;

enum class AllocKind : uint8_t {
  Device,      // cuMemAlloc*, pools, module globals
  Managed,     // cuMemAllocManaged
  HostPinned,  // cuMemAllocHost / cuMemHostAlloc (runtime-owned storage)
  HostRegistered,  // cuMemHostRegister (program-owned storage)
};

struct Alloc {
  uint64_t base = 0;
  uint64_t size = 0;        // bytes the program asked for
  uint64_t reserved = 0;    // bytes backing it (rounded), counted against device memory
  AllocKind kind = AllocKind::Device;
  Context* ctx = nullptr;   // owning context (nullptr: library globals, survive resets)
  int device = 0;
  unsigned flags = 0;       // host-alloc / register / managed flags
  MemPool* pool = nullptr;
  uint64_t buffer_id = 0;
  bool module_global = false;
  bool mmapped = false;
  bool vmm = false;         // an accessible run of a VMM reservation (vmm.h); not freeable
  bool graph_mem = false;   // a live graph allocation (graph_mem.h): freed only through graph_mem_free_*
};

class AllocTable final : public exec::GlobalMemory {
 public:
  // REQUIRES: [a.base, a.base + a.size) overlaps no entry. Assigns buffer_id.
  void insert(Alloc a);
  // Removes the entry whose base is exactly `base`; returns it.
  std::optional<Alloc> remove(uint64_t base);
  // Removes the entries whose bases are `removed` and inserts `inserted`
  // (assigning buffer ids) in one step under the lock: no reader sees the
  // state in between. REQUIRES: every removed base is present and the
  // inserted entries overlap nothing left.
  void replace(const std::vector<uint64_t>& removed, std::vector<Alloc> inserted);
  // The entry containing `addr`, if any.
  std::optional<Alloc> find(uint64_t addr) const;
  // The entry containing all of [addr, addr + len), if any (len 0 = just addr).
  std::optional<Alloc> find_range(uint64_t addr, uint64_t len) const;
  // True when some entry overlaps [addr, addr + len).
  bool overlaps(uint64_t addr, uint64_t len) const;
  // Every entry owned by `ctx`.
  std::vector<Alloc> owned_by(const Context* ctx) const;

  bool accessible(uint64_t addr, uint64_t len) const override;

 private:
  mutable std::shared_mutex mu_;
  std::map<uint64_t, Alloc> map_;  // guarded by mu_
  uint64_t next_buffer_id_ = 1;    // guarded by mu_
  std::atomic<uint64_t> generation_{1};
};

AllocTable& allocs();

// Backing storage for device, managed and pinned memory: 256-byte aligned,
// zero-filled (whole pages, mmapped, when `whole_pages`). Returns 0 when the host is out of memory.
uint64_t storage_alloc(uint64_t bytes, bool* mmapped, bool whole_pages = false);
void storage_free(uint64_t base, uint64_t bytes, bool mmapped);

// Device memory accounting against the configured device size.
bool reserve_device_memory(int device, uint64_t bytes);
void release_device_memory(int device, uint64_t bytes);
uint64_t used_device_memory(int device);

// Allocates device memory owned by `ctx` (or no context when nullptr) and
// registers it. Errors: INVALID_VALUE for 0 bytes, OUT_OF_MEMORY.
CUresult device_alloc(Context* ctx, int device, uint64_t bytes, AllocKind kind, unsigned flags,
                      MemPool* pool, bool module_global, uint64_t* out);
// Frees a runtime-owned allocation whose base is `base`. Errors:
// INVALID_VALUE when `base` is not the base of such an allocation (VMM runs
// included: they go away through cuMemUnmap / cuMemSetAccess; graph
// allocations too: graph_mem.h).
CUresult device_free(uint64_t base);

}  // namespace gpool::emu::rt
