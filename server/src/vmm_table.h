// VmmTable: the session's virtual memory management objects (cuMemAddressReserve, cuMemCreate,
// cuMemMap, cuMemSetAccess), which decide what the session may touch before the driver is asked:
//   reservations  address ranges the session reserved (maps, unmaps and frees must fall inside);
//   handles       physical allocations the session created (only these may be mapped/released);
//   mappings      what is mapped where; READWRITE ones are addressable (accessible()), also
//                 across mappings that lie back to back.
//
// Quota contract: add_handle() is called after its bytes were charged (Quota::charge) and the
// driver made the handle; the table then holds the charge and returns it (Quota::uncharge and
// release of the held bytes) when the physical memory really goes away: the handle released
// and its last mapping unmapped, in whichever order, as CUDA frees it.
//
// Errors: every query answers false for ranges, handles or addresses the session does not own
// (forged, released, partly outside, zero-sized, wrapping) and the mutators then change
// nothing. Ownership: plain data and a borrowed Quota; it calls no driver. Thread safety: the
// worker's one thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <vector>

#include "quota.h"

namespace gpool::server {

class VmmTable {
 public:
  explicit VmmTable(Quota& quota) : quota_(quota) {}

  void add_reservation(CUdeviceptr p, uint64_t size) { reserved_[p] = size; }
  bool is_reservation(CUdeviceptr p, uint64_t size) const;    // exactly one of them
  bool in_reservation(CUdeviceptr p) const;                   // p inside one
  bool fits_reservation(CUdeviceptr p, uint64_t size) const;  // [p, p+size) inside one, size > 0
  bool mapped_in(CUdeviceptr p, uint64_t size) const;         // a mapping starts in [p, p+size)
  // Removes an exact reservation that nothing is mapped in; false otherwise.
  bool erase_reservation(CUdeviceptr p, uint64_t size);

  void add_handle(uint64_t handle, uint64_t size, int device);
  bool handle_live(uint64_t handle) const;  // created by this session and not released
  // Marks a live handle released (its memory goes once nothing maps it); false if not live.
  bool release(uint64_t handle);

  void add_mapping(CUdeviceptr p, uint64_t size, uint64_t handle) { maps_[p] = Mapping{size, handle, false}; }
  // True when mappings tile [p, p + size) exactly, back to back.
  bool whole_mappings(CUdeviceptr p, uint64_t size) const;
  // Removes the mappings tiling [p, p + size) (whole_mappings() must hold; false otherwise) and
  // frees released handles that nothing maps any more.
  bool unmap(CUdeviceptr p, uint64_t size);
  // Sets the mappings tiling [p, p + size) accessible or not; false when they do not tile it.
  bool set_access(CUdeviceptr p, uint64_t size, bool readwrite);
  // [p, p + bytes) inside READWRITE mappings lying back to back.
  bool accessible(CUdeviceptr p, uint64_t bytes) const;

 private:
  struct Handle {
    uint64_t size = 0;
    int device = 0;  // physical ordinal charged
    bool released = false;
  };
  struct Mapping {
    uint64_t size = 0;
    uint64_t handle = 0;
    bool accessible = false;  // READWRITE set: usable by copies and memsets
  };
  using MapIt = std::map<CUdeviceptr, Mapping>::iterator;
  std::vector<MapIt> tiling(CUdeviceptr p, uint64_t size);
  bool mapped(uint64_t handle) const;
  void free_physical(std::map<uint64_t, Handle>::iterator it);

  Quota& quota_;
  std::map<CUdeviceptr, uint64_t> reserved_;  // base -> size
  std::map<uint64_t, Handle> handles_;        // driver allocation handle -> what it holds
  std::map<CUdeviceptr, Mapping> maps_;       // base -> what is mapped there
};

}  // namespace gpool::server
