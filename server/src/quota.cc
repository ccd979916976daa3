#include "quota.h"

#include <algorithm>

namespace gpool::server {

bool Quota::charge(int device, uint64_t bytes) {
  if (device < 0 || device >= kMaxDevices) return false;
  if (accounted() && !tenants_->try_charge(tenant_, device, bytes)) return false;
  slot_.dev_bytes[device].fetch_add(bytes, std::memory_order_acq_rel);
  return true;
}

void Quota::uncharge(int device, uint64_t bytes) {
  if (device < 0 || device >= kMaxDevices) return;
  // Session slot first, tenant second (session_table.h: a kill in between can only over-count).
  uint64_t cur = slot_.dev_bytes[device].load(std::memory_order_relaxed);
  while (!slot_.dev_bytes[device].compare_exchange_weak(cur, cur > bytes ? cur - bytes : 0)) {
  }
  if (accounted()) tenants_->uncharge(tenant_, device, bytes);
}

uint64_t Quota::tenant_total(int device, uint64_t physical_total) const {
  if (!accounted()) return physical_total;
  uint64_t free_bytes = 0, total = 0;
  tenants_->memory_view(tenant_, device, physical_total, physical_total, free_bytes, total);
  return total;
}

void Quota::memory_view(int device, uint64_t physical_free, uint64_t physical_total,
                        uint64_t& free_out, uint64_t& total_out) const {
  free_out = physical_free;
  total_out = physical_total;
  if (accounted()) tenants_->memory_view(tenant_, device, physical_free, physical_total, free_out, total_out);
}

uint64_t Quota::tenant_held(int device) const {
  if (!accounted() || device < 0 || device >= kMaxDevices) return 0;
  return tenants_->slot(tenant_).dev[device].bytes_held.load();
}

uint64_t Quota::tenant_quota(int device) const {
  if (!accounted() || device < 0 || device >= kMaxDevices) return 0;
  return tenants_->slot(tenant_).dev[device].quota_bytes.load();
}

void Quota::hold(uint64_t bytes) {
  held_ += bytes;
  slot_.bytes_held.store(held_);
}

void Quota::release(uint64_t bytes) {
  held_ -= std::min(held_, bytes);
  slot_.bytes_held.store(held_);
}

}  // namespace gpool::server
