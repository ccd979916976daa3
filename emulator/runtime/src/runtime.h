// The emulator runtime's shared state: initialisation, devices, handle
// validation and small helpers every entry-point file (device.cc,
// context.cc, memory.cc, ...) uses.
//
// Ownership: everything created through the driver API is owned by the
// runtime and reached through opaque handles. Handles are raw pointers to
// objects that derive from Object; every handle passed in by a program is
// checked against a registry of live objects before it is used, so a forged
// or stale handle gives CUDA_ERROR_INVALID_HANDLE (or INVALID_CONTEXT /
// INVALID_VALUE where CUDA documents that), never a crash.
//
// Thread safety: every function here may be called from any thread.
// Devices are created once by cuInit and never change afterwards.
//
// Errors: helpers return a CUresult; CUDA_SUCCESS means every output was
// written.
#pragma once

#include "gpool/driver_abi/backend.h"

#include "gpool/common/log.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>


namespace gpool::emu::rt {

spdlog::logger& log();

// What kind of object a handle points at.
enum class Kind : uint32_t {
  Context = 1,
  Stream,
  Event,
  Module,
  Function,
  Library,
  MemPool,
  Array,
  MipmappedArray,
  Graph,
  GraphNode,
  GraphExec,
  LinkState,
  UserObject,
};

// Base of every object a handle refers to.
struct Object {
  explicit Object(Kind k) : kind(k) {}
  virtual ~Object() = default;
  Kind kind;
};

// The set of live objects. add() on creation, remove() before destruction.
class Registry {
 public:
  void add(Object* o);
  void remove(Object* o);
  // Returns `handle` as T when it is a live object of kind `k`, else nullptr.
  Object* find(const void* handle, Kind k) const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<const void*, Kind> live_;
};
Registry& registry();

template <class T>
T* lookup(const void* handle) {
  return static_cast<T*>(registry().find(handle, T::kKind));
}

// Capability-dependent numbers of an emulated device (see device_profile.cc; the member
// defaults are the 9.0 / H100 SXM profile).
struct DeviceProfile {
  int cc_major = 9, cc_minor = 0;
  int sms = 132;
  int max_threads_per_sm = 2048;
  int max_blocks_per_sm = 32;
  int regs_per_sm = 65536;
  int regs_per_block = 65536;
  int shared_per_sm = 233472;        // 228 KiB
  int shared_per_block = 49152;      // 48 KiB default
  int shared_per_block_optin = 232448;  // 227 KiB
  int reserved_shared_per_block = 1024;
  int clock_khz = 1980000;
  int mem_clock_khz = 2619000;
  int bus_width = 5120;
  int l2_bytes = 52428800;
  int max_persisting_l2 = 32505856;
  int const_bytes = 65536;
  int cluster_launch = 1;
  int max_grid_y = 65535;
  int fp32_per_fp64 = 2;  // CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO
  int ecc = 1;            // CU_DEVICE_ATTRIBUTE_ECC_ENABLED
};
// The compute capability the emulator presents when GPOOL_EMU_CC is not set: 13.0, newer than
// every SASS in the CUDA 13 toolkit, so that CUDA libraries and nvcc-default programs run from
// their PTX (docs/emulator.md, "Device profiles").
inline constexpr int kDefaultCcMajor = 13, kDefaultCcMinor = 0;
DeviceProfile profile_for(int cc_major, int cc_minor, int sms_override);

struct Context;
struct MemPool;

struct Device {
  int ordinal = 0;
  std::string name;
  uint64_t total_mem = 0;
  DeviceProfile prof;
  int pci_domain = 0, pci_bus = 0, pci_device = 0;
  CUuuid uuid{};
  Context* primary = nullptr;        // lives for the process
  MemPool* default_pool = nullptr;   // lives for the process
  std::atomic<MemPool*> current_pool{nullptr};
};

// Process-wide runtime state.
struct Runtime {
  std::atomic<bool> initialised{false};
  std::vector<std::unique_ptr<Device>> devices;
};
Runtime& runtime();

// CUDA_ERROR_NOT_INITIALIZED until cuInit succeeded.
inline CUresult check_init() {
  return runtime().initialised.load(std::memory_order_acquire) ? CUDA_SUCCESS
                                                               : CUDA_ERROR_NOT_INITIALIZED;
}

// The device with ordinal `d`, or nullptr.
Device* device(CUdevice d);

// Monotonic nanoseconds.
int64_t now_ns();

// Round `v` up to a multiple of `a` (a power of two).
inline uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

}  // namespace gpool::emu::rt
