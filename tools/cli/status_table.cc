#include "status_table.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

namespace gpool::tools {
namespace {

struct Value {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Value> items;
  std::map<std::string, Value, std::less<>> fields;

  const Value& operator[](std::string_view key) const {
    static const Value none;
    auto it = fields.find(key);
    return it == fields.end() ? none : it->second;
  }
  double num() const { return kind == kNumber ? n : 0; }
  std::string str() const { return kind == kString ? s : ""; }
};

class Reader {
 public:
  explicit Reader(std::string_view text) : t_(text) {}

  bool parse(Value& out) {
    if (!value(out, 0)) return false;
    ws();
    return i_ == t_.size();
  }

 private:
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) ++i_;
  }
  bool lit(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool string(std::string& out) {
    if (i_ >= t_.size() || t_[i_] != '"') return false;
    ++i_;
    while (i_ < t_.size() && t_[i_] != '"') {
      char c = t_[i_++];
      if (c == '\\') {
        if (i_ >= t_.size()) return false;
        c = t_[i_++];
        if (c == 'n') c = '\n';
        else if (c == 't') c = '\t';
        else if (c == 'u') {
          if (i_ + 4 > t_.size()) return false;
          const long cp = std::strtol(std::string(t_.substr(i_, 4)).c_str(), nullptr, 16);
          i_ += 4;
          c = cp < 0x80 ? static_cast<char>(cp) : '?';
        }
      }
      out.push_back(c);
    }
    if (i_ >= t_.size()) return false;
    ++i_;
    return true;
  }
  bool value(Value& v, int depth) {
    if (depth > 32) return false;
    ws();
    if (i_ >= t_.size()) return false;
    const char c = t_[i_];
    if (c == '{') {
      v.kind = Value::kObject;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
      for (;;) {
        ws();
        std::string key;
        if (!string(key)) return false;
        ws();
        if (i_ >= t_.size() || t_[i_++] != ':') return false;
        if (!value(v.fields[key], depth + 1)) return false;
        ws();
        if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
        if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
        return false;
      }
    }
    if (c == '[') {
      v.kind = Value::kArray;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
      for (;;) {
        v.items.emplace_back();
        if (!value(v.items.back(), depth + 1)) return false;
        ws();
        if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
        if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
        return false;
      }
    }
    if (c == '"') {
      v.kind = Value::kString;
      return string(v.s);
    }
    if (lit("true")) { v.kind = Value::kBool; v.b = true; return true; }
    if (lit("false")) { v.kind = Value::kBool; return true; }
    if (lit("null")) return true;
    const std::string rest(t_.substr(i_, 64));
    char* end = nullptr;
    v.n = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return false;
    v.kind = Value::kNumber;
    i_ += static_cast<size_t>(end - rest.c_str());
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

std::string bytes(double b) {
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

std::string count(double n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

// Left-aligned columns, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows) {
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

}  // namespace

bool render_status(const std::string& json, std::string& out, std::string& error) {
  Value doc;
  if (!Reader(json).parse(doc) || doc.kind != Value::kObject) {
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
