// The supervisor's judgement of a worker's liveness (worker_watch.h; issue 13, part 5): a stopped
// heartbeat marks the session stuck after kLateAfter and ends it after watchdog_ms; a wait for
// device work longer than the tenant's max_kernel_ms ends it; a worker that has not beaten yet
// is never judged. And the config keys that set both, strictly checked.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "config.h"
#include "session_table.h"
#include "test_files.h"
#include "worker_watch.h"

namespace gpool::server {
namespace {

constexpr uint64_t kMs = 1000000;

TEST(WorkerWatchTest, StoppedHeartbeatIsLateThenEnded) {
  SessionSlot slot;
  const uint64_t t0 = 1000 * kMs;
  EXPECT_EQ(judge(slot, t0, 3000, 0).state, WatchVerdict::State::ok) << "no heartbeat yet: not judged";
  slot.heartbeat_ns = t0;
  EXPECT_EQ(judge(slot, t0 + 500 * kMs, 3000, 0).state, WatchVerdict::State::ok);
  const WatchVerdict late = judge(slot, t0 + 1500 * kMs, 3000, 0);
  EXPECT_EQ(late.state, WatchVerdict::State::late);
  EXPECT_NEAR(late.heartbeat_age_s, 1.5, 1e-9);
  EXPECT_STREQ(state_name(late.state), "stuck");
  EXPECT_EQ(judge(slot, t0 + 3000 * kMs, 3000, 0).state, WatchVerdict::State::end_stalled);
  EXPECT_EQ(judge(slot, t0 + 60000 * kMs, 0, 0).state, WatchVerdict::State::late) << "watchdog off: shown, never ended";
}

TEST(WorkerWatchTest, LongDeviceWaitIsEndedOnlyWithAMaxKernelTime) {
  SessionSlot slot;
  const uint64_t t0 = 5000 * kMs;
  slot.heartbeat_ns = t0 + 900 * kMs;  // the process is alive
  slot.kernel_since_ns = t0;
  EXPECT_EQ(judge(slot, t0 + 1000 * kMs, 3000, 0).state, WatchVerdict::State::ok) << "no limit";
  EXPECT_EQ(judge(slot, t0 + 600 * kMs, 3000, 700).state, WatchVerdict::State::ok);
  const WatchVerdict v = judge(slot, t0 + 1000 * kMs, 3000, 700);
  EXPECT_EQ(v.state, WatchVerdict::State::end_kernel_time);
  EXPECT_NEAR(v.kernel_s, 1.0, 1e-9);
  slot.kernel_since_ns = 0;
  EXPECT_EQ(judge(slot, t0 + 1000 * kMs, 3000, 700).state, WatchVerdict::State::ok) << "not waiting now";
}

TEST(WorkerWatchTest, KernelWaitMarksItsScopeAndNestsOnce) {
  SessionSlot slot;
  {
    KernelWait outer(slot);
    const uint64_t start = slot.kernel_since_ns.load();
    EXPECT_NE(start, 0u);
    {
      KernelWait inner(slot);
      EXPECT_EQ(slot.kernel_since_ns.load(), start) << "a nested wait keeps the outer start";
    }
    EXPECT_EQ(slot.kernel_since_ns.load(), start) << "the inner scope's end does not clear it";
  }
  EXPECT_EQ(slot.kernel_since_ns.load(), 0u);
}

TEST(WorkerWatchTest, HeartbeatThreadBeats) {
  static SessionSlot slot;  // the thread outlives the test (it is the process's)
  start_heartbeat(slot);
  const uint64_t first = slot.heartbeat_ns.load();
  EXPECT_NE(first, 0u);
  for (int i = 0; i < 50 && slot.heartbeat_ns.load() == first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(slot.heartbeat_ns.load(), first);
}

TEST(WorkerWatchTest, ConfigKeys) {
  testing::TempToml ok("watchdog_ms = 2500\n[[tenant]]\nname = \"a\"\ntoken = \"t\"\nmax_kernel_ms = 700\n");
  Config cfg;
  std::string error;
  ASSERT_TRUE(load_config(ok.path(), cfg, error)) << error;
  EXPECT_EQ(cfg.watchdog_ms, 2500u);
  ASSERT_EQ(cfg.tenants.size(), 1u);
  EXPECT_EQ(cfg.tenants[0].max_kernel_ms, 700u);
  EXPECT_EQ(Config{}.watchdog_ms, 10000u) << "on by default";

  testing::TempToml small("watchdog_ms = 100\n");
  Config c2;
  EXPECT_FALSE(load_config(small.path(), c2, error));
  EXPECT_NE(error.find("watchdog_ms must be 0 (off) or at least 500"), std::string::npos) << error;
  testing::TempToml typo("[[tenant]]\nname = \"a\"\ntoken = \"t\"\nmax_kernal_ms = 700\n");
  EXPECT_FALSE(load_config(typo.path(), c2, error));
  EXPECT_NE(error.find("did you mean 'max_kernel_ms'"), std::string::npos) << error;
}

}  // namespace
}  // namespace gpool::server
