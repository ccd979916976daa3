// PoolTable: the session's memory pools under client ids (cuMemPoolCreate and the devices'
// default pools).
//
// Ids 1..kMaxDefaultIds name the default pool of session device id - 1 (calls.toml); they are
// entered by the worker on first use (it asks the driver for the pool), so attributes the
// client sets can be remembered. Created pools use ids above kMaxDefaultIds, each once while it
// lives; only they can be destroyed.
//
// Errors: find() answers nullptr for an id the session does not hold (forged, destroyed, or a
// default id not entered yet); add_created() refuses a reserved or used id and erase_created()
// a default pool or unknown id (false, nothing changed). Ownership: the driver pools stay the
// caller's to create and destroy. Thread safety: the worker's one thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <unordered_map>

namespace gpool::server {

class PoolTable {
 public:
  static constexpr uint64_t kMaxDefaultIds = 256;
  struct Pool {
    CUmemoryPool pool = nullptr;
    size_t device = 0;               // session device index
    uint64_t release_threshold = 0;  // what the client set; the driver's stays 0 (quota)
    bool created = false;            // by MemPoolCreate (false: a device's default pool)
  };

  Pool* find(uint64_t id) {
    auto it = pools_.find(id);
    return it == pools_.end() ? nullptr : &it->second;
  }
  static bool is_default_id(uint64_t id) { return id >= 1 && id <= kMaxDefaultIds; }
  bool id_free_for_create(uint64_t id) const { return id > kMaxDefaultIds && pools_.count(id) == 0; }
  // Enters the default pool `p` of device `device` under its id 1 + device.
  Pool* add_default(size_t device, CUmemoryPool p) {
    return &(pools_[device + 1] = Pool{p, device, 0, false});
  }
  bool add_created(uint64_t id, CUmemoryPool p, size_t device) {
    if (!id_free_for_create(id)) return false;
    pools_[id] = Pool{p, device, 0, true};
    return true;
  }
  bool erase_created(uint64_t id) {
    auto it = pools_.find(id);
    if (it == pools_.end() || !it->second.created) return false;
    pools_.erase(it);
    return true;
  }

 private:
  std::unordered_map<uint64_t, Pool> pools_;
};

}  // namespace gpool::server
