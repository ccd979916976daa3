// cuInit, versions and device entry points. Devices are configured from
// GPOOL_EMU_* variables (docs/operations.md) once, by the first cuInit.
#include "runtime.h"

#include "context.h"
#include "device_attr.h"
#include "mempool.h"

#include "gpool/common/env.h"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace gpool::emu::rt {
namespace {

constexpr int kDriverVersion = 13000;

bool parse_cc(std::string_view s, int* major, int* minor) {
  auto dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= s.size()) return false;
  int a = 0, b = 0;
  for (char c : s.substr(0, dot)) {
    if (c < '0' || c > '9') return false;
    a = a * 10 + (c - '0');
  }
  for (char c : s.substr(dot + 1)) {
    if (c < '0' || c > '9') return false;
    b = b * 10 + (c - '0');
  }
  if (a < 5 || a > 13 || b > 9) return false;
  *major = a;
  *minor = b;
  return true;
}

// A stable UUID from the device's identity (name, ordinal, PCI location):
// FNV-1a over those bytes, spread over 16 bytes, RFC 4122 version 4 bits set.
CUuuid make_uuid(const Device& d) {
  uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull * 7;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h1 = (h1 ^ b[i]) * 1099511628211ull;
      h2 = (h2 ^ b[i] ^ (h1 >> 29)) * 0x100000001b3ull;
    }
  };
  mix(d.name.data(), d.name.size());
  int ids[5] = {d.ordinal, d.pci_domain, d.pci_bus, d.pci_device, d.prof.cc_major * 10 + d.prof.cc_minor};
  mix(ids, sizeof ids);
  CUuuid u{};
  std::memcpy(u.bytes, &h1, 8);
  std::memcpy(u.bytes + 8, &h2, 8);
  u.bytes[6] = static_cast<char>((u.bytes[6] & 0x0f) | 0x40);
  u.bytes[8] = static_cast<char>((u.bytes[8] & 0x3f) | 0x80);
  return u;
}

void create_devices() {
  auto& rt = runtime();
  int64_t count = gpool::env::get_int("GPOOL_EMU_DEVICES", 1);
  if (count < 1 || count > 16) {
    log().warn("ignoring GPOOL_EMU_DEVICES={}: expected 1 to 16; using 1", count);
    count = 1;
  }
  int major = kDefaultCcMajor, minor = kDefaultCcMinor;
  if (auto cc = gpool::env::get("GPOOL_EMU_CC"); cc && !parse_cc(*cc, &major, &minor)) {
    log().warn("ignoring GPOOL_EMU_CC=\"{}\": expected MAJOR.MINOR with MAJOR 5 to 13 and MINOR 0 to 9, such as "
               "12.0 or 7.5; using the default {}.{}",
               *cc, kDefaultCcMajor, kDefaultCcMinor);
    major = kDefaultCcMajor;
    minor = kDefaultCcMinor;
  }
  const int64_t sms = gpool::env::get_int("GPOOL_EMU_SMS", 0);
  const uint64_t mem = gpool::env::get_size("GPOOL_EMU_MEMORY", 16ull << 30);
  std::string name = gpool::env::get("GPOOL_EMU_DEVICE_NAME")
                         .value_or(fmt::format("gpool emulated GPU (sm_{}{})", major, minor));
  for (int i = 0; i < count; ++i) {
    auto d = std::make_unique<Device>();
    d->ordinal = i;
    d->name = name;
    d->total_mem = mem < (1ull << 20) ? (1ull << 20) : mem;
    d->prof = profile_for(major, minor, sms > 0 && sms < 100000 ? static_cast<int>(sms) : 0);
    d->pci_domain = 0;
    d->pci_bus = 0x18 + i;
    d->pci_device = 0;
    d->uuid = make_uuid(*d);
    rt.devices.push_back(std::move(d));
  }
  for (auto& d : rt.devices) {
    d->primary = context_create(d.get(), 0, true);
    d->default_pool = mempool_create_default(d->ordinal);
    d->current_pool = d->default_pool;
  }
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" const char* gpool_backend_name() { return "emulator"; }

extern "C" CUresult gpool_impl_cuInit(unsigned int Flags) {
  if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  static std::once_flag once;
  std::call_once(once, [] {
    create_devices();
    runtime().initialised.store(true, std::memory_order_release);
  });
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDriverGetVersion(int* driverVersion) {
  if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *driverVersion = kDriverVersion;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (gpool::emu::rt::device(ordinal) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  *count = static_cast<int>(runtime().devices.size());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetName(char* name, int len, CUdevice dev) {
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  const size_t n = std::min(d->name.size(), static_cast<size_t>(len) - 1);
  std::memcpy(name, d->name.data(), n);
  name[n] = '\0';
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = d->total_mem;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceTotalMem(unsigned int* bytes, CUdevice dev) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  size_t v = 0;
  CUresult r = gpool_impl_cuDeviceTotalMem_v2(&v, dev);
  if (r == CUDA_SUCCESS) *bytes = v > 0xffffffffull ? 0xffffffffu : static_cast<unsigned>(v);
  return r;
}

extern "C" CUresult gpool_impl_cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (!device_attribute(*d, static_cast<int>(attrib), pi)) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *uuid = d->uuid;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) {
  return gpool_impl_cuDeviceGetUuid_v2(uuid, dev);
}

extern "C" CUresult gpool_impl_cuDeviceGetLuid(char* luid, unsigned int* deviceNodeMask, CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  return CUDA_ERROR_NOT_SUPPORTED;  // LUIDs exist on Windows only
}

extern "C" CUresult gpool_impl_cuDeviceGetPCIBusId(char* pciBusId, int len, CUdevice dev) {
  if (pciBusId == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(pciBusId, static_cast<size_t>(len), "%08X:%02X:%02X.0", d->pci_domain, d->pci_bus,
                d->pci_device);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetByPCIBusId(CUdevice* dev, const char* pciBusId) {
  if (dev == nullptr || pciBusId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  // Accepted forms: [domain:]bus:device.function, hexadecimal.
  unsigned domain = 0, bus = 0, devno = 0, fn = 0;
  int n = std::sscanf(pciBusId, "%x:%x:%x.%x", &domain, &bus, &devno, &fn);
  if (n < 3) {
    domain = 0;
    n = std::sscanf(pciBusId, "%x:%x.%x", &bus, &devno, &fn);
    if (n < 2) return CUDA_ERROR_INVALID_VALUE;
  }
  for (auto& d : runtime().devices) {
    if (static_cast<unsigned>(d->pci_domain) == domain && static_cast<unsigned>(d->pci_bus) == bus &&
        static_cast<unsigned>(d->pci_device) == devno) {
      *dev = d->ordinal;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_DEVICE;
}

extern "C" CUresult gpool_impl_cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *major = d->prof.cc_major;
  *minor = d->prof.cc_minor;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetProperties(CUdevprop* prop, CUdevice dev) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  auto attr = [&](CUdevice_attribute a) {
    int v = 0;
    device_attribute(*d, a, &v);
    return v;
  };
  CUdevprop p{};
  p.maxThreadsPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
  p.maxThreadsDim[0] = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
  p.maxThreadsDim[1] = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
  p.maxThreadsDim[2] = attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
  p.maxGridSize[0] = attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
  p.maxGridSize[1] = attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
  p.maxGridSize[2] = attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
  p.sharedMemPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
  p.totalConstantMemory = attr(CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY);
  p.SIMDWidth = attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE);
  p.memPitch = attr(CU_DEVICE_ATTRIBUTE_MAX_PITCH);
  p.regsPerBlock = attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
  p.clockRate = attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
  p.textureAlign = attr(CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT);
  *prop = p;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceCanAccessPeer(int* canAccessPeer, CUdevice dev, CUdevice peerDev) {
  if (canAccessPeer == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr || device(peerDev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *canAccessPeer = dev != peerDev ? 1 : 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attrib,
                                                       CUdevice srcDevice, CUdevice dstDevice) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(srcDevice) == nullptr || device(dstDevice) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (srcDevice == dstDevice) return CUDA_ERROR_INVALID_DEVICE;
  switch (attrib) {
    case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK: *value = 0; break;
    case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED: *value = 1; break;
    case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED: *value = 1; break;
    case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED: *value = 0; break;
    case CU_DEVICE_P2P_ATTRIBUTE_ONLY_PARTIAL_NATIVE_ATOMIC_SUPPORTED: *value = 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetTexture1DLinearMaxWidth(size_t* maxWidthInElements,
                                                                  CUarray_format format,
                                                                  unsigned numChannels, CUdevice dev) {
  if (maxWidthInElements == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (numChannels != 1 && numChannels != 2 && numChannels != 4) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *maxWidthInElements = 1ull << 28;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleGetLoadingMode(CUmoduleLoadingMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  *mode = CU_MODULE_LAZY_LOADING;
  return CUDA_SUCCESS;
}
