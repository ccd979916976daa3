#include "device_catalog.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "metrics.h"
#include "worker.h"

namespace gpool::server {

void publish_devices(DeviceCatalog& catalog, Attachment& attached) {
  if (!attached.ok) return;
  uint32_t expected = 0;
  if (!catalog.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  Driver& drv = attached.drv;
  const size_t n = std::min<size_t>(attached.contexts.size(), kMaxDevices);
  for (size_t i = 0; i < n; ++i) {
    DeviceRecord& r = catalog.devices[i];
    CUdevice dev = 0;
    if (drv.cuDeviceGet(&dev, static_cast<int>(i)) != CUDA_SUCCESS) continue;
    drv.cuDeviceGetName(r.name, sizeof r.name - 1, dev);
    size_t total = 0;
    drv.cuDeviceTotalMem_v2(&total, dev);
    r.total_bytes = total;
    CUuuid uuid{};
    drv.cuDeviceGetUuid_v2(&uuid, dev);
    std::memcpy(r.uuid, uuid.bytes, sizeof r.uuid);
    auto attr = [&](CUdevice_attribute a) {
      int v = 0;
      return drv.cuDeviceGetAttribute(&v, a, dev) == CUDA_SUCCESS ? v : 0;
    };
    r.pci_domain = attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID);
    r.pci_bus = attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID);
    r.pci_device = attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
    r.cc_major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    r.cc_minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    r.sm_count = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  }
  int version = 0;
  drv.cuDriverGetVersion(&version);
  catalog.driver_version = version;
  catalog.count = static_cast<uint32_t>(n);
  catalog.state.store(2, std::memory_order_release);
}

void UtilisationSampler::tick(const TenantTable& tenants, bool metered,
                              std::chrono::steady_clock::time_point now, std::chrono::milliseconds period) {
  if (!metered) return;
  if (have_sample_ && now - last_ < period) return;
  std::array<uint64_t, kMaxDevices> busy{};
  for (int t = 0; t < tenants.used(); ++t) {
    const TenantSlot& s = tenants.slot(t);
    if (s.in_use.load(std::memory_order_acquire) == 0) continue;
    for (size_t d = 0; d < busy.size(); ++d) busy[d] += s.dev[d].device_time_ns.load();
  }
  if (have_sample_) {
    const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count();
    for (size_t d = 0; d < busy.size(); ++d) {
      const uint64_t delta = busy[d] >= busy_ns_[d] ? busy[d] - busy_ns_[d] : 0;
      const double share = wall > 0 ? 100.0 * static_cast<double>(delta) / static_cast<double>(wall) : 0;
      percent_[d] = static_cast<int>(std::clamp(share + 0.5, 0.0, 100.0));
    }
  }
  busy_ns_ = busy;
  last_ = now;
  have_sample_ = true;
}

std::vector<int> visible_physical(const DeviceCatalog& catalog, const std::vector<int>& allowed) {
  std::vector<int> out;
  if (catalog.state.load(std::memory_order_acquire) != 2) return out;
  for (int d = 0; d < static_cast<int>(catalog.count); ++d) {
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), d) != allowed.end()) out.push_back(d);
  }
  return out;
}

std::string devices_json(const DeviceCatalog& catalog, const std::vector<int>& allowed,
                         const TenantTable& tenants, int tenant, const UtilisationSampler& util) {
  std::string out = "[";
  const std::vector<int> shown = visible_physical(catalog, allowed);
  for (size_t i = 0; i < shown.size(); ++i) {
    const int d = shown[i];
    const DeviceRecord& r = catalog.devices[d];
    uint64_t held = 0, quota = 0;
    if (tenant >= 0) {
      held = tenants.slot(tenant).dev[d].bytes_held.load();
      quota = tenants.slot(tenant).dev[d].quota_bytes.load();
    } else if (tenant == kAdminView) {
      for (int t = 0; t < tenants.used(); ++t) {
        if (tenants.slot(t).in_use.load(std::memory_order_acquire) != 0) held += tenants.slot(t).dev[d].bytes_held.load();
      }
    }
    std::string uuid;
    for (int b = 0; b < 16; ++b) {
      if (b == 4 || b == 6 || b == 8 || b == 10) uuid += '-';
      uuid += fmt::format("{:02x}", r.uuid[b]);
    }
    out += fmt::format(
        "{}{{\"index\":{},\"physical\":{},\"name\":{},\"uuid\":\"GPU-{}\",\"pci_domain\":{},\"pci_bus\":{},"
        "\"pci_device\":{},\"total_bytes\":{},\"quota_bytes\":{},\"bytes_held\":{},\"cc\":\"{}.{}\","
        "\"sm_count\":{}",
        i ? "," : "", i, d, json_string(r.name), uuid, r.pci_domain, r.pci_bus, r.pci_device, r.total_bytes,
        quota, held, r.cc_major, r.cc_minor, r.sm_count);
    if (util.percent(d) >= 0) out += fmt::format(",\"utilization_percent\":{}", util.percent(d));
    out += "}";
  }
  return out + "]";
}

}  // namespace gpool::server
