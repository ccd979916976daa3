// Launch metering for the compute-share scheduler (scheduler.h): one worker's turn on a device,
// the launches it enqueued during the turn, and the device time they took.
//
// A turn covers up to Scheduler::batch() launches on one physical device. begin() takes the
// turn (waiting in the scheduler) unless this worker already holds it for that device; the
// caller then enqueues the launch and reports it to end(). settle() waits for every launch of
// the turn, measures the device time they took, charges it to the tenant (scheduler vtime and
// the tenant table's device_time) and gives the turn back:
//   wall    host clock from begin() of the first launch to the end of the wait. Exact on the
//           emulator, whose "device" is the host's cores.
//   events  a timing event recorded on the first launch's stream before it, and one after every
//           launch on the launch's stream; the charge is the largest elapsed time from the first
//           to any of the others, as the device measured it. On a GPU this leaves out the launch
//           latency, the worker's wake-up and the network, and with a batch above 1 a session's
//           launches stay pipelined on the device within a turn.
// The worker settles when the batch is full (end() does it), before a launch on another device
// (begin() does it), before any call that is not a launch, and before it would wait for the
// client's next frame, so a turn is never held while the worker waits on the network.
//
// Ownership: owned by the Worker. The events it creates belong to the device contexts; they
// are reused for every turn and go with the contexts when the process exits.
// Thread safety: the worker's one thread only.
// Errors: end() and settle() return the first error of the turn's work (a kernel's illegal
// address, ...), which the worker reports as the sticky error of the turn's last launch. A
// failure to create or record an event is not an error of the session: that turn falls back to
// waiting for the stream and charging wall time (logged once).
#pragma once

#include <cuda.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend.h"
#include "scheduler.h"

namespace gpool::server {

class TenantTable;

class LaunchMeter {
 public:
  // `sched` and `tenants` may be null (then nothing is metered); both outlive the meter.
  LaunchMeter(const Driver& drv, Scheduler* sched, int tenant_index, TenantTable* tenants);

  // True when launches are metered: the scheduler is on and the session has a tenant.
  bool enabled() const;

  // Before a launch on physical device `physical` into `stream`, with that device's context
  // current: takes that device's turn unless it is held already. REQUIRES: no turn held for
  // another device (the caller settles it first, to report its status; otherwise it is settled
  // here and its status is lost). Returns false when the scheduler could not register the wait
  // (device or tenant out of range, every waiter entry taken): the caller launches unmetered.
  bool begin(size_t physical, CUstream stream);

  // After the launch begin() admitted; `launch_status` is what the driver returned for it. A
  // failed launch enqueued nothing and is not counted. Settles when the batch is full and
  // returns that status; CUDA_SUCCESS otherwise.
  CUresult end(CUstream stream, CUresult launch_status);

  // Waits for the turn's launches, charges them and gives the turn back. No-op without a turn.
  CUresult settle();

  // Before the context of physical device `physical` is reset: settles a turn held there and
  // destroys that device's timing events (they go with the context); the next turn there
  // creates new ones.
  void forget_device(size_t physical);

  bool holding() const { return holding_; }
  size_t device() const { return device_; }  // physical device of the held turn

 private:
  struct DeviceEvents {
    CUevent start = nullptr;
    std::vector<CUevent> ends;  // batch() of them, created on first use
    bool failed = false;        // creation failed once: this device falls back to wall time
  };
  bool events_ready(DeviceEvents& ev);
  // Wall time since the turn began, or the device time of the recorded events.
  uint64_t measure(CUresult* status);

  const Driver& drv_;
  Scheduler* sched_;
  int tenant_index_;
  TenantTable* tenants_;

  bool holding_ = false;
  size_t device_ = 0;        // physical device of the held turn
  int64_t t0_ = 0;           // Scheduler::now_ns() at the turn's first launch
  unsigned launches_ = 0;    // launches enqueued in the held turn
  unsigned recorded_ = 0;    // end events recorded (== launches_ unless an event failed)
  bool start_recorded_ = false;
  bool synced_ = false;      // a fallback already waited for some of the work (wall time then)
  CUresult fallback_status_ = CUDA_SUCCESS;
  std::array<DeviceEvents, sched::kMaxDevices> events_{};
};

}  // namespace gpool::server
