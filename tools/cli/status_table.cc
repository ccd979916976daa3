#include "status_table.h"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>

#include "gpool/common/json.h"

namespace gpool::tools {

std::string format_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

namespace {

using json::Value;

std::string count(double n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string bytes(double b) { return format_bytes(b); }
std::string table(const std::vector<std::vector<std::string>>& rows) { return format_table(rows); }
}  // namespace

bool render_status(const std::string& json, std::string& out, std::string& error) {
  Value doc;
  if (!gpool::json::parse(json, doc) || doc.kind != Value::kObject) {
    error = "the server's status is not valid JSON";
    return false;
  }
  out += "backend: " + doc["backend"].str() + "\n";
  if (doc["tenant"].kind == Value::kString) {
    out += "tenant " + doc["tenant"].str() + "'s own view (an admin token shows every tenant)\n";
  }
  const Value& pool = doc["pool"];
  if (pool.kind == Value::kObject) {
    out += "pool: " + count(pool["alive"].num()) + " of " + count(pool["target"].num()) + " warm worker(s) waiting (" +
           count(pool["ready"].num()) + " ready); sessions started warm " + count(pool["warm_sessions"].num()) +
           ", cold " + count(pool["cold_sessions"].num()) + "; devices " + count(pool["device_count"].num()) + "\n";
  }
  if (doc["metrics"].kind == Value::kString) out += "metrics: " + doc["metrics"].str() + "\n";

  const Value& tenants = doc["tenants"];
  if (tenants.kind == Value::kArray) {
    std::vector<std::vector<std::string>> rows{{"TENANT", "SESSIONS", "CALLS", "BYTES IN", "BYTES OUT", "ERRORS", "OOM REFUSALS"}};
    std::vector<std::vector<std::string>> dev_rows{{"TENANT", "DEVICE", "MEMORY HELD", "QUOTA", "DEVICE TIME"}};
    for (const Value& t : tenants.items) {
      rows.push_back({t["name"].str(), count(t["sessions"].num()), count(t["calls"].num()), bytes(t["bytes_in"].num()),
                      bytes(t["bytes_out"].num()), count(t["errors"].num()), count(t["oom_refusals"].num())});
      for (const Value& d : t["devices"].items) {
        char time[32];
        std::snprintf(time, sizeof time, "%.3f s", d["device_time_s"].num());
        dev_rows.push_back({t["name"].str(), count(d["device"].num()), bytes(d["bytes_held"].num()),
                            d["quota_bytes"].num() > 0 ? bytes(d["quota_bytes"].num()) : "unlimited", time});
      }
    }
    out += "\n" + table(rows) + "\n" + table(dev_rows);
  }

  const Value& sessions = doc["sessions"];
  if (sessions.kind != Value::kArray) {
    error = "the server's status has no session list";
    return false;
  }
  out += "\n";
  if (sessions.items.empty()) out += "no sessions\n";
  std::vector<std::vector<std::string>> rows{{"SESSION", "TENANT", "PEER", "PID", "START", "MEMORY HELD", "CALLS",
                                              "ROUND TRIPS", "BYTES IN", "BYTES OUT", "ERRORS", "AGE", "STATE"}};
  for (const Value& s : sessions.items) {
    char age[32];
    std::snprintf(age, sizeof age, "%.1f s", s["age_s"].num());
    rows.push_back({count(s["id"].num()), s["tenant"].str(), s["peer"].str(), count(s["pid"].num()),
                    s["warm"].b ? "warm" : "cold", bytes(s["bytes_held"].num()), count(s["calls"].num()),
                    count(s["round_trips"].num()), bytes(s["bytes_in"].num()), bytes(s["bytes_out"].num()),
                    count(s["errors"].num()), age, s["state"].str()});
  }
  if (!sessions.items.empty()) out += table(rows);
  const Value& ended = doc["ended"];
  if (ended.kind == Value::kArray && !ended.items.empty()) {
    std::vector<std::vector<std::string>> ended_rows{{"ENDED SESSION", "TENANT", "PID", "AGO", "REASON"}};
    for (const Value& e : ended.items) {
      char ago[32];
      std::snprintf(ago, sizeof ago, "%.1f s", e["ago_s"].num());
      ended_rows.push_back({count(e["id"].num()), e["tenant"].str(), count(e["pid"].num()), ago, e["reason"].str()});
    }
    out += "\n" + table(ended_rows);
  }
  return true;
}

}  // namespace gpool::tools
