#include "gpool/common/env.h"

#include "gpool/common/log.h"
#include "gpool/common/variables.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <set>

namespace gpool::env {

namespace {

// A GPOOL_* name missing from the variable table (gpool/common/variables.h) is a bug of gpool:
// it would be undocumented and invisible to `gpool info`. Logged once per name, then read anyway.
void check_declared(std::string_view name) {
  if (name.substr(0, 6) != "GPOOL_" || vars::find(name) != nullptr) return;
  static std::mutex mu;
  static std::set<std::string, std::less<>> reported;
  std::lock_guard lock(mu);
  if (!reported.insert(std::string(name)).second) return;
  log::logger("config").error("{} is read but not declared in gpool/common/variables.h; add it there",
                              name);
}

}  // namespace

std::optional<std::string> get(std::string_view name) {
  check_declared(name);
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::optional<uint64_t> parse_size(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  uint64_t mult = 1;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
  if (last == 'b' && text.size() > 1) {  // accept "16gb" / "16GiB"-less forms like "16g"
    text.remove_suffix(1);
    last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
    if (last == 'i' && text.size() > 1) {
      text.remove_suffix(1);
      last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
    }
  }
  switch (last) {
    case 'k': mult = 1ull << 10; break;
    case 'm': mult = 1ull << 20; break;
    case 'g': mult = 1ull << 30; break;
    case 't': mult = 1ull << 40; break;
    default: break;
  }
  if (mult != 1) text.remove_suffix(1);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (value > UINT64_MAX / mult) return std::nullopt;
  return value * mult;
}

uint64_t get_size(std::string_view name, uint64_t fallback) {
  auto v = get(name);
  if (!v) return fallback;
  auto parsed = parse_size(*v);
  if (!parsed) {
    log::logger("config").warn("ignoring {}=\"{}\": expected a size such as 4096, 512m or 16g; using {}",
                               name, *v, fallback);
    return fallback;
  }
  return *parsed;
}

int64_t get_int(std::string_view name, int64_t fallback) {
  auto v = get(name);
  if (!v) return fallback;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    log::logger("config").warn("ignoring {}=\"{}\": expected an integer; using {}", name, *v, fallback);
    return fallback;
  }
  return value;
}

bool get_bool(std::string_view name, bool fallback) {
  auto v = get(name);
  if (!v) return fallback;
  std::string s;
  for (char c : *v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  log::logger("config").warn("ignoring {}=\"{}\": expected 1/0, true/false, yes/no or on/off", name, *v);
  return fallback;
}

}  // namespace gpool::env
