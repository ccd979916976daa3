// Quota: the session's side of the tenant's memory quota (tenant_table.h) and of the bytes the
// session publishes in its SessionSlot (session_table.h).
//
// Every device byte the session asks the driver for is charged here first: charge() adds it to
// the tenant's per-device count (refused, nothing changed, when it would pass the tenant's
// quota) and then to the slot's dev_bytes[], so the supervisor can give it back if the worker
// dies. uncharge() undoes one charge, slot first then tenant (a kill in between can only
// over-count, never under-count; both counters saturate at 0). Without a tenant table (or with
// tenant index -1) there is no quota: charge() always succeeds and only the slot counts.
//
// held() is the session's own count of what it holds (allocations, module globals, VMM
// physical memory), mirrored into SessionSlot::bytes_held for the metrics; hold()/release()
// move it and are independent of charge()/uncharge() (arrays are charged but not counted as
// held, as before the tables were split).
//
// Device indices are physical ordinals in [0, kMaxDevices); others are refused by charge()
// (false) and ignored by uncharge(). Ownership: borrows the tenant table and the slot, which
// outlive the worker. Thread safety: the worker's one thread (the counters it writes are
// atomics shared with the supervisor).
#pragma once

#include <cstdint>
#include <string>

#include "session_table.h"
#include "tenant_table.h"

namespace gpool::server {

class Quota {
 public:
  Quota(TenantTable* tenants, int tenant_index, SessionSlot& slot)
      : tenants_(tenants), tenant_(tenant_index), slot_(slot) {}

  // True and counted when `bytes` fit the tenant's quota on physical device `device`.
  bool charge(int device, uint64_t bytes);
  void uncharge(int device, uint64_t bytes);
  // The tenant's view of a device: total = min(quota, physical); free likewise (tenant_table.h).
  uint64_t tenant_total(int device, uint64_t physical_total) const;
  void memory_view(int device, uint64_t physical_free, uint64_t physical_total, uint64_t& free_out,
                   uint64_t& total_out) const;
  // What the tenant holds on `device` and its quota there (0 = none), for log lines.
  uint64_t tenant_held(int device) const;
  uint64_t tenant_quota(int device) const;

  void hold(uint64_t bytes);
  void release(uint64_t bytes);  // saturating at 0
  uint64_t held() const { return held_; }
  // Publishes the session's allocation count (SessionSlot::allocations).
  void set_allocation_count(uint64_t n) { slot_.allocations.store(n); }

 private:
  bool accounted() const { return tenants_ != nullptr && tenant_ >= 0; }
  TenantTable* tenants_;
  int tenant_;
  SessionSlot& slot_;
  uint64_t held_ = 0;
};

}  // namespace gpool::server
