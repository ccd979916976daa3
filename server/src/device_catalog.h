// The server's devices as the status answer describes them (name, UUID, PCI address, memory,
// compute capability), for clients that must not open a session to learn them: the NVML shim
// (nvml-shim/) and `gpool smi` read them with a status-only Hello.
//
// The supervisor never loads the backend (it forks workers), so the catalog is written by a
// process that has attached: the first worker (cold, warm or the one-off catalog child the
// supervisor forks at start, Supervisor::run) calls publish_devices() once the backend is
// attached. It lives in the PoolStats shared mapping. The first writer wins (state 0 -> 1 by
// compare-and-swap, the fields written, then state 2 with release order); readers use it only
// once they see state 2 (acquire), after which it never changes.
//
// Utilisation: the supervisor samples every tenant's metered device time (scheduler on) once a
// second (UtilisationSampler) and reports the busy share of the last whole second per device.
// Without the scheduler no device time is measured and no utilisation is reported.
//
// Thread safety: publish_devices() from any process; devices_json() and the sampler are the
// supervisor's (single thread).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tenant_table.h"

namespace gpool::server {

struct Attachment;  // worker.h

struct DeviceRecord {
  char name[96];
  uint8_t uuid[16];
  uint64_t total_bytes;
  int32_t pci_domain, pci_bus, pci_device;
  int32_t cc_major, cc_minor;
  int32_t sm_count;
};

struct DeviceCatalog {
  std::atomic<uint32_t> state{0};  // 0 empty, 1 being written, 2 published
  uint32_t count = 0;
  int32_t driver_version = 0;      // cuDriverGetVersion of the backend
  DeviceRecord devices[kMaxDevices] = {};
};

// Writes the attached backend's devices into `catalog` unless someone already did (or is).
void publish_devices(DeviceCatalog& catalog, Attachment& attached);

// Per physical device: the busy share (0..100) of the last whole sample period, or -1 when not
// measured (scheduler off, or no period completed yet).
class UtilisationSampler {
 public:
  // Takes a sample when a period of `period` has passed since the last one. `metered`: whether
  // the scheduler measures device time at all.
  void tick(const TenantTable& tenants, bool metered, std::chrono::steady_clock::time_point now,
            std::chrono::milliseconds period = std::chrono::milliseconds(1000));
  int percent(int device) const {
    return device >= 0 && device < kMaxDevices ? percent_[static_cast<size_t>(device)] : -1;
  }

 private:
  bool have_sample_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::array<uint64_t, kMaxDevices> busy_ns_{};
  std::array<int, kMaxDevices> percent_ = [] {
    std::array<int, kMaxDevices> a{};
    a.fill(-1);
    return a;
  }();
};

// The "devices" array of the status answer: the devices `allowed` names (physical ordinals,
// empty = all published ones) in ascending physical order, numbered from 0 as the tenant's
// sessions see them. `tenant` >= 0: that tenant's bytes held and quota per device; kAdminView
// (-1): the sum held by every tenant and quota 0; any other negative value (a tenant without
// accounting, the tenant table being full): 0 and 0, never other tenants' figures.
// Returns "[]" while nothing is published.
inline constexpr int kAdminView = -1;
std::string devices_json(const DeviceCatalog& catalog, const std::vector<int>& allowed,
                         const TenantTable& tenants, int tenant, const UtilisationSampler& util);

// The visible ordinals of `allowed` (as above): visible[i] = physical ordinal of device i.
std::vector<int> visible_physical(const DeviceCatalog& catalog, const std::vector<int>& allowed);

}  // namespace gpool::server
