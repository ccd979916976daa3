#include "scheduler.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <ctime>
#include <new>

#include "gpool/common/log.h"

namespace gpool::server {

namespace sched {

bool DevicePolicy::active(uint32_t tenant, int64_t now) const {
  const TenantState& t = t_[tenant];
  if (t.waiting > 0) return true;
  if (d_.holder_pid != 0 && d_.holder_tenant == tenant) return true;
  return t.last_release_ns != 0 && now - t.last_release_ns < window_ns_;
}

bool DevicePolicy::before(uint32_t a, uint32_t b) const {
  if (t_[a].priority != t_[b].priority) return t_[a].priority > t_[b].priority;
  if (t_[a].vtime != t_[b].vtime) return t_[a].vtime < t_[b].vtime;
  return a < b;
}

int DevicePolicy::enqueue(pid_t pid, uint32_t tenant, int64_t now) {
  if (tenant >= nt_ || pid <= 0) return -1;
  size_t slot = nw_;
  for (size_t i = 0; i < nw_; ++i) {
    if (w_[i].pid == 0) {
      slot = i;
      break;
    }
  }
  if (slot == nw_) return -1;
  if (!active(tenant, now)) {
    // Activation: start at the lowest vtime among the active tenants, or at the device's clock.
    bool any = false;
    uint64_t base = d_.vclock;
    for (uint32_t i = 0; i < nt_; ++i) {
      if (i == tenant || !active(i, now)) continue;
      base = any ? std::min(base, t_[i].vtime) : t_[i].vtime;
      any = true;
    }
    t_[tenant].vtime = std::max(t_[tenant].vtime, base);
  }
  w_[slot] = Waiter{pid, tenant, d_.next_ticket++};
  ++t_[tenant].waiting;
  return static_cast<int>(slot);
}

void DevicePolicy::dequeue(int entry) {
  if (entry < 0 || static_cast<size_t>(entry) >= nw_ || w_[entry].pid == 0) return;
  TenantState& t = t_[w_[entry].tenant];
  if (t.waiting > 0) --t.waiting;
  w_[entry] = Waiter{};
}

int DevicePolicy::choose(int64_t now, int64_t* hold_until) const {
  *hold_until = 0;
  if (d_.holder_pid != 0) return -1;
  bool found = false;
  uint32_t best = 0;
  for (uint32_t i = 0; i < nt_; ++i) {
    if (t_[i].waiting == 0) continue;
    if (!found || before(i, best)) best = i;
    found = true;
  }
  if (!found) return -1;
  // Keep the turn for a tenant just off the device that goes before every waiter.
  int64_t until = 0;
  for (uint32_t i = 0; i < nt_; ++i) {
    if (t_[i].waiting != 0 || t_[i].last_release_ns == 0) continue;
    const int64_t end = t_[i].last_release_ns + window_ns_;
    if (now >= end || !before(i, best)) continue;
    until = until == 0 ? end : std::min(until, end);
  }
  if (until != 0) {
    *hold_until = until;
    return -1;
  }
  int pick = -1;
  for (size_t i = 0; i < nw_; ++i) {
    if (w_[i].pid == 0 || w_[i].tenant != best) continue;
    if (pick < 0 || w_[i].ticket < w_[pick].ticket) pick = static_cast<int>(i);
  }
  return pick;
}

void DevicePolicy::grant(int entry, int64_t now) {
  const Waiter w = w_[entry];
  d_.holder_pid = w.pid;
  d_.holder_tenant = w.tenant;
  d_.holder_since_ns = now;
  d_.vclock = std::max(d_.vclock, t_[w.tenant].vtime);
  ++d_.grants;
  dequeue(entry);
}

void DevicePolicy::charge(uint32_t tenant, uint64_t busy_ns, int64_t now) {
  TenantState& t = t_[tenant];
  t.device_time_ns += busy_ns;
  t.vtime += busy_ns * kWeightScale / std::max<uint32_t>(t.weight, 1);
  ++t.launches;
  t.last_release_ns = now;
}

bool DevicePolicy::release(pid_t pid, uint64_t busy_ns, int64_t now) {
  if (pid == 0 || d_.holder_pid != pid) return false;
  charge(d_.holder_tenant, busy_ns, now);
  d_.holder_pid = 0;
  return true;
}

bool DevicePolicy::forget(pid_t pid, int64_t now) {
  if (pid == 0) return false;
  bool changed = false;
  for (size_t i = 0; i < nw_; ++i) {
    if (w_[i].pid == pid) {
      dequeue(static_cast<int>(i));
      changed = true;
    }
  }
  if (d_.holder_pid == pid) {
    const uint32_t tenant = d_.holder_tenant;
    charge(tenant, static_cast<uint64_t>(std::max<int64_t>(now - d_.holder_since_ns, 0)), now);
    t_[tenant].last_release_ns = 0;  // nothing to keep the turn for: the process is gone
    d_.holder_pid = 0;
    changed = true;
  }
  return changed;
}

}  // namespace sched

namespace {

spdlog::logger& logger() { return log::logger("sched"); }

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

long futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, timeout, nullptr, 0);
}

bool process_gone(pid_t pid) { return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

struct Scheduler::Device {
  pthread_mutex_t mu;
  std::atomic<uint32_t> seq{0};  // futex word: bumped whenever waiters should look again
  sched::DeviceState st;
  // Followed in the mapping by TenantState[options_.tenants] and Waiter[options_.waiters].
};

Scheduler::Scheduler(const Options& options) : options_(options) {
  options_.tenants = std::max<size_t>(options_.tenants, 1);
  options_.waiters = std::max<size_t>(options_.waiters, 1);
  device_bytes_ = align_up(align_up(sizeof(Device), 64) + options_.tenants * sizeof(sched::TenantState) +
                               options_.waiters * sizeof(sched::Waiter), 64);
  masks_bytes_ = align_up(options_.tenants * sizeof(std::atomic<uint32_t>), 64);
  bytes_ = masks_bytes_ + device_bytes_ * sched::kMaxDevices;
  base_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base_ == MAP_FAILED) {
    logger().critical("mmap of {} bytes for the scheduler failed: {}", bytes_, std::strerror(errno));
    throw std::bad_alloc();
  }
  masks_ = static_cast<std::atomic<uint32_t>*>(base_);
  for (size_t t = 0; t < options_.tenants; ++t) new (&masks_[t]) std::atomic<uint32_t>(0);
  for (size_t d = 0; d < sched::kMaxDevices; ++d) {
    auto* raw = static_cast<char*>(base_) + masks_bytes_ + d * device_bytes_;
    auto* dev = new (raw) Device();
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&dev->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    auto* tenants = reinterpret_cast<sched::TenantState*>(raw + align_up(sizeof(Device), 64));
    for (size_t t = 0; t < options_.tenants; ++t) new (&tenants[t]) sched::TenantState();
    auto* waiters = reinterpret_cast<sched::Waiter*>(tenants + options_.tenants);
    for (size_t w = 0; w < options_.waiters; ++w) new (&waiters[w]) sched::Waiter();
  }
}

Scheduler::~Scheduler() {
  if (base_ != nullptr && base_ != MAP_FAILED) ::munmap(base_, bytes_);
}

int64_t Scheduler::now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Scheduler::Device& Scheduler::device(size_t d) const {
  return *reinterpret_cast<Device*>(static_cast<char*>(base_) + masks_bytes_ + d * device_bytes_);
}

sched::TenantState* Scheduler::tenant_states(Device& dev) const {
  return reinterpret_cast<sched::TenantState*>(reinterpret_cast<char*>(&dev) +
                                               align_up(sizeof(Device), 64));
}

sched::DevicePolicy Scheduler::policy(Device& dev) const {
  sched::TenantState* tenants = tenant_states(dev);
  auto* waiters = reinterpret_cast<sched::Waiter*>(tenants + options_.tenants);
  return sched::DevicePolicy(dev.st, tenants, options_.tenants, waiters, options_.waiters,
                             options_.window_ns);
}

void Scheduler::lock(Device& dev) {
  const int r = pthread_mutex_lock(&dev.mu);
  if (r == EOWNERDEAD) {
    // A worker died inside a short critical section; the state it left is usable as is.
    logger().warn("a worker died holding the scheduler lock; continuing with its state");
    pthread_mutex_consistent(&dev.mu);
  }
}

void Scheduler::unlock(Device& dev) { pthread_mutex_unlock(&dev.mu); }

int64_t Scheduler::advance(Device& dev, int64_t now, bool changed) {
  sched::DevicePolicy pol = policy(dev);
  int64_t hold = 0;
  if (dev.st.holder_pid == 0) {
    const int e = pol.choose(now, &hold);
    if (e >= 0) {
      pol.grant(e, now);
      changed = true;
    }
  }
  if (changed) {
    dev.seq.fetch_add(1, std::memory_order_release);
    futex(&dev.seq, FUTEX_WAKE, INT_MAX, nullptr);
  }
  return hold;
}

uint32_t Scheduler::device_mask(uint32_t tenant) const {
  return tenant < options_.tenants ? masks_[tenant].load(std::memory_order_acquire) : 0;
}

void Scheduler::set_share(uint32_t tenant, uint32_t weight, sched::Priority priority,
                          uint32_t device_mask) {
  if (tenant >= options_.tenants) return;
  masks_[tenant].store(device_mask, std::memory_order_release);
  for (size_t d = 0; d < sched::kMaxDevices; ++d) {
    Device& dev = device(d);
    lock(dev);
    sched::TenantState* tenants = tenant_states(dev);
    tenants[tenant].weight = std::max<uint32_t>(weight, 1);
    tenants[tenant].priority = priority;
    unlock(dev);
  }
}

void Scheduler::forget(pid_t pid) {
  for (size_t d = 0; d < sched::kMaxDevices; ++d) {
    Device& dev = device(d);
    lock(dev);
    const int64_t now = now_ns();
    if (policy(dev).forget(pid, now)) advance(dev, now, true);
    unlock(dev);
  }
}

bool Scheduler::acquire(size_t d, uint32_t tenant) {
  if (d >= sched::kMaxDevices || tenant >= options_.tenants) return false;
  Device& dev = device(d);
  const pid_t me = ::getpid();
  lock(dev);
  int64_t now = now_ns();
  if (dev.st.holder_pid == me) {
    unlock(dev);
    return true;
  }
  if (policy(dev).enqueue(me, tenant, now) < 0) {
    unlock(dev);
    logger().warn("device {}: every scheduler waiter entry is taken; launching unscheduled", d);
    return false;
  }
  bool changed = false;
  for (;;) {
    const int64_t hold = advance(dev, now, changed);
    if (dev.st.holder_pid == me) {
      unlock(dev);
      return true;
    }
    const pid_t holder = dev.st.holder_pid;
    const uint32_t seq = dev.seq.load(std::memory_order_acquire);
    unlock(dev);
    int64_t wait_ns = 100'000'000;  // look at the holder at least this often
    if (hold != 0) wait_ns = std::clamp<int64_t>(hold - now, 1000, wait_ns);
    const timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
    futex(&dev.seq, FUTEX_WAIT, seq, &ts);
    lock(dev);
    now = now_ns();
    changed = false;
    if (holder != 0 && dev.st.holder_pid == holder && process_gone(holder)) {
      logger().warn("device {}: worker {} died holding the device's turn; turn freed", d, holder);
      changed = policy(dev).forget(holder, now);
    }
  }
}

void Scheduler::release(size_t d, uint64_t busy_ns) {
  if (d >= sched::kMaxDevices) return;
  Device& dev = device(d);
  lock(dev);
  const int64_t now = now_ns();
  if (policy(dev).release(::getpid(), busy_ns, now)) advance(dev, now, true);
  unlock(dev);
}

uint64_t Scheduler::device_time_ns(size_t d, uint32_t tenant) const {
  if (d >= sched::kMaxDevices || tenant >= options_.tenants) return 0;
  Device& dev = device(d);
  lock(dev);
  const uint64_t v = tenant_states(dev)[tenant].device_time_ns;
  unlock(dev);
  return v;
}

uint64_t Scheduler::launches(size_t d, uint32_t tenant) const {
  if (d >= sched::kMaxDevices || tenant >= options_.tenants) return 0;
  Device& dev = device(d);
  lock(dev);
  const uint64_t v = tenant_states(dev)[tenant].launches;
  unlock(dev);
  return v;
}

}  // namespace gpool::server
