// The supervisor's view of its sessions' resource use, in memory shared with the workers.
//
// The supervisor maps one table of `capacity` slots (MAP_SHARED | MAP_ANONYMOUS) before it
// forks any worker; each worker writes only its own slot (bytes of device memory it holds,
// allocation count, calls served, replies sent) and the supervisor reads all of them for the status
// endpoint. When a worker exits, whatever it held was released with its process (its driver
// context goes with it); the supervisor then returns the bytes recorded in dev_bytes[] to the
// session's tenant (TenantTable::uncharge) and clears the slot.
//
// Charging order (worker): charge the tenant, then add to dev_bytes; on free: subtract from
// dev_bytes, then uncharge. A worker killed between the two steps leaves at most one
// allocation counted against its tenant until the next reload restart; it can never make the
// tenant's counter smaller than its real use.
//
// Thread safety: slot fields are atomics; acquire()/release() are called by the supervisor only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tenant_table.h"

namespace gpool::server {

struct SessionSlot {
  std::atomic<uint64_t> bytes_held{0};
  std::atomic<uint64_t> allocations{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> replies{0};  // sync calls answered: the session's network round trips
  std::atomic<uint64_t> bytes_in{0};   // segment bytes received with calls
  std::atomic<uint64_t> bytes_out{0};  // segment bytes sent with replies
  std::atomic<uint64_t> errors{0};     // calls whose result was not CUDA_SUCCESS
  std::atomic<uint32_t> warm{0};       // 1: served by a pre-started worker of the pool
  std::atomic<uint32_t> in_use{0};
  std::atomic<int32_t> tenant{-1};                 // index in the TenantTable, -1 = none
  std::atomic<uint64_t> dev_bytes[kMaxDevices]{};  // bytes charged to the tenant, per device
  std::atomic<uint64_t> image_bytes{0};  // host bytes of module images charged to the tenant
  // Liveness, for the supervisor's watchdog (worker_watch.h). The worker's heartbeat thread
  // stores steady_clock nanoseconds here every kHeartbeatPeriod (0: not started yet).
  std::atomic<uint64_t> heartbeat_ns{0};
  // What the worker's main thread is doing: kIdle (waiting for the client's next frame),
  // kBusy (executing a call, possibly sending), kDevice (inside a call, sending nothing).
  // The supervisor writes a frame of its own to the client only in kIdle or kDevice.
  std::atomic<uint32_t> phase{0};
  // When the worker began waiting for device work (a launch or a synchronization), steady
  // clock ns; 0 when it does not wait. The tenant's max_kernel_ms is measured against it.
  std::atomic<uint64_t> kernel_since_ns{0};
};

// SessionSlot::phase values.
inline constexpr uint32_t kPhaseIdle = 0;
inline constexpr uint32_t kPhaseBusy = 1;
inline constexpr uint32_t kPhaseDevice = 2;

class SessionTable {
 public:
  explicit SessionTable(size_t capacity);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // A free slot, zeroed and marked in use, or -1 when all are taken.
  int acquire();
  // Settles the slot with its tenant (settle_session: what dev_bytes[] still records goes back
  // to the tenant's quota, the tenant's session count drops) when a tenant table is set, then
  // frees the slot. Every release path of the supervisor goes through here.
  void release(int index);
  // The tenant table release() settles with (the supervisor's, set once before any fork).
  void set_tenants(TenantTable* tenants) { tenants_ = tenants; }
  SessionSlot& slot(int index) { return slots_[index]; }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  SessionSlot* slots_;  // shared mapping of capacity_ slots
  TenantTable* tenants_ = nullptr;
};

}  // namespace gpool::server
