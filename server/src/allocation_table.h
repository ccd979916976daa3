// AllocationTable: the device memory a session may address by raw pointer, and its quota.
//
// It holds two kinds of ranges:
//   allocations   what cuMemAlloc*, cuMemAllocManaged, pools and graph memory nodes handed out:
//                 client address -> bytes, the physical device charged, and (managed memory
//                 padded for page alignment) the driver's own address to free.
//   globals       module and library variables (cuModuleGetGlobal), per session device index;
//                 addressable, never charged here (image_globals.h charges them at load).
// contains(p, bytes) is the range check every copy, memset, texture and graph node uses: true
// only when [p, p + bytes) lies inside ONE allocation or ONE global (bytes 0 at the very end of
// a range is inside; a range spanning two neighbouring allocations is not; no wrap-around).
//
// Quota contract: record() is called after the bytes were charged (Quota::charge) and the
// driver succeeded; from then the table owns the charge. forget() returns it (Quota::uncharge)
// at once, or with keep_charge (a stream-ordered free) parks it as "freeing" on its device
// until settle(device) after that device synchronized. drop_device() forgets every allocation
// of one physical device (a device reset) and settles its frees. The session's held bytes and
// allocation count (SessionSlot) follow every change.
//
// Errors: find()/forget() of an address that is not the start of an allocation of this session
// (forged, freed, interior) answer nullptr/false and change nothing. Ownership: plain data plus
// a borrowed Quota; it frees nothing in the driver (the caller does, before forget()). Thread
// safety: the worker's one thread.
#pragma once

#include <cuda.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "quota.h"

namespace gpool::server {

class AllocationTable {
 public:
  struct Allocation {
    uint64_t bytes = 0;
    int device = 0;              // physical ordinal charged
    CUdeviceptr driver_base = 0;  // the driver's address when it differs (padded managed), else 0
  };

  explicit AllocationTable(Quota& quota) : quota_(quota) {}

  void record(CUdeviceptr p, uint64_t bytes, int device, CUdeviceptr driver_base = 0);
  const Allocation* find(CUdeviceptr p) const;  // nullptr unless p starts an allocation
  // The address to give the driver's free for allocation `p` (its driver_base, else p).
  CUdeviceptr driver_address(CUdeviceptr p) const;
  bool forget(CUdeviceptr p, bool keep_charge = false);
  // Returns the charge parked by stream-ordered frees on `device`.
  void settle(int device);
  uint64_t freeing(int device) const;
  // Forgets every allocation charged on physical `device` and settles its frees; answers their
  // client addresses (ascending).
  std::vector<CUdeviceptr> drop_device(int device);
  size_t size() const { return allocations_.size(); }

  // Globals: `bytes` at `p` of a module loaded on session device `device_index`. A second add of
  // the same address keeps the larger size.
  void add_global(CUdeviceptr p, uint64_t bytes, size_t device_index);
  void drop_globals(size_t device_index);

  bool contains(CUdeviceptr p, uint64_t bytes) const;

 private:
  struct Global {
    uint64_t bytes = 0;
    size_t device = 0;
  };
  Quota& quota_;
  std::map<CUdeviceptr, Allocation> allocations_;
  std::map<CUdeviceptr, Global> globals_;
  std::array<uint64_t, kMaxDevices> freeing_{};  // per physical device, bytes
};

}  // namespace gpool::server
