// Process-wide state: the handle registry, the device list, the logger.
#include "runtime.h"

#include "gpool/common/log.h"

#include <chrono>

namespace gpool::emu::rt {

spdlog::logger& log() {
  static spdlog::logger& l = gpool::log::logger("emulator");
  return l;
}

void Registry::add(Object* o) {
  std::unique_lock lock(mu_);
  live_[o] = o->kind;
}

void Registry::remove(Object* o) {
  std::unique_lock lock(mu_);
  live_.erase(o);
}

Object* Registry::find(const void* handle, Kind k) const {
  if (handle == nullptr) return nullptr;
  std::shared_lock lock(mu_);
  auto it = live_.find(handle);
  if (it == live_.end() || it->second != k) return nullptr;
  return static_cast<Object*>(const_cast<void*>(handle));
}

Registry& registry() {
  static auto* r = new Registry();  // never destroyed: used from atexit paths
  return *r;
}

Runtime& runtime() {
  static auto* r = new Runtime();
  return *r;
}

Device* device(CUdevice d) {
  auto& rt = runtime();
  if (d < 0 || static_cast<size_t>(d) >= rt.devices.size()) return nullptr;
  return rt.devices[static_cast<size_t>(d)].get();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace gpool::emu::rt
