// The shared tenant table: quota charging per tenant and device, saturating uncharge, session
// limits, the tenant's memory view, session settlement, and charging from many threads and
// from forked processes at once (the table lives in MAP_SHARED memory).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "config.h"
#include "session_table.h"
#include "tenant_table.h"

namespace gpool::server {
namespace {

Tenant tenant(const std::string& name, uint64_t quota, unsigned max_sessions = 0) {
  Tenant t = make_tenant(name, name + "-token", false);
  t.memory_quota = quota;
  t.max_sessions = max_sessions;
  t.weight = 4;
  t.priority = Tenant::Priority::low;
  return t;
}

TEST(TenantTableTest, UpsertAndFind) {
  TenantTable table;
  const int a = table.upsert(tenant("alice", 100));
  const int b = table.upsert(tenant("bob", 0));
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(table.find("alice"), a);
  EXPECT_EQ(table.find("bob"), b);
  EXPECT_EQ(table.find("carol"), -1);
  EXPECT_EQ(table.find(""), -1);
  EXPECT_STREQ(table.slot(a).name, "alice");
  EXPECT_EQ(table.slot(a).weight.load(), 4u);
  EXPECT_EQ(table.slot(a).priority.load(), static_cast<uint32_t>(Tenant::Priority::low));
  for (int d = 0; d < kMaxDevices; ++d) EXPECT_EQ(table.slot(a).dev[d].quota_bytes.load(), 100u);
  // Upsert again by name: same slot, new values, counters kept.
  ASSERT_TRUE(table.try_charge(a, 0, 60));
  EXPECT_EQ(table.upsert(tenant("alice", 50)), a);
  EXPECT_EQ(table.slot(a).dev[3].quota_bytes.load(), 50u);
  EXPECT_EQ(table.slot(a).dev[0].bytes_held.load(), 60u);
  EXPECT_EQ(table.used(), std::max(a, b) + 1);
  // A name too long for the slot is refused, not truncated into another tenant's name.
  EXPECT_EQ(table.upsert(tenant(std::string(64, 'x'), 0)), -1);
}

TEST(TenantTableTest, TableFull) {
  TenantTable table;
  // fmt::format rather than "t" + std::to_string(i): GCC 12 at -O3 reports a false -Wrestrict there.
  for (int i = 0; i < kMaxTenants; ++i) ASSERT_EQ(table.upsert(tenant(fmt::format("t{}", i), 0)), i);
  EXPECT_EQ(table.upsert(tenant("one-more", 0)), -1);
  EXPECT_EQ(table.upsert(tenant("t7", 9)), 7) << "an existing tenant can still be updated";
}

TEST(TenantTableTest, QuotaPerTenantAndDevice) {
  TenantTable table;
  const int a = table.upsert(tenant("a", 1000));
  const int b = table.upsert(tenant("b", 0));  // unlimited
  EXPECT_TRUE(table.try_charge(a, 0, 600));
  EXPECT_TRUE(table.try_charge(a, 0, 400));   // exactly at the quota
  EXPECT_FALSE(table.try_charge(a, 0, 1));    // over
  EXPECT_EQ(table.slot(a).oom_refusals.load(), 1u);
  EXPECT_EQ(table.slot(a).dev[0].bytes_held.load(), 1000u);
  EXPECT_TRUE(table.try_charge(a, 1, 1000)) << "each device has its own quota";
  EXPECT_TRUE(table.try_charge(b, 0, uint64_t{1} << 50)) << "quota 0 is unlimited";
  EXPECT_FALSE(table.try_charge(b, 0, UINT64_MAX)) << "the counter never wraps";
  table.uncharge(a, 0, 400);
  EXPECT_TRUE(table.try_charge(a, 0, 400));
  EXPECT_FALSE(table.try_charge(a, 0, 1));
  // Out-of-range arguments are refused, never touch memory.
  EXPECT_FALSE(table.try_charge(-1, 0, 1));
  EXPECT_FALSE(table.try_charge(kMaxTenants, 0, 1));
  EXPECT_FALSE(table.try_charge(a, kMaxDevices, 1));
  table.uncharge(a, -1, 1);
}

TEST(TenantTableTest, UnchargeSaturatesAtZero) {
  TenantTable table;
  const int a = table.upsert(tenant("a", 100));
  ASSERT_TRUE(table.try_charge(a, 2, 30));
  table.uncharge(a, 2, 50);
  EXPECT_EQ(table.slot(a).dev[2].bytes_held.load(), 0u);
}

TEST(TenantTableTest, LoweredQuotaRefusesNewButKeepsHeld) {
  TenantTable table;
  const int a = table.upsert(tenant("a", 1000));
  ASSERT_TRUE(table.try_charge(a, 0, 800));
  table.upsert(tenant("a", 500));
  EXPECT_EQ(table.slot(a).dev[0].bytes_held.load(), 800u);
  EXPECT_FALSE(table.try_charge(a, 0, 1));
  table.uncharge(a, 0, 400);
  EXPECT_TRUE(table.try_charge(a, 0, 100));
  EXPECT_FALSE(table.try_charge(a, 0, 1));
}

TEST(TenantTableTest, MemoryView) {
  TenantTable table;
  const int a = table.upsert(tenant("a", 1000));
  const int u = table.upsert(tenant("u", 0));
  uint64_t f = 0, t = 0;
  table.memory_view(a, 0, 5000, 8000, f, t);
  EXPECT_EQ(t, 1000u);
  EXPECT_EQ(f, 1000u);
  ASSERT_TRUE(table.try_charge(a, 0, 300));
  table.memory_view(a, 0, 5000, 8000, f, t);
  EXPECT_EQ(f, 700u);
  table.memory_view(a, 0, 200, 8000, f, t);
  EXPECT_EQ(f, 200u) << "physical free is the bound when the device is busier than the quota";
  table.memory_view(a, 0, 200, 500, f, t);
  EXPECT_EQ(t, 500u) << "a quota above the device's memory shows the device's memory";
  table.memory_view(u, 0, 5000, 8000, f, t);
  EXPECT_EQ(f, 5000u);
  EXPECT_EQ(t, 8000u);
  table.upsert(tenant("a", 100));  // held 300 > quota 100: nothing free, never negative
  table.memory_view(a, 0, 5000, 8000, f, t);
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(t, 100u);
}

TEST(TenantTableTest, SessionLimitAdmissionAndSettlement) {
  TenantTable tenants;
  SessionTable sessions(4);
  sessions.set_tenants(&tenants);
  const int a = tenants.upsert(tenant("a", 1000, 2));
  const int s1 = sessions.acquire(), s2 = sessions.acquire(), s3 = sessions.acquire();
  ASSERT_TRUE(admit_session(tenants, a, sessions.slot(s1)));
  ASSERT_TRUE(admit_session(tenants, a, sessions.slot(s2)));
  EXPECT_FALSE(admit_session(tenants, a, sessions.slot(s3))) << "max_sessions = 2";
  EXPECT_EQ(sessions.slot(s3).tenant.load(), -1);
  EXPECT_EQ(tenants.slot(a).sessions.load(), 2u);
  // A worker charged memory and recorded it in its slot, then died: release settles it.
  ASSERT_TRUE(tenants.try_charge(a, 0, 300));
  sessions.slot(s1).dev_bytes[0] = 300;
  ASSERT_TRUE(tenants.try_charge(a, 5, 20));
  sessions.slot(s1).dev_bytes[5] = 20;
  ASSERT_TRUE(tenants.try_charge(a, 0, 100));
  sessions.slot(s2).dev_bytes[0] = 100;
  sessions.release(s1);
  EXPECT_EQ(tenants.slot(a).dev[0].bytes_held.load(), 100u) << "only s1's bytes return";
  EXPECT_EQ(tenants.slot(a).dev[5].bytes_held.load(), 0u);
  EXPECT_EQ(tenants.slot(a).sessions.load(), 1u);
  EXPECT_TRUE(admit_session(tenants, a, sessions.slot(s3))) << "a session ended: room again";
  settle_session(tenants, sessions.slot(s3));
  settle_session(tenants, sessions.slot(s3));  // idempotent
  EXPECT_EQ(tenants.slot(a).sessions.load(), 1u);
  // Unlimited tenant and "no accounting" (-1) always admit.
  const int u = tenants.upsert(tenant("u", 0, 0));
  const int s4 = sessions.acquire();
  EXPECT_TRUE(admit_session(tenants, u, sessions.slot(s4)));
  EXPECT_TRUE(admit_session(tenants, -1, sessions.slot(s3)));
}

TEST(TenantTableTest, ConcurrentChargesFromThreadsNeverExceedTheQuota) {
  TenantTable table;
  const int a = table.upsert(tenant("a", 10000));
  std::atomic<uint64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        if (table.try_charge(a, 0, 3)) {
          granted += 3;
          if (i % 3 == 0) {
            table.uncharge(a, 0, 3);
            granted -= 3;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(table.slot(a).dev[0].bytes_held.load(), granted.load());
  EXPECT_LE(granted.load(), 10000u);
  EXPECT_GT(table.slot(a).oom_refusals.load(), 0u);
}

TEST(TenantTableTest, ChargesFromForkedProcessesShareOneQuota) {
  TenantTable table;  // MAP_SHARED: the children's charges land here
  const int a = table.upsert(tenant("a", 1000));
  constexpr int kChildren = 4;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int got = 0;
      for (int i = 0; i < 1000; ++i) got += table.try_charge(a, 1, 1) ? 1 : 0;
      ::_exit(got > 255 ? 255 : got);  // exit code: grants (capped; 1000/4 each on average)
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
  }
  EXPECT_EQ(table.slot(a).dev[1].bytes_held.load(), 1000u) << "exactly the quota, no more";
  EXPECT_EQ(table.slot(a).oom_refusals.load(), uint64_t{kChildren * 1000 - 1000});
}

}  // namespace
}  // namespace gpool::server
