#include "servers.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "gpool/registry/etcd.h"
#include "gpool/registry/placement.h"
#include "gpool/registry/server_record.h"

namespace gpool::tools {
namespace {

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double b = static_cast<double>(n);
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", b, units[u]) : fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace

bool list_servers(const std::string& pool_url, bool json, std::string& out, std::string& error) {
  registry::PoolUrl pool;
  if (!registry::parse_pool_url(pool_url, pool, error)) return false;
  registry::Etcd etcd(pool.endpoints, std::chrono::milliseconds(3000));
  std::vector<registry::KeyValue> kvs;
  if (!etcd.range_prefix(registry::pool_prefix(pool.pool), kvs, error)) return false;
  std::vector<registry::ServerRecord> records;
  std::string bad;
  for (const registry::KeyValue& kv : kvs) {
    registry::ServerRecord r;
    std::string why;
    if (registry::from_json(kv.value, r, why)) {
      records.push_back(std::move(r));
    } else {
      bad += fmt::format("gpool servers: ignoring the malformed record {}: {}\n", kv.key, why);
    }
  }
  if (!bad.empty()) std::fputs(bad.c_str(), stderr);
  // The shim's order first, then what it would not try (full, no devices).
  std::vector<size_t> order = registry::rank_servers(records);
  for (size_t i = 0; i < records.size(); ++i) {
    if (std::find(order.begin(), order.end(), i) == order.end()) order.push_back(i);
  }
  std::vector<registry::ServerRecord> sorted;
  for (size_t i : order) sorted.push_back(records[i]);
  if (json) {
    out = registry::to_json(sorted) + "\n";
    return true;
  }
  std::vector<std::vector<std::string>> rows{
      {"URL", "HOST", "VERSION", "SESSIONS", "LOAD", "DEVICES", "FREE (BEST DEVICE)", "STATE"}};
  for (const registry::ServerRecord& r : sorted) {
    rows.push_back({r.url, r.host, r.version, fmt::format("{}/{}", r.sessions, r.max_sessions),
                    fmt::format("{:.2f}", r.load), std::to_string(r.devices.size()),
                    human_bytes(r.best_free()),
                    r.full() ? "full" : r.devices.empty() ? "no devices" : "ok"});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  out = fmt::format("pool {} ({} server(s))\n", pool_url, records.size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return true;
}

}  // namespace gpool::tools
