// Live reload (reload.h): a changed quota reaches the shared table, a removed tenant can no
// longer authenticate, command-line tenants survive, and a bad file changes nothing.
#include <gtest/gtest.h>

#include <csignal>

#include "auth.h"
#include "reload.h"
#include "test_files.h"

namespace gpool::server {
namespace {

const char* kBefore = R"(
[[tenant]]
name = "alice"
token = "ta"
memory_quota = "1MiB"
max_sessions = 1
[[tenant]]
name = "bob"
token = "tb"
[[tenant]]
name = "ops"
token = "to"
admin = true
)";

const char* kAfter = R"(
[[tenant]]
name = "alice"
token = "ta2"
memory_quota = "2MiB"
compute_weight = 5
priority = "low"
max_sessions = 3
devices = [1]
[[tenant]]
name = "carol"
token = "tc"
)";

struct Server {
  Config config;
  TenantTable tenants;
  explicit Server(const std::string& path) {
    config.tenants.push_back(make_tenant("default", "cli-token", false));
    std::string error;
    EXPECT_TRUE(load_config(path, config, error)) << error;
    for (const Tenant& t : config.tenants) {
      if (!t.admin) tenants.upsert(t);
    }
  }
};

TEST(ReloadTest, AppliesQuotaAndTenantChanges) {
  testing::TempToml f(kBefore);
  Server s(f.path());
  const int alice = s.tenants.find("alice");
  ASSERT_GE(alice, 0);
  ASSERT_TRUE(s.tenants.try_charge(alice, 0, 900 * 1024));
  EXPECT_FALSE(s.tenants.try_charge(alice, 0, 200 * 1024));

  f.write(kAfter);
  std::string error;
  ASSERT_TRUE(reload_tenants(s.config, s.tenants, error)) << error;
  EXPECT_EQ(s.tenants.find("alice"), alice) << "same slot: live sessions keep their accounting";
  EXPECT_EQ(s.tenants.slot(alice).dev[0].quota_bytes.load(), 2u << 20);
  EXPECT_EQ(s.tenants.slot(alice).dev[0].bytes_held.load(), 900u * 1024);
  EXPECT_TRUE(s.tenants.try_charge(alice, 0, 200 * 1024)) << "the raised quota applies at once";
  EXPECT_EQ(s.tenants.slot(alice).weight.load(), 5u);
  EXPECT_EQ(s.tenants.slot(alice).max_sessions.load(), 3u);

  // Tokens: alice's changed, bob and ops were removed, carol was added, the command-line
  // tenant stays.
  EXPECT_EQ(authenticate(s.config.tenants, "ta"), nullptr);
  ASSERT_NE(authenticate(s.config.tenants, "ta2"), nullptr);
  EXPECT_EQ(authenticate(s.config.tenants, "ta2")->devices, std::vector<int>{1});
  EXPECT_EQ(authenticate(s.config.tenants, "tb"), nullptr);
  EXPECT_EQ(authenticate(s.config.tenants, "to"), nullptr);
  ASSERT_NE(authenticate(s.config.tenants, "tc"), nullptr);
  ASSERT_NE(authenticate(s.config.tenants, "cli-token"), nullptr);
  EXPECT_GE(s.tenants.find("carol"), 0);
  EXPECT_GE(s.tenants.find("bob"), 0) << "a removed tenant keeps its slot for live sessions";
}

TEST(ReloadTest, InvalidFileChangesNothing) {
  testing::TempToml f(kBefore);
  Server s(f.path());
  const int alice = s.tenants.find("alice");
  f.write("[[tenant]]\nname = \"alice\"\ntoken = \"ta\"\nmemory_quota = \"lots\"\n");
  std::string error;
  EXPECT_FALSE(reload_tenants(s.config, s.tenants, error));
  EXPECT_NE(error.find("memory_quota"), std::string::npos) << error;
  EXPECT_EQ(s.tenants.slot(alice).dev[0].quota_bytes.load(), 1u << 20);
  EXPECT_NE(authenticate(s.config.tenants, "tb"), nullptr);
}

TEST(ReloadTest, CommandLineNameClashIsRefused) {
  testing::TempToml f(kBefore);
  Server s(f.path());
  f.write("[[tenant]]\nname = \"default\"\ntoken = \"x\"\n");
  std::string error;
  EXPECT_FALSE(reload_tenants(s.config, s.tenants, error));
  EXPECT_NE(error.find("command line"), std::string::npos) << error;
}

TEST(ReloadTest, NoConfigFileToReload) {
  Config cfg;
  TenantTable tenants;
  std::string error;
  EXPECT_FALSE(reload_tenants(cfg, tenants, error));
  EXPECT_NE(error.find("--config"), std::string::npos);
}

TEST(ReloadTest, SignalSetsAOneShotRequest) {
  EXPECT_FALSE(take_reload_request());
  auto previous = std::signal(SIGHUP, on_reload_signal);
  std::raise(SIGHUP);
  std::signal(SIGHUP, previous);
  EXPECT_TRUE(take_reload_request());
  EXPECT_FALSE(take_reload_request());
}

}  // namespace
}  // namespace gpool::server
