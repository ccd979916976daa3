// The shared-memory Scheduler across real processes: the turn is exclusive, waiting does not
// need the holder's cooperation beyond release(), and a holder that dies (SIGKILL) does not
// wedge the device, whether or not the supervisor calls forget(). No timing is asserted: each
// test only requires that the waits end.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "scheduler.h"

namespace gpool::server {
namespace {

// Forks a child that takes the turn of `device`, writes one byte to `ready` and then sleeps
// until killed.
pid_t spawn_holder(Scheduler& s, size_t device, uint32_t tenant, int ready) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!s.acquire(device, tenant)) ::_exit(2);
    const char b = 1;
    if (::write(ready, &b, 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  return pid;
}

void wait_ready(int fd) {
  char b = 0;
  ASSERT_EQ(::read(fd, &b, 1), 1);
}

TEST(SchedShared, AcquireReleaseChargesTheTenant) {
  Scheduler s({});
  s.set_share(1, 2, sched::Priority::normal, 0b10);
  EXPECT_EQ(s.device_mask(1), 0b10u);
  EXPECT_EQ(s.device_mask(0), 0u);
  ASSERT_TRUE(s.acquire(3, 1));
  s.release(3, 12345);
  EXPECT_EQ(s.device_time_ns(3, 1), 12345u);
  EXPECT_EQ(s.launches(3, 1), 1u);
  EXPECT_EQ(s.device_time_ns(0, 1), 0u);  // other devices untouched
}

TEST(SchedShared, OutOfRangeDeviceOrTenantRunsUnscheduled) {
  Scheduler::Options o;
  o.tenants = 2;
  Scheduler s(o);
  EXPECT_FALSE(s.acquire(sched::kMaxDevices, 0));
  EXPECT_FALSE(s.acquire(0, 2));
}

TEST(SchedShared, WaiterGetsTheTurnWhenTheHolderReleases) {
  Scheduler s({});
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!s.acquire(0, 0)) ::_exit(2);
    const char b = 1;
    if (::write(to_parent[1], &b, 1) != 1) ::_exit(3);
    char c = 0;
    if (::read(to_child[0], &c, 1) != 1) ::_exit(4);
    s.release(0, 1000);
    ::_exit(0);
  }
  wait_ready(to_parent[0]);
  const char go = 1;
  ASSERT_EQ(::write(to_child[1], &go, 1), 1);  // the child releases while we wait (or before)
  ASSERT_TRUE(s.acquire(0, 1));
  s.release(0, 2000);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(s.device_time_ns(0, 0), 1000u);
  EXPECT_EQ(s.device_time_ns(0, 1), 2000u);
}

TEST(SchedShared, HolderKilledAndForgottenFreesTheTurn) {
  Scheduler s({});
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = spawn_holder(s, 1, 0, fds[1]);
  wait_ready(fds[0]);
  ::kill(pid, SIGKILL);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  s.forget(pid);  // what the supervisor does when it reaps a worker
  ASSERT_TRUE(s.acquire(1, 1));
  s.release(1, 1);
  EXPECT_EQ(s.launches(1, 1), 1u);
}

TEST(SchedShared, HolderKilledWithoutForgetIsNoticedByTheWaiter) {
  Scheduler s({});
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = spawn_holder(s, 2, 0, fds[1]);
  wait_ready(fds[0]);
  ::kill(pid, SIGKILL);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  ASSERT_TRUE(s.acquire(2, 1));  // ends when the waiter sees the holder's pid is gone
  s.release(2, 1);
  EXPECT_EQ(s.launches(2, 1), 1u);
  EXPECT_EQ(s.launches(2, 0), 1u);  // the dead holder was charged the time it held the turn
}

}  // namespace
}  // namespace gpool::server
