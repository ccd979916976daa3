// The worker pool's cycle with real processes: fill forks pool members, their ready bytes are
// seen, a hand-off gives one member a socket and the session parameters (the member answers on
// that socket), an unused member that dies is dropped and not replaced during the backoff, and
// terminate() ends the rest.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "worker_pool.h"

namespace gpool::server {
namespace {

using namespace std::chrono_literals;

// A pool member that says ready, takes one hand-off and writes "session <id> tenant <name>"
// to the socket it was given (the member side of worker_pool.h: member_await_session).
int echo_member(int sock) {
  Handoff h;
  int fd = -1;
  if (member_await_session(sock, fd, h) != 0) return 11;
  const std::string text = "session " + std::to_string(h.session_id) + " tenant " + h.tenant;
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return 12;
  ::close(fd);
  return 0;
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool wait_ready(WorkerPool& pool, PoolStats& stats, uint32_t want) {
  for (int i = 0; i < 500; ++i) {
    pool.poll_ready();
    if (stats.ready.load() == want) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(WorkerPool, HandsASessionToAReadyMemberAndRefills) {
  PoolStats* stats = PoolStats::create_shared();
  WorkerPool pool(2, stats);
  pool.fill([] {}, echo_member);
  ASSERT_EQ(pool.size(), 2u);
  EXPECT_EQ(stats->target.load(), 2u);
  EXPECT_EQ(stats->alive.load(), 2u);
  ASSERT_TRUE(wait_ready(pool, *stats, 2));

  int conn[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn), 0);
  Handoff h;
  h.session_id = 17;
  h.slot = 0;
  h.tenant = "bob";
  const pid_t pid = pool.hand_off(conn[1], h);
  ASSERT_GT(pid, 0);
  ::close(conn[1]);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(stats->warm_sessions.load(), 1u);

  char buf[64] = {};
  ssize_t got = 0, n;
  while ((n = ::read(conn[0], buf + got, sizeof buf - 1 - static_cast<size_t>(got))) > 0) got += n;
  ::close(conn[0]);
  EXPECT_EQ(std::string(buf), "session 17 tenant bob");
  EXPECT_EQ(wait_exit(pid), 0);
  EXPECT_FALSE(pool.on_exit(pid, 0));  // a member that got a session is no longer the pool's

  pool.fill([] {}, echo_member);
  EXPECT_EQ(pool.size(), 2u);
  std::vector<pid_t> rest;
  pool.terminate();
  for (int i = 0; i < 2; ++i) {
    int status = 0;
    const pid_t p = ::waitpid(-1, &status, 0);
    ASSERT_GT(p, 0);
    EXPECT_TRUE(pool.on_exit(p, status));
  }
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(stats->pool_failures.load(), 0u);  // exits after terminate() are not failures
}

TEST(WorkerPool, AMemberThatDiesUnusedIsDroppedAndNotRespawnedAtOnce) {
  PoolStats* stats = PoolStats::create_shared();
  WorkerPool pool(1, stats);
  pool.fill([] {}, [](int) { return 3; });
  ASSERT_EQ(pool.size(), 1u);
  int status = 0;
  const pid_t p = ::waitpid(-1, &status, 0);
  ASSERT_GT(p, 0);
  EXPECT_TRUE(pool.on_exit(p, status));
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(stats->pool_failures.load(), 1u);
  pool.fill([] {}, echo_member);  // within the backoff: nothing is forked
  EXPECT_EQ(pool.size(), 0u);

  int conn[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn), 0);
  Handoff h;
  h.tenant = "x";
  EXPECT_EQ(pool.hand_off(conn[1], h), -1);  // empty pool: the caller starts a cold worker
  ::close(conn[0]);
  ::close(conn[1]);
}

TEST(WorkerPool, AHandOffToADeadMemberFallsThroughToTheNext) {
  PoolStats* stats = PoolStats::create_shared();
  WorkerPool pool(2, stats);
  // In each child, `pool` is the copy made at its fork: the first member sees an empty pool.
  // The first says ready and exits at once; the second serves.
  pool.fill([] {}, [&pool](int sock) {
    if (pool.size() > 0) return echo_member(sock);
    const char ready = 'R';
    (void)::send(sock, &ready, 1, MSG_NOSIGNAL);
    return 0;
  });
  ASSERT_EQ(pool.size(), 2u);
  ASSERT_TRUE(wait_ready(pool, *stats, 2));
  std::this_thread::sleep_for(100ms);  // let the first one finish exiting
  int conn[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn), 0);
  Handoff h;
  h.session_id = 5;
  h.tenant = "t";
  const pid_t pid = pool.hand_off(conn[1], h);
  ::close(conn[1]);
  char buf[64] = {};
  ssize_t got = 0, n;
  while (pid > 0 && (n = ::read(conn[0], buf + got, sizeof buf - 1 - static_cast<size_t>(got))) > 0) got += n;
  ::close(conn[0]);
  EXPECT_EQ(pool.size(), 0u);  // the dead one was dropped, the live one took the session
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(std::string(buf), "session 5 tenant t");
}

// The supervisor hands a session to a member that is still attaching (none is ready yet) and
// closes its end at once: the member's ready byte then fails, but it must still take the
// session (in the ASan build a slow attach lost the client's connection this way).
TEST(WorkerPool, AMemberHandedASessionBeforeItIsReadyStillServesIt) {
  PoolStats* stats = PoolStats::create_shared();
  WorkerPool pool(1, stats);
  pool.fill([] {}, [](int sock) {
    std::this_thread::sleep_for(300ms);  // the attach, still running at the hand-off
    return echo_member(sock);
  });
  ASSERT_EQ(pool.size(), 1u);
  EXPECT_EQ(stats->ready.load(), 0u);
  int conn[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn), 0);
  Handoff h;
  h.session_id = 9;
  h.tenant = "early";
  const pid_t pid = pool.hand_off(conn[1], h);
  ASSERT_GT(pid, 0);
  ::close(conn[1]);
  char buf[64] = {};
  ssize_t got = 0, n;
  while ((n = ::read(conn[0], buf + got, sizeof buf - 1 - static_cast<size_t>(got))) > 0) got += n;
  ::close(conn[0]);
  EXPECT_EQ(std::string(buf), "session 9 tenant early");
  EXPECT_EQ(wait_exit(pid), 0);
}

// A member whose supervisor closes the socket without a session ends quietly.
TEST(WorkerPool, AMemberClosedUnusedSeesConnectionReset) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  ::close(sv[0]);
  Handoff h;
  int fd = -1;
  EXPECT_EQ(member_await_session(sv[1], fd, h), -ECONNRESET);
  ::close(sv[1]);
}

}  // namespace
}  // namespace gpool::server
