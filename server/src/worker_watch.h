// Liveness of session workers: the worker's heartbeat, what its main thread is doing, and the
// supervisor's judgement of both (issue 13, part 5).
//
// Worker side (worker process, any thread): start_heartbeat() starts one detached thread that
// stores the steady clock into SessionSlot::heartbeat_ns every kHeartbeatPeriod for the life of
// the process. A stopped (SIGSTOP), swapped-out or wedged process stops beating. KernelWait
// marks, for its scope, that the main thread waits for device work (a launch or a
// synchronization): SessionSlot::kernel_since_ns, which the tenant's max_kernel_ms bounds.
//
// Supervisor side: judge() reads a slot and says whether the session is healthy, late (no
// heartbeat for kLateAfter: shown as "stuck" in the status), to be ended because its heartbeat
// stopped for watchdog_ms, or to be ended because one wait for device work exceeded the
// tenant's max_kernel_ms. Pure: the clock is an argument, so it is unit-tested directly.
//
// Errors: none; a slot whose worker has not beaten yet (heartbeat_ns 0) is never judged late.
#pragma once

#include <chrono>
#include <cstdint>

#include "session_table.h"

namespace gpool::server {

inline constexpr std::chrono::milliseconds kHeartbeatPeriod{100};
inline constexpr std::chrono::milliseconds kLateAfter{1000};

uint64_t steady_ns();  // steady_clock::now() in nanoseconds since its epoch

// Starts the heartbeat thread of this worker process for `slot` (once per process).
void start_heartbeat(SessionSlot& slot);

// For its scope: the worker waits for device work (kernel_since_ns set, then cleared).
class KernelWait {
 public:
  explicit KernelWait(SessionSlot& slot);
  ~KernelWait();
  KernelWait(const KernelWait&) = delete;
  KernelWait& operator=(const KernelWait&) = delete;

 private:
  SessionSlot& slot_;
  bool outer_;  // false when nested inside another KernelWait (which keeps its start time)
};

struct WatchVerdict {
  enum class State { ok, late, end_stalled, end_kernel_time };
  State state = State::ok;
  double heartbeat_age_s = 0;  // 0 when the worker has not beaten yet
  double kernel_s = 0;         // how long the current wait for device work has lasted (0: none)
};

// watchdog_ms 0: a stopped heartbeat only marks the session late, never ends it.
// max_kernel_ms 0: no limit on waits for device work.
WatchVerdict judge(const SessionSlot& slot, uint64_t now_ns, unsigned watchdog_ms, unsigned max_kernel_ms);

const char* state_name(WatchVerdict::State s);

}  // namespace gpool::server
