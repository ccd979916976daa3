// ArrayTable: the session's CUDA arrays, mipmapped arrays and their levels, texture objects and
// surface objects, keyed by the driver's handle value the client holds.
//
// Quota contract: add_array()/add_mipmap() are called after the bytes were charged
// (Quota::charge) and the driver made the object; the table then owns the charge and returns
// it (Quota::uncharge) when erase_array()/erase_mipmap()/drop_device() forget the object. A
// mipmapped array's levels (add_level()) carry no charge of their own and go with it; they
// cannot be erased alone. Arrays are charged but not counted in the session's held bytes.
//
// Errors: find_*()/has_*() answer nullptr/false for a handle the session does not hold (forged,
// destroyed, another session's); erase_*() of such a handle, or erase_array() of a level,
// answer false and change nothing. Ownership: the driver objects stay the caller's to create
// and destroy. Thread safety: the worker's one thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <set>
#include <unordered_map>

#include "quota.h"

namespace gpool::server {

class ArrayTable {
 public:
  struct Array {
    CUarray arr = nullptr;
    uint64_t bytes = 0;   // charged to the quota (0 for a mipmapped array's level)
    int device = 0;       // physical ordinal
    uint64_t mipmap = 0;  // the mipmapped array this is a level of (0: none)
  };
  struct Mipmap {
    CUmipmappedArray m = nullptr;
    uint64_t bytes = 0;
    int device = 0;
    unsigned levels = 0;
  };

  explicit ArrayTable(Quota& quota) : quota_(quota) {}

  uint64_t add_array(CUarray arr, uint64_t bytes, int device);  // answers the client handle
  uint64_t add_level(CUarray arr, uint64_t mipmap);             // a level of a held mipmap
  const Array* find_array(uint64_t h) const;
  bool erase_array(uint64_t h);  // false for unknown handles and levels

  uint64_t add_mipmap(CUmipmappedArray m, uint64_t bytes, int device, unsigned levels);
  const Mipmap* find_mipmap(uint64_t h) const;
  bool erase_mipmap(uint64_t h);  // and its levels

  void add_tex(uint64_t obj) { tex_.insert(obj); }
  bool has_tex(uint64_t obj) const { return tex_.count(obj) != 0; }
  bool erase_tex(uint64_t obj) { return tex_.erase(obj) != 0; }
  void add_surf(uint64_t obj) { surf_.insert(obj); }
  bool has_surf(uint64_t obj) const { return surf_.count(obj) != 0; }
  bool erase_surf(uint64_t obj) { return surf_.erase(obj) != 0; }

  // A device reset: forgets the arrays and mipmapped arrays of physical `device` (their charge
  // returned) and every texture and surface object (the table does not record their device).
  void drop_device(int device);

 private:
  Quota& quota_;
  std::unordered_map<uint64_t, Array> arrays_;
  std::unordered_map<uint64_t, Mipmap> mipmaps_;
  std::set<uint64_t> tex_, surf_;
};

}  // namespace gpool::server
