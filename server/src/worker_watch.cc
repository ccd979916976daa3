#include "worker_watch.h"

#include <thread>

namespace gpool::server {

uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch()).count());
}

void start_heartbeat(SessionSlot& slot) {
  slot.heartbeat_ns.store(steady_ns(), std::memory_order_relaxed);
  std::thread([&slot] {
    for (;;) {
      std::this_thread::sleep_for(kHeartbeatPeriod);
      slot.heartbeat_ns.store(steady_ns(), std::memory_order_relaxed);
    }
  }).detach();  // lives as long as the process; the worker ends with _exit
}

KernelWait::KernelWait(SessionSlot& slot) : slot_(slot), outer_(slot.kernel_since_ns.load() == 0) {
  if (outer_) slot_.kernel_since_ns.store(steady_ns());
}

KernelWait::~KernelWait() {
  if (outer_) slot_.kernel_since_ns.store(0);
}

WatchVerdict judge(const SessionSlot& slot, uint64_t now_ns, unsigned watchdog_ms, unsigned max_kernel_ms) {
  WatchVerdict v;
  const uint64_t hb = slot.heartbeat_ns.load(std::memory_order_relaxed);
  const uint64_t since = slot.kernel_since_ns.load(std::memory_order_relaxed);
  if (hb != 0 && now_ns > hb) v.heartbeat_age_s = static_cast<double>(now_ns - hb) / 1e9;
  if (since != 0 && now_ns > since) v.kernel_s = static_cast<double>(now_ns - since) / 1e9;
  if (watchdog_ms > 0 && v.heartbeat_age_s * 1000.0 >= watchdog_ms) {
    v.state = WatchVerdict::State::end_stalled;
  } else if (max_kernel_ms > 0 && v.kernel_s * 1000.0 >= max_kernel_ms) {
    v.state = WatchVerdict::State::end_kernel_time;
  } else if (v.heartbeat_age_s * 1000.0 >= static_cast<double>(kLateAfter.count())) {
    v.state = WatchVerdict::State::late;
  }
  return v;
}

const char* state_name(WatchVerdict::State s) {
  switch (s) {
    case WatchVerdict::State::ok: return "running";
    case WatchVerdict::State::late: return "stuck";
    case WatchVerdict::State::end_stalled: return "stuck";
    case WatchVerdict::State::end_kernel_time: return "over_max_kernel_ms";
  }
  return "?";
}

}  // namespace gpool::server
