// The compute-share policy (server/src/scheduler.h, DevicePolicy) driven with a fake clock:
// weights, priorities, the activation rule, the idling window, FIFO order and dead processes.
#include <gtest/gtest.h>

#include <vector>

#include "scheduler.h"

namespace gpool::server::sched {
namespace {

constexpr int64_t kMs = 1'000'000;

struct Device {
  explicit Device(size_t tenants, size_t waiters = 8, int64_t window = 2 * kMs)
      : t(tenants), w(waiters), p(d, t.data(), t.size(), w.data(), w.size(), window) {}
  DeviceState d;
  std::vector<TenantState> t;
  std::vector<Waiter> w;
  DevicePolicy p;

  // Grants the free turn if the policy says so; returns the pid now holding it (0 = none).
  pid_t step(int64_t now) {
    int64_t hold = 0;
    const int e = p.choose(now, &hold);
    if (e >= 0) p.grant(e, now);
    return d.holder_pid;
  }
};

TEST(SchedPolicy, SingleWaiterIsGrantedAtOnce) {
  Device dev(2);
  ASSERT_GE(dev.p.enqueue(100, 0, kMs), 0);
  EXPECT_EQ(dev.step(kMs), 100);
  EXPECT_EQ(dev.t[0].waiting, 0u);
  EXPECT_TRUE(dev.p.release(100, 5 * kMs, 6 * kMs));
  EXPECT_EQ(dev.t[0].device_time_ns, uint64_t(5 * kMs));
  EXPECT_EQ(dev.t[0].launches, 1u);
  EXPECT_EQ(dev.d.holder_pid, 0);
}

TEST(SchedPolicy, ReleaseByAnotherProcessIsRefused) {
  Device dev(1);
  dev.p.enqueue(100, 0, 0);
  dev.step(0);
  EXPECT_FALSE(dev.p.release(200, kMs, kMs));
  EXPECT_EQ(dev.d.holder_pid, 100);
  EXPECT_EQ(dev.t[0].device_time_ns, 0u);
}

TEST(SchedPolicy, OutOfRangeTenantAndFullTableAreRejected) {
  Device dev(2, 2);
  EXPECT_EQ(dev.p.enqueue(1, 2, 0), -1);
  EXPECT_GE(dev.p.enqueue(1, 0, 0), 0);
  EXPECT_GE(dev.p.enqueue(2, 1, 0), 0);
  EXPECT_EQ(dev.p.enqueue(3, 1, 0), -1);
}

// Two tenants that always have a kernel waiting (several sessions each): 3:1 weights give
// exactly 3:1 device time with equal kernels.
TEST(SchedPolicy, BacklogSharesByWeight) {
  Device dev(2);
  dev.t[0].weight = 3;
  dev.t[1].weight = 1;
  int64_t now = 0;
  dev.p.enqueue(10, 0, now);
  dev.p.enqueue(20, 1, now);
  for (int i = 0; i < 400; ++i) {
    const pid_t h = dev.step(now);
    ASSERT_NE(h, 0);
    const uint32_t tenant = dev.d.holder_tenant;
    now += kMs;
    ASSERT_TRUE(dev.p.release(h, kMs, now));
    dev.p.enqueue(h, tenant, now);  // the same session has its next kernel ready
  }
  EXPECT_EQ(dev.t[0].device_time_ns, 3 * dev.t[1].device_time_ns);
  EXPECT_EQ(dev.t[0].launches + dev.t[1].launches, 400u);
}

// Launch + synchronize loops: each session comes back `gap` after its release. Within the
// idling window the turn is kept for the tenant that goes first, so weights still hold.
TEST(SchedPolicy, SynchronousClientsShareByWeightWithinTheWindow) {
  Device dev(2);
  dev.t[0].weight = 3;
  dev.t[1].weight = 1;
  const int64_t gap = kMs / 4, kernel = kMs;
  int64_t now = 0;
  int64_t back[2] = {0, 0};  // when each session enqueues again (-1 = waiting or running)
  const pid_t pid[2] = {10, 20};
  int64_t idle = 0;
  while (now < 4000 * kMs) {
    for (int i = 0; i < 2; ++i) {
      if (back[i] >= 0 && back[i] <= now) {
        dev.p.enqueue(pid[i], uint32_t(i), now);
        back[i] = -1;
      }
    }
    const pid_t h = dev.step(now);
    if (h == 0) {  // kept for a session between launches, or nobody waits: time passes
      now += gap / 5;
      idle += gap / 5;
      continue;
    }
    const int i = h == pid[0] ? 0 : 1;
    now += kernel;
    dev.p.release(h, uint64_t(kernel), now);
    back[i] = now + gap;
  }
  const double ratio = double(dev.t[0].device_time_ns) / double(dev.t[1].device_time_ns);
  EXPECT_NEAR(ratio, 3.0, 0.05);
  EXPECT_LT(idle, now / 3);  // the device idles only for the gaps it keeps for the first tenant
}

// Past the window a free turn is not kept: the waiting tenant gets it (work-conserving).
TEST(SchedPolicy, TurnIsKeptOnlyWithinTheWindow) {
  Device dev(2, 8, 2 * kMs);
  dev.t[0].weight = 3;
  dev.p.enqueue(10, 0, 0);
  dev.p.enqueue(20, 1, 0);
  ASSERT_EQ(dev.step(0), 10);  // tie at vtime 0 -> lower index
  dev.p.release(10, kMs, kMs);
  // Tenant 1 (vtime 0) is behind tenant 0 (vtime 1 ms * 1000 / 3): it goes now.
  EXPECT_EQ(dev.step(kMs), 20);
  dev.p.release(20, kMs, 2 * kMs);  // tenant 1 vtime 1000 > tenant 0's 333
  dev.p.enqueue(21, 1, 2 * kMs);    // another session of tenant 1 waits
  int64_t hold = 0;
  EXPECT_EQ(dev.p.choose(2 * kMs, &hold), -1);  // kept for tenant 0 (released at 1 ms)
  EXPECT_EQ(hold, 3 * kMs);
  EXPECT_EQ(dev.step(3 * kMs), 21);  // window over: tenant 1 gets it
}

TEST(SchedPolicy, HighPriorityGoesFirstWhateverItsVtime) {
  Device dev(2);
  dev.t[1].priority = Priority::high;
  dev.t[1].vtime = 1'000'000'000;  // far ahead of tenant 0
  dev.p.enqueue(10, 0, 0);
  dev.p.enqueue(20, 1, 0);
  EXPECT_EQ(dev.step(0), 20);
}

TEST(SchedPolicy, LowPriorityIsNotKeptWhenHigherWaits) {
  Device dev(2);
  dev.t[0].priority = Priority::low;
  dev.t[1].priority = Priority::high;
  dev.p.enqueue(10, 0, 0);
  ASSERT_EQ(dev.step(0), 10);
  dev.p.release(10, kMs, kMs);
  dev.t[1].vtime = 10 * kMs;  // behind on vtime, but higher priority: no keeping for tenant 0
  dev.p.enqueue(20, 1, kMs);
  EXPECT_EQ(dev.step(kMs), 20);
}

TEST(SchedPolicy, ReturningTenantDoesNotBankIdleTime) {
  Device dev(2);
  dev.p.enqueue(10, 0, 0);
  int64_t now = 0;
  for (int i = 0; i < 50; ++i) {  // tenant 0 alone for 50 ms
    ASSERT_EQ(dev.step(now), 10);
    now += kMs;
    dev.p.release(10, kMs, now);
    dev.p.enqueue(10, 0, now);
  }
  const uint64_t v0 = dev.t[0].vtime;
  dev.p.enqueue(20, 1, now);  // tenant 1 arrives after 50 ms idle
  EXPECT_EQ(dev.t[1].vtime, v0);  // starts at the active minimum, not at 0
}

TEST(SchedPolicy, TenantAloneRestartsAtTheDeviceClock) {
  Device dev(2, 8, kMs);
  dev.p.enqueue(10, 0, 0);
  dev.step(0);
  dev.p.release(10, 10 * kMs, 10 * kMs);
  dev.p.enqueue(10, 0, 11 * kMs);  // re-granted: vclock = tenant 0's vtime
  dev.step(11 * kMs);
  dev.p.release(10, kMs, 12 * kMs);
  // Much later (both idle), tenant 1 comes: it starts at the clock, not at 0.
  dev.p.enqueue(20, 1, 100 * kMs);
  EXPECT_EQ(dev.t[1].vtime, dev.d.vclock);
  EXPECT_GT(dev.d.vclock, 0u);
}

TEST(SchedPolicy, SessionsOfOneTenantAreServedInArrivalOrder) {
  Device dev(1);
  dev.p.enqueue(30, 0, 0);
  dev.p.enqueue(10, 0, 0);
  dev.p.enqueue(20, 0, 0);
  std::vector<pid_t> order;
  for (int i = 0; i < 3; ++i) {
    const pid_t h = dev.step(i);
    order.push_back(h);
    dev.p.release(h, 1, i);
  }
  EXPECT_EQ(order, (std::vector<pid_t>{30, 10, 20}));
}

TEST(SchedPolicy, ForgetFreesTheTurnAndTheEntriesOfADeadProcess) {
  Device dev(2);
  dev.p.enqueue(10, 0, 0);
  ASSERT_EQ(dev.step(0), 10);
  dev.p.enqueue(20, 1, 0);
  dev.p.enqueue(30, 1, 0);
  EXPECT_TRUE(dev.p.forget(10, 4 * kMs));
  EXPECT_EQ(dev.t[0].device_time_ns, uint64_t(4 * kMs));  // the time it held the device
  EXPECT_TRUE(dev.p.forget(20, 4 * kMs));
  EXPECT_EQ(dev.t[1].waiting, 1u);
  EXPECT_EQ(dev.step(4 * kMs), 30);  // not kept for the dead tenant 0
  EXPECT_FALSE(dev.p.forget(99, 5 * kMs));
}

}  // namespace
}  // namespace gpool::server::sched
