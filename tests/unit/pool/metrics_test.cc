// Prometheus text and status JSON from the shared tables (metrics.h): every documented series
// with HELP/TYPE, values read from the tables, label escaping, and the metrics_listen parser.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <sstream>

#include "metrics.h"

namespace gpool::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

// A plain HTTP/1.0 GET on 127.0.0.1:port; the whole answer (head and body).
std::string http_get(int port, const char* path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = std::string("GET ") + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

Tenant tenant(const std::string& name, uint64_t quota) {
  Tenant t;
  t.name = name;
  t.memory_quota = quota;
  return t;
}

TEST(Metrics, ReportsEveryTenantAndDeviceFromTheTables) {
  TenantTable tenants;
  const int a = tenants.upsert(tenant("alice", 1 << 20));
  const int b = tenants.upsert(tenant("bob", 0));
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  TenantSlot& s = tenants.slot(a);
  s.sessions = 2;
  s.calls = 40;
  s.bytes_in = 4096;
  s.bytes_out = 8192;
  s.errors = 3;
  s.oom_refusals = 1;
  s.image_uploads = 2;
  s.image_upload_bytes = 6000;
  s.public_image_loads = 7;
  s.dev[1].bytes_held = 65536;
  s.dev[1].device_time_ns = 1500000000;
  SessionTable sessions(4);
  ASSERT_GE(sessions.acquire(), 0);
  PoolStats* pool = PoolStats::create_shared();
  pool->target = 2;
  pool->alive = 1;
  pool->ready = 1;
  pool->warm_sessions = 5;
  pool->cold_sessions = 1;
  pool->device_count = 2;

  const std::string text = format_metrics({&tenants, &sessions, pool});
  for (const char* name : {"tenant_sessions", "tenant_calls_total", "tenant_bytes_in_total",
                           "tenant_bytes_out_total", "tenant_errors_total", "tenant_oom_refusals_total",
                           "tenant_memory_held_bytes", "tenant_memory_quota_bytes",
                           "tenant_device_time_seconds_total", "sessions", "pool_warm_ready",
                           "pool_sessions_total"}) {
    EXPECT_NE(text.find(std::string("# HELP gpool_") + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find(std::string("# TYPE gpool_") + name + " "), std::string::npos) << name;
  }
  EXPECT_TRUE(has_line(text, "gpool_tenant_sessions{tenant=\"alice\"} 2"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_calls_total{tenant=\"alice\"} 40"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_bytes_in_total{tenant=\"alice\"} 4096"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_bytes_out_total{tenant=\"alice\"} 8192"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_errors_total{tenant=\"alice\"} 3"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_oom_refusals_total{tenant=\"alice\"} 1"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_image_upload_bytes_total{tenant=\"alice\"} 6000"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_public_image_loads_total{tenant=\"alice\"} 7"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_calls_total{tenant=\"bob\"} 0"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_memory_held_bytes{tenant=\"alice\",device=\"1\"} 65536"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_memory_held_bytes{tenant=\"alice\",device=\"0\"} 0"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_memory_quota_bytes{tenant=\"alice\",device=\"0\"} 1048576"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_memory_quota_bytes{tenant=\"bob\",device=\"1\"} 0"));
  EXPECT_TRUE(has_line(text, "gpool_tenant_device_time_seconds_total{tenant=\"alice\",device=\"1\"} 1.500000000"));
  EXPECT_EQ(text.find("device=\"2\""), std::string::npos);  // two devices reported
  EXPECT_TRUE(has_line(text, "gpool_sessions 1"));
  EXPECT_TRUE(has_line(text, "gpool_pool_warm_target 2"));
  EXPECT_TRUE(has_line(text, "gpool_pool_warm_ready 1"));
  EXPECT_TRUE(has_line(text, "gpool_pool_sessions_total{start=\"warm\"} 5"));
  EXPECT_TRUE(has_line(text, "gpool_pool_sessions_total{start=\"cold\"} 1"));

  const std::string json = tenants_json(tenants, 2);
  EXPECT_NE(json.find("{\"name\":\"alice\",\"sessions\":2,\"calls\":40,\"bytes_in\":4096,\"bytes_out\":8192,"
                      "\"errors\":3,\"oom_refusals\":1,\"image_bytes\":0,\"image_quota\":1073741824,"
                      "\"image_uploads\":2,\"image_upload_bytes\":6000,\"public_image_loads\":7,\"devices\":[{\"device\":0,\"bytes_held\":0,"
                      "\"quota_bytes\":1048576,\"device_time_s\":0.000000},{\"device\":1,\"bytes_held\":65536,"),
            std::string::npos)
      << json;
}

TEST(Metrics, EscapesLabelValuesAndShowsOneDeviceBeforeAnyWorkerReported) {
  TenantTable tenants;
  ASSERT_GE(tenants.upsert(tenant("we\"ird\\name", 0)), 0);
  PoolStats* pool = PoolStats::create_shared();
  const std::string text = format_metrics({&tenants, nullptr, pool});
  EXPECT_TRUE(has_line(text, "gpool_tenant_calls_total{tenant=\"we\\\"ird\\\\name\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "gpool_tenant_memory_held_bytes{tenant=\"we\\\"ird\\\\name\",device=\"0\"} 0"));
  EXPECT_EQ(text.find("device=\"1\""), std::string::npos);
}

TEST(Metrics, ParsesTheListenAddress) {
  std::string host;
  int port = -1;
  EXPECT_TRUE(parse_host_port("127.0.0.1:9400", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9400);
  EXPECT_TRUE(parse_host_port("[::1]:0", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  for (const char* bad : {"", "9400", "host:", ":80", "host:70000", "host:12x", "::1:80", "[::1]80"}) {
    EXPECT_FALSE(parse_host_port(bad, host, port)) << bad;
  }
}

TEST(Metrics, AMetricsProcessServesLiveFiguresAndRefusesAnAddressInUse) {
  TenantTable tenants;
  PoolStats* pool = PoolStats::create_shared();
  std::string bound, error;
  const pid_t pid = start_metrics_process("127.0.0.1:0", {&tenants, nullptr, pool}, [] {}, bound, error);
  ASSERT_GT(pid, 0) << error;
  EXPECT_EQ(bound.rfind("127.0.0.1:", 0), 0u);
  const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  ASSERT_GE(tenants.upsert(tenant("carol", 0)), 0);  // after the fork: the table is shared
  tenants.slot(tenants.find("carol")).calls = 12;
  const std::string answer = http_get(port, "/metrics");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_NE(answer.find("\ngpool_tenant_calls_total{tenant=\"carol\"} 12\n"), std::string::npos) << answer;
  EXPECT_EQ(http_get(port, "/nothing").rfind("HTTP/1.1 404", 0), 0u);
  std::string bound2, error2;
  EXPECT_EQ(start_metrics_process(bound, {&tenants, nullptr, pool}, [] {}, bound2, error2), -1);
  EXPECT_NE(error2.find("cannot listen for metrics on " + bound), std::string::npos) << error2;
  EXPECT_EQ(start_metrics_process("nonsense", {&tenants, nullptr, pool}, [] {}, bound2, error2), -1);
  EXPECT_NE(error2.find("is not host:port"), std::string::npos);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace gpool::server
