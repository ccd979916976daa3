// PreauthGate and LogLimiter (preauth.h): per-source and total limits on pending handshakes,
// the per-source token bucket of failed authentications, and rate-limited log lines.
#include <gtest/gtest.h>

#include "preauth.h"

namespace gpool::server {
namespace {

using Clock = std::chrono::steady_clock;
using Admit = PreauthGate::Admit;

TEST(PreauthTest, SourceAddressDropsSchemeAndPort) {
  EXPECT_EQ(source_address("tcp://10.0.0.5:41000"), "10.0.0.5");
  EXPECT_EQ(source_address("tcp://[::1]:7070"), "::1");
  EXPECT_EQ(source_address("10.1.2.3:9"), "10.1.2.3");
  EXPECT_EQ(source_address("weird"), "weird");
}

TEST(PreauthTest, PerSourceAndTotalLimits) {
  PreauthGate g(PreauthLimits{2, 3, 10, 60});
  const auto now = Clock::now();
  EXPECT_EQ(g.admit("a", now), Admit::ok);
  EXPECT_EQ(g.admit("a", now), Admit::ok);
  EXPECT_EQ(g.admit("a", now), Admit::source_limit);  // a third from one source
  EXPECT_EQ(g.admit("b", now), Admit::ok);            // another source is unaffected
  EXPECT_EQ(g.admit("c", now), Admit::total_limit);   // three pending in all
  EXPECT_EQ(g.pending(), 3u);
  g.release("a");
  EXPECT_EQ(g.admit("c", now), Admit::ok);
  g.release("nobody");  // unknown: ignored
  EXPECT_EQ(g.pending(), 3u);
}

TEST(PreauthTest, FailedAuthenticationsAreRateLimitedPerSource) {
  PreauthGate g(PreauthLimits{8, 100, 3, 60});  // burst 3, one a second
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(g.admit("x", t0), Admit::ok);
    g.auth_failed("x", t0);
    g.release("x");
  }
  EXPECT_EQ(g.admit("x", t0), Admit::auth_rate);  // out of attempts
  EXPECT_EQ(g.admit("y", t0), Admit::ok);         // another source is not
  g.release("y");
  EXPECT_EQ(g.admit("x", t0 + std::chrono::milliseconds(500)), Admit::auth_rate);
  EXPECT_EQ(g.admit("x", t0 + std::chrono::milliseconds(1001)), Admit::ok);  // one refilled
  g.auth_failed("x", t0 + std::chrono::milliseconds(1001));
  g.release("x");
  EXPECT_EQ(g.admit("x", t0 + std::chrono::milliseconds(1500)), Admit::auth_rate);
  // A long quiet spell refills at most the burst.
  const auto later = t0 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(g.admit("x", later), Admit::ok);
    g.auth_failed("x", later);
    g.release("x");
  }
  EXPECT_EQ(g.admit("x", later), Admit::auth_rate);
}

TEST(PreauthTest, TrackedSourcesStayBounded) {
  PreauthGate g(PreauthLimits{1, 1000000, 2, 60});
  const auto now = Clock::now();
  for (size_t i = 0; i < PreauthGate::kMaxTrackedSources + 100; ++i) {
    const std::string src = "10.0." + std::to_string(i);
    ASSERT_EQ(g.admit(src, now), Admit::ok);
    g.release(src);  // nothing pending, full bucket: forgettable
  }
  EXPECT_LE(g.tracked_sources(), PreauthGate::kMaxTrackedSources);
}

TEST(PreauthTest, LogLimiterCountsSuppressedLines) {
  LogLimiter l(2);
  const auto t0 = Clock::now();
  uint64_t suppressed = 99;
  EXPECT_TRUE(l.allow(t0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_TRUE(l.allow(t0, suppressed));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(l.allow(t0 + std::chrono::milliseconds(10), suppressed));
  EXPECT_TRUE(l.allow(t0 + std::chrono::milliseconds(1100), suppressed));
  EXPECT_EQ(suppressed, 5u);
}

}  // namespace
}  // namespace gpool::server
