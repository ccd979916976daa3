// CUDA virtual memory management (cuMemAddressReserve, cuMemCreate,
// cuMemMap, cuMemSetAccess, ...) on the emulator's model, where a
// CUdeviceptr is the host address of the backing storage.
//
// - A reservation is host address space mapped PROT_NONE (anonymous,
//   MAP_NORESERVE), aligned to max(alignment, granularity).
// - A physical allocation (cuMemCreate) is a memfd of the requested size,
//   counted against its device's memory like cuMemAlloc. Its handle is an
//   opaque counter value (never a pointer). It lives while any handle
//   reference (cuMemCreate, cuMemRetainAllocationHandle) or any mapping of
//   it remains.
// - cuMemMap maps the memfd over part of a reservation, still PROT_NONE;
//   cuMemSetAccess makes granules read-write (or revokes them).
// - The accessible parts of each reservation are published in the
//   allocation table (allocs()) as maximal contiguous runs (Alloc::vmm set,
//   reserved 0), so copies, memsets and kernels may span several mappings
//   laid out back to back. Runs change through AllocTable::replace, one
//   atomic step, so a kernel using an unchanged part never sees a gap.
//
// Access is tracked per device and 2 MiB granule; since every emulated
// device shares host memory, a granule read-write for any device is
// accessible from all of them (a limitation: CUDA would fault a device
// without access).
//
// Thread safety: every function may be called from any thread; one mutex
// guards the VMM state, taken before (never inside) the allocation table's.
#pragma once

#include <cstdint>

namespace gpool::emu::rt {

// The granularity of reservations, physical allocations and mappings.
constexpr uint64_t kVmmGranularity = 2ull << 20;

// The mapping containing `addr`: its base and size. False when `addr` is in
// no mapping.
bool vmm_mapping_at(uint64_t addr, uint64_t* base, uint64_t* size);

}  // namespace gpool::emu::rt
