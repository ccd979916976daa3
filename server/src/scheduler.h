// Compute shares: a device-time scheduler in memory shared by the supervisor and its workers
// (ARCHITECTURE.md decision 7, "compute shares are enforced by a scheduler that meters GPU time
// per tenant"). docs/architecture.md, "Compute shares", has the design and its reasons.
//
// Model. Each physical device has one *turn*. A worker that launches a kernel first takes the
// turn of the kernel's device, runs the kernel, measures how long the device was busy with it,
// and gives the turn back with that time (metering; worker_module.cc). The time is charged to the
// tenant on that device:
//   device_time += busy_ns;   vtime += busy_ns * kWeightScale / weight.
// When the turn is free, it goes to a waiting tenant chosen by
//   1. priority (high before normal before low), whenever such a tenant waits;
//   2. lowest vtime (so tenants that have work share the device in proportion to their weights);
//   3. lowest tenant index, then the oldest waiter of that tenant (FIFO).
// A tenant that becomes active (its first waiter while it was idle) starts at the lowest vtime
// among the active tenants (the device's virtual clock when none is active), so idle time is not
// banked. A tenant that released the turn less than `window_ns` ago still counts as active, and
// while it is ahead in the order above (same or higher priority, lower vtime) the free turn is
// kept for it until the window ends: a client that does launch + synchronize in a loop is between
// two launches most of the time it is not on the device, and without this short idling its
// neighbour would always be the only waiter and turns would simply alternate (1:1 whatever the
// weights). Nobody else waiting -> the turn is granted at once (work-conserving).
//
// Layers. DevicePolicy is the policy over one device's plain state (no clock, no locking, no
// system calls): unit tests drive it with fake times. Scheduler owns the shared mapping, one
// process-shared robust mutex per device around the policy, and a futex word per device that
// waiters sleep on (no spinning). A worker that dies holding the turn or waiting does not wedge
// the device: the supervisor calls forget(pid) when it reaps a worker, waiters check the holder's
// pid when they wake (at least every 100 ms), and a robust mutex abandoned by a dead worker is
// made consistent by the next locker.
//
// Ownership and threads. The supervisor constructs the Scheduler before forking any worker
// (MAP_SHARED | MAP_ANONYMOUS, inherited by the workers) and calls set_share() / forget();
// a worker calls acquire() / release() from its one thread, for one device at a time. Readers
// (status endpoint) may read the counters at any time; they are plain 64-bit loads that may be
// a moment stale.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace gpool::server {

struct Config;
class TenantTable;

namespace sched {

enum class Priority : uint32_t { low = 0, normal = 1, high = 2 };

// How a worker measures the device time of the launches it made in one turn (launch_meter.h).
//   wall    host clock from the first launch to the end of the turn's work (waited for);
//           exact on the emulator, whose device is the host's cores.
//   events  timing events recorded on the launch streams; elapsed time between the first
//           start and the last end, as the device saw it (what a GPU needs: launch latency,
//           the worker's wake-up and the network are not charged).
enum class Metering : uint32_t { wall = 0, events = 1 };

inline constexpr uint64_t kWeightScale = 1000;  // vtime = device ns * kWeightScale / weight
inline constexpr size_t kMaxDevices = 16;       // physical ordinals 0..15 are metered

// One tenant on one device.
struct TenantState {
  uint64_t vtime = 0;           // weighted device time (see above)
  uint64_t device_time_ns = 0;  // metered busy time, all sessions of the tenant on this device
  uint64_t launches = 0;        // turns taken (each meters 1..batch kernels)
  int64_t last_release_ns = 0;  // when it last gave the turn back; 0 = never
  uint32_t waiting = 0;         // waiter entries of this tenant
  uint32_t weight = 1;          // >= 1
  Priority priority = Priority::normal;
};

// A worker waiting for the turn. pid 0 = the entry is free.
struct Waiter {
  pid_t pid = 0;
  uint32_t tenant = 0;
  uint64_t ticket = 0;  // arrival order
};

// The plain state of one device (everything but the lock and the futex word).
struct DeviceState {
  pid_t holder_pid = 0;  // 0 = the turn is free
  uint32_t holder_tenant = 0;
  int64_t holder_since_ns = 0;
  uint64_t vclock = 0;  // highest vtime ever granted: where an idle device restarts
  uint64_t next_ticket = 1;
  uint64_t grants = 0;
};

// The scheduling policy over one device's state. Stateless itself: it only views arrays it is
// given (shared memory in the server, plain vectors in tests). Times are monotonic nanoseconds
// supplied by the caller. REQUIRES: the caller serializes calls for one device.
class DevicePolicy {
 public:
  DevicePolicy(DeviceState& d, TenantState* tenants, size_t tenant_count, Waiter* waiters,
               size_t waiter_count, int64_t window_ns)
      : d_(d), t_(tenants), nt_(tenant_count), w_(waiters), nw_(waiter_count), window_ns_(window_ns) {}

  // Registers `pid` of `tenant` as waiting; applies the activation rule. Returns the entry
  // index, or -1 when the tenant is out of range or every entry is taken.
  int enqueue(pid_t pid, uint32_t tenant, int64_t now);
  // Removes a waiter entry (granted, or its process gave up / died).
  void dequeue(int entry);
  // When the turn is free: the entry to grant now (>= 0). Otherwise -1, with *hold_until set to
  // the time a kept turn expires (the caller re-decides then), or 0 when nobody is waiting or
  // the turn is held.
  int choose(int64_t now, int64_t* hold_until) const;
  // Gives the turn to entry `entry`'s process and removes the entry.
  void grant(int entry, int64_t now);
  // The holder gives the turn back after `busy_ns` of device time. False if `pid` does not hold it.
  bool release(pid_t pid, uint64_t busy_ns, int64_t now);
  // `pid` is gone: its waiter entries are removed and, if it held the turn, the turn is freed
  // and the time it held the turn until `now` is charged. Returns true if anything changed.
  bool forget(pid_t pid, int64_t now);

  bool active(uint32_t tenant, int64_t now) const;
  const DeviceState& state() const { return d_; }

 private:
  // True if tenant a goes before tenant b (priority, then vtime, then index).
  bool before(uint32_t a, uint32_t b) const;
  void charge(uint32_t tenant, uint64_t busy_ns, int64_t now);

  DeviceState& d_;
  TenantState* t_;
  size_t nt_;
  Waiter* w_;
  size_t nw_;
  int64_t window_ns_;
};

}  // namespace sched

// The shared-memory scheduler of the whole server (see the top of this file).
class Scheduler {
 public:
  struct Options {
    size_t tenants = 64;               // tenant indices 0..tenants-1
    size_t waiters = 64;               // waiting workers per device (>= max sessions)
    int64_t window_ns = 2'000'000;     // idling window for a tenant just off the device
    bool enabled = false;              // false: workers launch unmetered (GPOOL_SCHED, TOML scheduler)
    sched::Metering metering = sched::Metering::wall;  // GPOOL_SCHED_METERING, TOML scheduler_metering
    unsigned batch = 1;                // launches per turn before they are waited for (1..256)
  };
  // Maps and initializes the shared state. Throws std::bad_alloc if the mapping fails (logged).
  explicit Scheduler(const Options& options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Supervisor: the weight (clamped to >= 1) and priority of tenant `tenant` on every device,
  // and the physical devices it may use (bit d = device d; 0 = all). Also read when disabled.
  void set_share(uint32_t tenant, uint32_t weight, sched::Priority priority, uint32_t device_mask);
  // The device mask set for `tenant` (0 = all devices; also for an out-of-range tenant).
  uint32_t device_mask(uint32_t tenant) const;
  bool enabled() const { return options_.enabled; }
  sched::Metering metering() const { return options_.metering; }
  unsigned batch() const { return options_.batch; }
  // Supervisor: process `pid` exited; frees its turns and waiter entries on every device.
  void forget(pid_t pid);

  // Worker: blocks until this process holds the turn of physical device `device` for `tenant`.
  // Returns false (without waiting) if `device` or `tenant` is out of range or the device's
  // waiter entries are all taken; the caller then runs unscheduled.
  bool acquire(size_t device, uint32_t tenant);
  // Worker: gives the turn of `device` back and charges `busy_ns` to the tenant it was taken for.
  void release(size_t device, uint64_t busy_ns);

  // Readers (possibly a moment stale).
  uint64_t device_time_ns(size_t device, uint32_t tenant) const;
  uint64_t launches(size_t device, uint32_t tenant) const;
  size_t tenants() const { return options_.tenants; }

  static int64_t now_ns();

 private:
  struct Device;  // mutex, futex word, DeviceState, tenant states, waiters (scheduler.cc)
  Device& device(size_t d) const;
  static void lock(Device& dev);
  static void unlock(Device& dev);
  sched::TenantState* tenant_states(Device& dev) const;
  sched::DevicePolicy policy(Device& dev) const;
  // REQUIRES: dev locked. Grants the free turn if the policy says so; wakes the waiters when
  // anything changed. Returns the hold deadline (0 = none).
  int64_t advance(Device& dev, int64_t now, bool changed);

  Options options_;
  std::atomic<uint32_t>* masks_ = nullptr;  // per tenant, at the start of the mapping
  size_t masks_bytes_ = 0;
  size_t device_bytes_ = 0;
  void* base_ = nullptr;
  size_t bytes_ = 0;
};

// Supervisor, before forking (scheduler_setup.cc): the server's scheduler. On when
// config.scheduler or GPOOL_SCHED=1 (GPOOL_SCHED=0 forces off); window from
// config.scheduler_window_us or GPOOL_SCHED_WINDOW_US; metering and batch from
// scheduler_metering / GPOOL_SCHED_METERING ("auto" = events unless the backend is the
// emulator) and scheduler_batch / GPOOL_SCHED_BATCH (0 = auto: 1 for wall, 8 for events). Every non-admin tenant's share and device
// mask are set at its index in `tenants` (apply_shares(), which a config reload calls again).
std::unique_ptr<Scheduler> make_scheduler(const Config& config, const TenantTable& tenants);
void apply_shares(Scheduler& sched, const Config& config, const TenantTable& tenants);

}  // namespace gpool::server
