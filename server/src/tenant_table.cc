#include "tenant_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "gpool/common/log.h"
#include "session_table.h"

namespace gpool::server {

static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters must be lock-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared counters must be lock-free");

TenantTable::TenantTable() {
  void* p = ::mmap(nullptr, kMaxTenants * sizeof(TenantSlot), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    log::logger("server").critical("mmap of the tenant table failed: {}", std::strerror(errno));
    throw std::bad_alloc();
  }
  slots_ = static_cast<TenantSlot*>(p);
  for (int i = 0; i < kMaxTenants; ++i) new (&slots_[i]) TenantSlot();
}

TenantTable::~TenantTable() { ::munmap(slots_, kMaxTenants * sizeof(TenantSlot)); }

bool TenantTable::valid(int tenant, int device) {
  return tenant >= 0 && tenant < kMaxTenants && device >= 0 && device < kMaxDevices;
}

int TenantTable::find(std::string_view name) const {
  if (name.empty() || name.size() >= sizeof(TenantSlot::name)) return -1;
  for (int i = 0; i < kMaxTenants; ++i) {
    const TenantSlot& s = slots_[i];
    if (s.in_use.load(std::memory_order_acquire) == 0) continue;
    if (name == std::string_view(s.name)) return i;
  }
  return -1;
}

int TenantTable::used() const {
  int n = 0;
  for (int i = 0; i < kMaxTenants; ++i) {
    if (slots_[i].in_use.load(std::memory_order_acquire) != 0) n = i + 1;
  }
  return n;
}

int TenantTable::upsert(const Tenant& t) {
  if (t.name.empty() || t.name.size() >= sizeof(TenantSlot::name)) return -1;
  int index = find(t.name);
  if (index < 0) {
    for (int i = 0; i < kMaxTenants; ++i) {
      if (slots_[i].in_use.load(std::memory_order_acquire) == 0) {
        index = i;
        break;
      }
    }
    if (index < 0) return -1;
    std::memset(slots_[index].name, 0, sizeof(TenantSlot::name));
    std::memcpy(slots_[index].name, t.name.data(), t.name.size());
  }
  TenantSlot& s = slots_[index];
  s.weight.store(std::max(1u, t.weight));
  s.priority.store(static_cast<uint32_t>(t.priority));
  s.max_sessions.store(t.max_sessions);
  for (auto& d : s.dev) d.quota_bytes.store(t.memory_quota);
  s.image_quota.store(t.image_memory);
  s.in_use.store(1, std::memory_order_release);
  return index;
}

bool TenantTable::try_charge(int tenant, int device, uint64_t bytes) {
  if (!valid(tenant, device)) return false;
  TenantSlot& s = slots_[tenant];
  TenantDeviceUsage& u = s.dev[device];
  uint64_t held = u.bytes_held.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t quota = u.quota_bytes.load(std::memory_order_relaxed);
    const bool over = bytes > UINT64_MAX - held || (quota != 0 && held + bytes > quota);
    if (over) {
      s.oom_refusals.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (u.bytes_held.compare_exchange_weak(held, held + bytes, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
      return true;
    }
  }
}

void TenantTable::uncharge(int tenant, int device, uint64_t bytes) {
  if (!valid(tenant, device) || bytes == 0) return;
  std::atomic<uint64_t>& held = slots_[tenant].dev[device].bytes_held;
  uint64_t cur = held.load(std::memory_order_relaxed);
  while (!held.compare_exchange_weak(cur, cur > bytes ? cur - bytes : 0, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
  }
}

bool TenantTable::try_charge_images(int tenant, uint64_t bytes) {
  if (!valid(tenant, 0)) return false;
  TenantSlot& s = slots_[tenant];
  uint64_t held = s.image_bytes.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t quota = s.image_quota.load(std::memory_order_relaxed);
    if (bytes > UINT64_MAX - held || (quota != 0 && held + bytes > quota)) return false;
    if (s.image_bytes.compare_exchange_weak(held, held + bytes, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
      return true;
    }
  }
}

void TenantTable::uncharge_images(int tenant, uint64_t bytes) {
  if (!valid(tenant, 0) || bytes == 0) return;
  std::atomic<uint64_t>& held = slots_[tenant].image_bytes;
  uint64_t cur = held.load(std::memory_order_relaxed);
  while (!held.compare_exchange_weak(cur, cur > bytes ? cur - bytes : 0, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
  }
}

bool TenantTable::try_open_session(int tenant) {
  if (!valid(tenant, 0)) return false;
  TenantSlot& s = slots_[tenant];
  uint32_t cur = s.sessions.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t max = s.max_sessions.load(std::memory_order_relaxed);
    if (max != 0 && cur >= max) return false;
    if (s.sessions.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
      return true;
    }
  }
}

void TenantTable::close_session(int tenant) {
  if (!valid(tenant, 0)) return;
  std::atomic<uint32_t>& n = slots_[tenant].sessions;
  uint32_t cur = n.load(std::memory_order_relaxed);
  while (cur > 0 && !n.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
  }
}

void TenantTable::memory_view(int tenant, int device, uint64_t physical_free,
                              uint64_t physical_total, uint64_t& free_out,
                              uint64_t& total_out) const {
  free_out = physical_free;
  total_out = physical_total;
  if (!valid(tenant, device)) return;
  const TenantDeviceUsage& u = slots_[tenant].dev[device];
  const uint64_t quota = u.quota_bytes.load(std::memory_order_relaxed);
  if (quota == 0) return;
  const uint64_t held = u.bytes_held.load(std::memory_order_relaxed);
  total_out = std::min(quota, physical_total);
  free_out = std::min(physical_free, quota > held ? quota - held : 0);
}

bool admit_session(TenantTable& tenants, int tenant, SessionSlot& slot) {
  if (tenant >= 0 && !tenants.try_open_session(tenant)) return false;
  slot.tenant.store(tenant);
  return true;
}

void settle_session(TenantTable& tenants, SessionSlot& slot) {
  const int tenant = slot.tenant.exchange(-1);
  for (int d = 0; d < kMaxDevices; ++d) {
    const uint64_t bytes = slot.dev_bytes[d].exchange(0);
    if (tenant >= 0) tenants.uncharge(tenant, d, bytes);
  }
  const uint64_t images = slot.image_bytes.exchange(0);
  if (tenant >= 0) tenants.uncharge_images(tenant, images);
  if (tenant >= 0) tenants.close_session(tenant);
}

}  // namespace gpool::server
