// nvmlDevice* queries: handles, identity (name, UUID, PCI address, compute capability), the
// tenant's memory view, utilisation, compute mode and the tenant's running processes.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>

#include "export.h"
#include "state.h"

namespace {

namespace nv = gpool::nvml;

nvmlReturn_t copy_text(const std::string& text, char* out, unsigned length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (text.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return NVML_SUCCESS;
}

std::string bus_id(const gpool::client::DeviceView& d, bool legacy) {
  return legacy ? fmt::format("{:04X}:{:02X}:{:02X}.0", d.pci_domain, d.pci_bus, d.pci_device)
                : fmt::format("{:08X}:{:02X}:{:02X}.0", d.pci_domain, d.pci_bus, d.pci_device);
}

// "domain:bus:device.function" (domain of any width) or "bus:device.function", hex.
bool parse_bus_id(const char* text, unsigned& domain, unsigned& bus, unsigned& device) {
  unsigned fn = 0;
  int used = 0;
  if (std::sscanf(text, "%x:%x:%x.%x%n", &domain, &bus, &device, &fn, &used) == 4 && text[used] == '\0') return true;
  domain = 0;
  used = 0;
  return std::sscanf(text, "%x:%x.%x%n", &bus, &device, &fn, &used) == 3 && text[used] == '\0';
}

// The device behind a handle, as `query(const nv::Device&)` reads it: the one place a query
// turns a handle into its device (NVML_ERROR_INVALID_ARGUMENT / UNINITIALIZED from device_of).
template <typename Query>
nvmlReturn_t with_device(nvmlDevice_t device, Query&& query) {
  nv::Device d;
  if (nvmlReturn_t r = nv::device_of(device, d); r != NVML_SUCCESS) return r;
  return query(static_cast<const nv::Device&>(d));
}

// The handle of the first device (in handle order) for which `match(info)` holds, else
// NVML_ERROR_NOT_FOUND.
template <typename Match>
nvmlReturn_t find_handle(Match&& match, nvmlDevice_t& out) {
  std::vector<nv::Device> all;
  if (nvmlReturn_t r = nv::all_devices(all); r != NVML_SUCCESS) return r;
  for (size_t i = 0; i < all.size(); ++i) {
    if (match(all[i].info)) return nv::handle_of(static_cast<unsigned>(i), out);
  }
  return NVML_ERROR_NOT_FOUND;
}

// The server's current view of `d` (its live status row); `same_uuid` also requires the row to
// be the same physical device (else NVML_ERROR_GPU_IS_LOST, as when the row is missing).
nvmlReturn_t live_device(const nv::Device& d, bool same_uuid, gpool::client::DeviceView& out) {
  gpool::client::StatusView live;
  if (nvmlReturn_t r = nv::live_status(d.server, live); r != NVML_SUCCESS) return r;
  const auto it = std::find_if(live.devices.begin(), live.devices.end(),
                               [&](const gpool::client::DeviceView& v) { return v.index == d.info.index; });
  if (it == live.devices.end() || (same_uuid && it->uuid != d.info.uuid)) return NVML_ERROR_GPU_IS_LOST;
  out = *it;
  return NVML_SUCCESS;
}

// The device's memory as its tenant sees it: total = min(quota, physical) (physical without a
// quota), used = the bytes the tenant holds on it, free = total - used.
// Fills total/used/free of nvmlMemory_t or nvmlMemory_v2_t (their other fields untouched).
template <typename Memory>
nvmlReturn_t memory_view(nvmlDevice_t device, Memory& out) {
  return with_device(device, [&](const nv::Device& d) {
    gpool::client::DeviceView v;
    if (nvmlReturn_t r = live_device(d, true, v); r != NVML_SUCCESS) return r;
    const unsigned long long total = v.quota_bytes > 0 ? std::min(v.quota_bytes, v.total_bytes) : v.total_bytes;
    const unsigned long long used = std::min<unsigned long long>(v.bytes_held, total);
    out.total = total;
    out.used = used;
    out.free = total - used;
    return NVML_SUCCESS;
  });
}

// The viewer's sessions on `device`: every session holding memory there, and a session holding
// none anywhere on its server's device 0 (where a session starts).
template <typename Info>
nvmlReturn_t processes(nvmlDevice_t device, unsigned* count, Info* infos, bool graphics) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return with_device(device, [&](const nv::Device& d) {
    std::vector<Info> found;
    if (!graphics) {  // a pool runs compute sessions only
      gpool::client::StatusView live;
      if (nvmlReturn_t r = nv::live_status(d.server, live); r != NVML_SUCCESS) return r;
      const size_t at = static_cast<size_t>(d.info.index);
      for (const gpool::client::SessionView& s : live.sessions) {
        const uint64_t here = at < s.device_bytes.size() ? s.device_bytes[at] : 0;
        const bool none = std::all_of(s.device_bytes.begin(), s.device_bytes.end(), [](uint64_t b) { return b == 0; });
        if (here == 0 && !(none && at == 0)) continue;
        Info info{};
        info.pid = s.client_pid;
        info.usedGpuMemory = here;
        if constexpr (sizeof(Info) > sizeof(nvmlProcessInfo_v1_t)) {
          info.gpuInstanceId = 0xFFFFFFFFu;  // no MIG
          info.computeInstanceId = 0xFFFFFFFFu;
        }
        found.push_back(info);
      }
    }
    const unsigned room = *count;
    *count = static_cast<unsigned>(found.size());
    if (found.size() > room) return NVML_ERROR_INSUFFICIENT_SIZE;
    if (!found.empty() && infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    std::copy(found.begin(), found.end(), infos);
    return NVML_SUCCESS;
  });
}

}  // namespace

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* deviceCount) {
  if (deviceCount == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return nv::device_count(*deviceCount);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int* deviceCount) {
  return nvmlDeviceGetCount_v2(deviceCount);
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return nv::handle_of(index, *device);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByIndex_v2(index, device);
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  auto lower = [](std::string t) {
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    return t;
  };
  const std::string want = lower(uuid);
  return find_handle([&](const gpool::client::DeviceView& d) { return lower(d.uuid) == want; }, *device);
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char* pciBusId, nvmlDevice_t* device) {
  if (pciBusId == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!nv::initialised()) return NVML_ERROR_UNINITIALIZED;  // before a malformed address, as NVML
  unsigned domain = 0, bus = 0, dev = 0;
  if (!parse_bus_id(pciBusId, domain, bus, dev)) return NVML_ERROR_INVALID_ARGUMENT;
  // Two servers may report the same address; the first device with it is found, as NVML
  // finds one device per address.
  return find_handle(
      [&](const gpool::client::DeviceView& d) {
        return static_cast<unsigned>(d.pci_domain) == domain && static_cast<unsigned>(d.pci_bus) == bus &&
               static_cast<unsigned>(d.pci_device) == dev;
      },
      *device);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char* pciBusId, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByPciBusId_v2(pciBusId, device);
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int* index) {
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nv::Device d;
  return nv::device_of(device, d, index);
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  return with_device(device, [&](const nv::Device& d) { return copy_text(d.info.name, name, length); });
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  return with_device(device, [&](const nv::Device& d) { return copy_text(d.info.uuid, uuid, length); });
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return with_device(device, [&](const nv::Device& d) {
    *pci = {};
    std::snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%s", bus_id(d.info, true).c_str());
    std::snprintf(pci->busId, sizeof pci->busId, "%s", bus_id(d.info, false).c_str());
    pci->domain = static_cast<unsigned>(d.info.pci_domain);
    pci->bus = static_cast<unsigned>(d.info.pci_bus);
    pci->device = static_cast<unsigned>(d.info.pci_device);
    // No PCI device or subsystem id reaches the pool (the CUDA driver API has none): 0.
    return NVML_SUCCESS;
  });
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return nvmlDeviceGetPciInfo_v3(device, pci);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_v1_t* pci) {
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlPciInfo_t full;
  if (nvmlReturn_t r = nvmlDeviceGetPciInfo_v3(device, &full); r != NVML_SUCCESS) return r;
  *pci = {};
  std::memcpy(pci->busId, full.busIdLegacy, sizeof pci->busId);
  pci->domain = full.domain;
  pci->bus = full.bus;
  pci->device = full.device;
  return NVML_SUCCESS;
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  if (major == nullptr || minor == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return with_device(device, [&](const nv::Device& d) {
    *major = d.info.cc_major;
    *minor = d.info.cc_minor;
    return NVML_SUCCESS;
  });
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return memory_view(device, *memory);
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  if (nvmlReturn_t r = memory_view(device, *memory); r != NVML_SUCCESS) return r;
  memory->reserved = 0;  // the pool reserves nothing of a tenant's quota
  return NVML_SUCCESS;
}

// The busy share of the device over the server's last one-second sample, measured from the
// device time its scheduler charges (server `scheduler = true`); without the scheduler the server
// measures nothing, and in its first second no sample is complete: NVML_ERROR_NOT_SUPPORTED then.
// Memory utilisation is not measured: 0.
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
  if (utilization == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return with_device(device, [&](const nv::Device& d) {
    gpool::client::DeviceView v;
    if (nvmlReturn_t r = live_device(d, false, v); r != NVML_SUCCESS) return r;
    if (v.utilization < 0) {
      return nv::unsupported("nvmlDeviceGetUtilizationRates",
                             "the server reports no utilisation: its scheduler is off, or it started less "
                             "than a second ago");
    }
    utilization->gpu = static_cast<unsigned>(v.utilization);
    utilization->memory = 0;
    return NVML_SUCCESS;
  });
}

// A sensor the server does not report: the handle is checked first, then the output pointer.
nvmlReturn_t no_sensor(nvmlDevice_t device, const void* out, const char* name, const char* why) {
  return with_device(device, [&](const nv::Device&) {
    return out == nullptr ? NVML_ERROR_INVALID_ARGUMENT : nv::unsupported(name, why);
  });
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t, unsigned int* temp) {
  return no_sensor(device, temp, "nvmlDeviceGetTemperature", "the server reports no temperature");
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* power) {
  return no_sensor(device, power, "nvmlDeviceGetPowerUsage", "the server reports no power draw");
}

// Sessions of every tenant share a device (the server's scheduler divides it), as under the
// default compute mode.
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t* mode) {
  if (mode == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return with_device(device, [&](const nv::Device&) {
    *mode = NVML_COMPUTEMODE_DEFAULT;
    return NVML_SUCCESS;
  });
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int* infoCount,
                                                                       nvmlProcessInfo_t* infos) {
  return processes(device, infoCount, infos, false);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int* infoCount,
                                                                       nvmlProcessInfo_t* infos) {
  return processes(device, infoCount, infos, false);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int* infoCount,
                                                                    nvmlProcessInfo_v1_t* infos) {
  return processes(device, infoCount, infos, false);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int* infoCount,
                                                                        nvmlProcessInfo_t* infos) {
  return processes(device, infoCount, infos, true);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device, unsigned int* infoCount,
                                                                        nvmlProcessInfo_t* infos) {
  return processes(device, infoCount, infos, true);
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device, unsigned int* infoCount,
                                                                     nvmlProcessInfo_v1_t* infos) {
  return processes(device, infoCount, infos, true);
}
