// Per-tenant accounting shared by the supervisor and every worker: device memory held and its
// quota (per physical device), sessions open, compute weight and priority, call and byte
// counters, device time used.
//
// The supervisor creates one table (MAP_SHARED | MAP_ANONYMOUS, kMaxTenants slots) before it
// forks any worker, exactly like SessionTable, so every worker sees the same counters. A
// tenant's memory quota therefore counts across all of its sessions: a worker charges the
// tenant (try_charge) before it asks the driver for memory and uncharges after a free. When a
// worker dies, the supervisor uncharges whatever its SessionSlot still records (session_table.h).
//
// Ownership: the supervisor owns the table and is the only caller of upsert(); slots are never
// freed (a tenant removed by a reload keeps its slot so that its live sessions still account
// correctly; it simply gets no new sessions, because authentication no longer knows it).
//
// Thread/process safety: every mutable field is a lock-free atomic in shared memory, so any
// worker process may call try_charge/uncharge/try_open_session/close_session concurrently.
// `name` is written only by upsert() before the slot is published (in_use = 1, release order).
//
// Errors: upsert() returns -1 when all kMaxTenants slots are taken; find() returns -1 for an
// unknown name. REQUIRES: tenant index in [0, kMaxTenants) and device in [0, kMaxDevices) for
// slot()/try_charge()/uncharge(); out-of-range arguments are refused (false / no-op), never UB.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.h"

namespace gpool::server {

struct SessionSlot;  // session_table.h

inline constexpr int kMaxTenants = 256;
inline constexpr int kMaxDevices = 16;

struct TenantDeviceUsage {
  std::atomic<uint64_t> bytes_held{0};
  std::atomic<uint64_t> quota_bytes{0};  // 0 = unlimited
  std::atomic<uint64_t> device_time_ns{0};
};

struct TenantSlot {
  char name[64] = {};
  std::atomic<uint32_t> in_use{0};
  std::atomic<uint32_t> weight{1};
  std::atomic<uint32_t> priority{1};      // static_cast of Tenant::Priority
  std::atomic<uint32_t> max_sessions{0};  // 0 = unlimited
  std::atomic<uint32_t> sessions{0};      // sessions open now
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> oom_refusals{0};  // allocations refused by the quota
  // Host memory the tenant's workers hold for uploaded module images (issue 13, part 3):
  // charged before an upload is received, against image_quota (0 = unlimited).
  std::atomic<uint64_t> image_bytes{0};
  std::atomic<uint64_t> image_quota{0};
  // Image loads (issue 11): images whose bytes the tenant's clients sent, those bytes, and
  // images served from the server's public index without bytes (public_images.h).
  std::atomic<uint64_t> image_uploads{0};
  std::atomic<uint64_t> image_upload_bytes{0};
  std::atomic<uint64_t> public_image_loads{0};
  TenantDeviceUsage dev[kMaxDevices];
};

class TenantTable {
 public:
  TenantTable();  // throws std::bad_alloc when the shared mapping cannot be made
  ~TenantTable();
  TenantTable(const TenantTable&) = delete;
  TenantTable& operator=(const TenantTable&) = delete;

  // Finds the tenant's slot by name (or takes a free one) and sets weight, priority,
  // max_sessions and the memory quota of every device from `t`. Counters are kept.
  // Returns the index, or -1 when the table is full. Supervisor only.
  int upsert(const Tenant& t);
  // The index of the tenant named `name`, or -1.
  int find(std::string_view name) const;
  TenantSlot& slot(int index) { return slots_[index]; }
  const TenantSlot& slot(int index) const { return slots_[index]; }
  // Number of slots ever used (indices [0, used()) may be in use).
  int used() const;

  // Adds `bytes` to the tenant's usage on `device` unless that would exceed a non-zero quota.
  // Returns false (nothing charged, oom_refusals incremented) when it would.
  bool try_charge(int tenant, int device, uint64_t bytes);
  // Subtracts `bytes` (saturating at 0: a double uncharge can never wrap the counter).
  void uncharge(int tenant, int device, uint64_t bytes);

  // Host memory for module images (TenantSlot::image_bytes): the same, against image_quota.
  bool try_charge_images(int tenant, uint64_t bytes);
  void uncharge_images(int tenant, uint64_t bytes);

  // Counts a new session unless max_sessions (non-zero) are already open. Returns false then.
  bool try_open_session(int tenant);
  void close_session(int tenant);

  // The tenant's view of one device: total = min(quota, physical_total),
  // free = min(physical_free, quota - held) (quota 0: the physical numbers).
  void memory_view(int tenant, int device, uint64_t physical_free, uint64_t physical_total,
                   uint64_t& free_out, uint64_t& total_out) const;

 private:
  static bool valid(int tenant, int device);
  TenantSlot* slots_;  // shared mapping of kMaxTenants slots
};

// Binds a new session's slot to its tenant and counts the session against the tenant's
// max_sessions. Returns false (slot untouched) when the tenant already has max_sessions open.
// tenant < 0 (no accounting) always admits. Supervisor only.
bool admit_session(TenantTable& tenants, int tenant, SessionSlot& slot);
// Returns to the slot's tenant every byte the slot's dev_bytes[] still records, closes the
// tenant's session count and unbinds the slot. Idempotent. Supervisor only, after the worker
// has exited (or never started).
void settle_session(TenantTable& tenants, SessionSlot& slot);

}  // namespace gpool::server
