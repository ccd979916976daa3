// StreamTable: the session's streams and events under client-chosen ids.
//
// Ids 0, 1 and 2 are reserved for the NULL stream, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD
// (stream() answers those without a table entry); created streams and events use ids above 2,
// each at most once while it lives. A created stream or event belongs to the session device
// (devices_ index) that was current when it was made; device_of() tells it, so calls on it run
// with that device's context current.
//
// Errors: a forged, destroyed or reserved id finds nothing (find() nullptr, stream()/event()
// CUDA_ERROR_INVALID_HANDLE), and add() of an id that is not free is refused (false) without
// changing the table. Ownership: the driver handles stay the caller's to create and destroy;
// the table only maps them. Thread safety: the worker's one thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <optional>
#include <unordered_map>

namespace gpool::server {

// Client id -> driver handle, and driver handle -> the session device it was made on.
template <typename H>
class DeviceHandleTable {
 public:
  static constexpr uint64_t kReservedIds = 2;  // 0..2 are never created ids
  bool id_free(uint64_t id) const { return id > kReservedIds && by_id_.count(id) == 0; }
  H find(uint64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  bool add(uint64_t id, H h, size_t device) {
    if (!id_free(id)) return false;
    by_id_[id] = h;
    device_[h] = device;
    return true;
  }
  // Removes the id; answers its handle (nullptr when the id was not in the table).
  H erase(uint64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    const H h = it->second;
    device_.erase(h);
    by_id_.erase(it);
    return h;
  }
  std::optional<size_t> device_of(H h) const {
    auto it = device_.find(h);
    if (it == device_.end()) return std::nullopt;
    return it->second;
  }
  // Forgets every handle made on session device `device` (a device reset destroyed them).
  void drop_device(size_t device) {
    for (auto it = by_id_.begin(); it != by_id_.end();) {
      auto d = device_.find(it->second);
      if (d != device_.end() && d->second == device) {
        device_.erase(d);
        it = by_id_.erase(it);
      } else {
        ++it;
      }
    }
  }
  size_t size() const { return by_id_.size(); }
  // The id of handle `h` (0 when it is not in the table). Linear: for rare queries only.
  uint64_t id_of(H h) const {
    for (const auto& [id, mine] : by_id_) {
      if (mine == h) return id;
    }
    return 0;
  }

 private:
  std::unordered_map<uint64_t, H> by_id_;
  std::unordered_map<H, size_t> device_;
};

class StreamTable {
 public:
  DeviceHandleTable<CUstream> streams;
  DeviceHandleTable<CUevent> events;

  // The stream a client id names: the reserved ids' special handles or a created stream.
  CUresult stream(uint64_t id, CUstream& out) const {
    if (id == 0) out = nullptr;
    else if (id == 1) out = CU_STREAM_LEGACY;
    else if (id == 2) out = CU_STREAM_PER_THREAD;
    else if ((out = streams.find(id)) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    return CUDA_SUCCESS;
  }
  CUresult event(uint64_t id, CUevent& out) const {
    out = events.find(id);
    return out == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
  }
  void drop_device(size_t device) {
    streams.drop_device(device);
    events.drop_device(device);
  }
};

}  // namespace gpool::server
