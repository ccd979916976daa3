// Config parsing: every tenant key, the server keys the pool reads, and the error messages
// (file, key, expectation) for bad values.
#include <gtest/gtest.h>

#include "config.h"
#include "gpool/remote/call_codec.h"
#include "test_files.h"

namespace gpool::server {
namespace {

using testing::TempToml;

TEST(ConfigTest, ParsesTenantKeys) {
  TempToml f(R"(
listen = "tcp://127.0.0.1:0"
warm_workers = 3
metrics_listen = "127.0.0.1:9400"
scheduler = true
scheduler_metering = "events"
scheduler_batch = 4
[[tenant]]
name = "alice"
token = "secret-a"
memory_quota = "8GiB"
compute_weight = 3
priority = "high"
max_sessions = 2
devices = [1, 0, 1]
[[tenant]]
name = "bob"
token = "secret-b"
memory_quota = 1048576
[[tenant]]
name = "ops"
token = "secret-ops"
admin = true
)");
  Config cfg;
  std::string error;
  ASSERT_TRUE(load_config(f.path(), cfg, error)) << error;
  EXPECT_EQ(cfg.warm_workers, 3u);
  EXPECT_EQ(cfg.metrics_listen, "127.0.0.1:9400");
  EXPECT_TRUE(cfg.scheduler);
  EXPECT_EQ(cfg.scheduler_metering, "events");
  EXPECT_EQ(cfg.scheduler_batch, 4u);
  EXPECT_EQ(cfg.path, f.path());
  ASSERT_EQ(cfg.tenants.size(), 3u);
  const Tenant& a = cfg.tenants[0];
  EXPECT_EQ(a.name, "alice");
  EXPECT_EQ(a.memory_quota, 8ull << 30);
  EXPECT_EQ(a.weight, 3u);
  EXPECT_EQ(a.priority, Tenant::Priority::high);
  EXPECT_EQ(a.max_sessions, 2u);
  EXPECT_EQ(a.devices, (std::vector<int>{1, 0}));  // duplicates dropped, order kept
  EXPECT_EQ(a.token_hash, remote::sha256(remote::as_bytes(std::string("secret-a"))));
  EXPECT_FALSE(a.from_command_line);
  const Tenant& b = cfg.tenants[1];
  EXPECT_EQ(b.memory_quota, 1048576u);
  EXPECT_EQ(b.weight, 1u);
  EXPECT_EQ(b.priority, Tenant::Priority::normal);
  EXPECT_EQ(b.max_sessions, 0u);
  EXPECT_TRUE(b.devices.empty());
  EXPECT_TRUE(cfg.tenants[2].admin);
}

TEST(ConfigTest, ByteSizes) {
  uint64_t v = 0;
  EXPECT_TRUE(parse_byte_size("0", v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_byte_size("123", v));
  EXPECT_EQ(v, 123u);
  EXPECT_TRUE(parse_byte_size("512MiB", v));
  EXPECT_EQ(v, 512ull << 20);
  EXPECT_TRUE(parse_byte_size("1.5 GiB", v));
  EXPECT_EQ(v, 3ull << 29);
  EXPECT_TRUE(parse_byte_size("2GB", v));
  EXPECT_EQ(v, 2000000000u);
  EXPECT_TRUE(parse_byte_size("4KiB", v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(parse_byte_size("1TiB", v));
  EXPECT_EQ(v, 1ull << 40);
  for (const char* bad : {"", "GiB", "-1", "8XB", "1..5GiB", ".5GiB", "5.GiB", "1e3", "8 gib",
                          "99999999999999999999", "20000000TiB"}) {
    EXPECT_FALSE(parse_byte_size(bad, v)) << bad;
  }
}

struct BadCase {
  const char* body;
  const char* must_mention;
};

TEST(ConfigTest, ErrorsNameFileKeyAndExpectation) {
  const BadCase cases[] = {
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\nmemory_quota = \"8XB\"\n", "memory_quota"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\nmemory_quota = -5\n", "memory_quota"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\ncompute_weight = 0\n", "compute_weight = 0 is out of range: it must be 1..1000"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\ncompute_weight = \"3\"\n", "compute_weight"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\npriority = \"urgent\"\n", "priority must be"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\nmax_sessions = -1\n", "max_sessions"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\ndevices = [0, -1]\n", "devices must be"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\ndevices = 3\n", "devices must be"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\nadmin = \"yes\"\n", "admin must be"},
      {"[[tenant]]\nname = \"a\"\ntoken_sha256 = \"abc\"\n", "64 hex digits"},
      {"[[tenant]]\nname = \"a\"\n", "neither token_sha256 nor token"},
      {"[[tenant]]\ntoken = \"t\"\n", "has no name"},
      {"[[tenant]]\nname = \"a\"\ntoken = \"t\"\n[[tenant]]\nname = \"a\"\ntoken = \"u\"\n", "listed twice"},
      {"warm_workers = -2\n", "warm_workers"},
      {"metrics_listen = \"nope\"\n", "metrics_listen must be"},
      {"metrics_listen = 9400\n", "metrics_listen must be"},
      {"tenant = 5\n", "tenant must be an array"},
      {"scheduler_metering = \"gpu\"\n", "scheduler_metering must be"},
      {"scheduler_batch = 1000\n", "scheduler_batch"},
      {"[[tenant]\n", "line"},
  };
  for (const BadCase& c : cases) {
    TempToml f(c.body);
    Config cfg;
    cfg.max_sessions = 7;
    std::string error;
    EXPECT_FALSE(load_config(f.path(), cfg, error)) << c.body;
    EXPECT_NE(error.find(f.path()), std::string::npos) << error;
    EXPECT_NE(error.find(c.must_mention), std::string::npos) << "error: " << error;
    EXPECT_EQ(cfg.max_sessions, 7u) << "a failed load must leave the config unchanged";
    EXPECT_TRUE(cfg.tenants.empty());
  }
}

TEST(ConfigTest, MissingFileIsAnError) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(load_config("/nonexistent/gpool/server.toml", cfg, error));
  EXPECT_NE(error.find("/nonexistent/gpool/server.toml"), std::string::npos) << error;
}

TEST(ConfigTest, CommandLineTenantIsMarked) {
  const Tenant t = make_tenant("default", "tok", false);
  EXPECT_TRUE(t.from_command_line);
  EXPECT_EQ(t.memory_quota, 0u);
  EXPECT_EQ(std::string(priority_name(Tenant::Priority::low)), "low");
  EXPECT_EQ(std::string(priority_name(Tenant::Priority::high)), "high");
}

TEST(ConfigTest, RegistryKeys) {
  TempToml f("registry = \"etcd://10.0.0.2:2379,10.0.0.3/prod\"\nadvertise_url = \"tcp://10.0.0.5:7070\"\n"
             "registry_ttl_s = 5\n");
  Config cfg;
  std::string error;
  ASSERT_TRUE(load_config(f.path(), cfg, error)) << error;
  EXPECT_EQ(cfg.registry, "etcd://10.0.0.2:2379,10.0.0.3/prod");
  EXPECT_EQ(cfg.advertise_url, "tcp://10.0.0.5:7070");
  EXPECT_EQ(cfg.registry_ttl_s, 5u);
  const BadCase bad[] = {
      {"registry = \"tcp://h:1/p\"\n", "registry \"tcp://h:1/p\": not an etcd:// URL"},
      {"registry = \"etcd://h:2379\"\n", "expected etcd://HOST[:PORT]"},
      {"registry = \"etcd://h/bad name\"\n", "pool name"},
      {"registry = 1\n", "registry must be a string"},
      {"registry_ttl_s = 0\n", "registry_ttl_s = 0 is out of range: it must be 1..3600"},
      {"advertise_url = 7070\n", "advertise_url must be a string"},
      {"regsitry = \"etcd://h/p\"\n", "registry"},  // unknown key, with a "did you mean"
  };
  for (const BadCase& c : bad) {
    TempToml b(c.body);
    Config unchanged;
    EXPECT_FALSE(load_config(b.path(), unchanged, error)) << c.body;
    EXPECT_NE(error.find(c.must_mention), std::string::npos) << "error: " << error;
    EXPECT_TRUE(unchanged.registry.empty());
  }
}

}  // namespace
}  // namespace gpool::server
