#include "config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "gpool/common/env.h"
#include "gpool/remote/call_codec.h"

namespace gpool::server {
namespace {

bool parse_hex32(const std::string& hex, std::array<uint8_t, 32>& out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = hex[2 * i + j];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else return false;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

// An integer key within [lo, hi], or a message naming the file, the key and the range.
template <typename View>
bool read_uint(const View node, const std::string& path,
               const std::string& where, const char* key, int64_t lo, int64_t hi, unsigned& out,
               std::string& error) {
  if (!node) return true;
  auto v = node.template value_exact<int64_t>();
  if (!v || *v < lo || *v > hi) {
    error = fmt::format("config {}: {}{} must be an integer {}..{}", path, where, key, lo, hi);
    return false;
  }
  out = static_cast<unsigned>(*v);
  return true;
}

bool parse_tenant(const toml::table& t, const std::string& path, Tenant& tenant,
                  std::string& error) {
  tenant.name = t["name"].value_or(std::string{});
  if (tenant.name.empty()) {
    error = fmt::format("config {}: a [[tenant]] has no name", path);
    return false;
  }
  if (tenant.name.size() > 63) {
    error = fmt::format("config {}: tenant {}: name must be at most 63 characters", path,
                        tenant.name);
    return false;
  }
  const std::string where = fmt::format("tenant {}: ", tenant.name);
  if (auto n = t["admin"]; n) {
    auto b = n.value_exact<bool>();
    if (!b) {
      error = fmt::format("config {}: {}admin must be true or false", path, where);
      return false;
    }
    tenant.admin = *b;
  }
  if (auto h = t["token_sha256"].value<std::string>()) {
    if (!parse_hex32(*h, tenant.token_hash)) {
      error = fmt::format("config {}: {}token_sha256 must be 64 hex digits", path, where);
      return false;
    }
  } else if (auto tok = t["token"].value<std::string>()) {
    tenant.token_hash = remote::sha256(remote::as_bytes(*tok));
  } else {
    error = fmt::format("config {}: tenant {} has neither token_sha256 nor token", path,
                        tenant.name);
    return false;
  }
  if (auto n = t["memory_quota"]; n) {
    bool ok = false;
    if (auto i = n.value_exact<int64_t>()) {
      ok = *i >= 0;
      if (ok) tenant.memory_quota = static_cast<uint64_t>(*i);
    } else if (auto str = n.value_exact<std::string>()) {
      ok = parse_byte_size(*str, tenant.memory_quota);
    }
    if (!ok) {
      error = fmt::format(
          "config {}: {}memory_quota must be a byte count (integer) or a size such as \"8GiB\" "
          "or \"512MiB\" (0 = unlimited)", path, where);
      return false;
    }
  }
  if (!read_uint(t["compute_weight"], path, where, "compute_weight", 1, 1000, tenant.weight, error)) {
    return false;
  }
  if (!read_uint(t["max_sessions"], path, where, "max_sessions", 0, 4096, tenant.max_sessions, error)) {
    return false;
  }
  if (auto n = t["priority"]; n) {
    const auto p = n.value_exact<std::string>();
    if (p && *p == "low") tenant.priority = Tenant::Priority::low;
    else if (p && *p == "normal") tenant.priority = Tenant::Priority::normal;
    else if (p && *p == "high") tenant.priority = Tenant::Priority::high;
    else {
      error = fmt::format("config {}: {}priority must be \"low\", \"normal\" or \"high\"",
                          path, where);
      return false;
    }
  }
  if (auto n = t["devices"]; n) {
    const toml::array* arr = n.as_array();
    bool ok = arr != nullptr;
    if (ok) {
      for (const auto& d : *arr) {
        auto v = d.value_exact<int64_t>();
        if (!v || *v < 0 || *v > 15) {
          ok = false;
          break;
        }
        if (std::find(tenant.devices.begin(), tenant.devices.end(), int(*v)) == tenant.devices.end()) {
          tenant.devices.push_back(static_cast<int>(*v));
        }
      }
    }
    if (!ok) {
      error = fmt::format("config {}: {}devices must be an array of device ordinals 0..15", path,
                          where);
      return false;
    }
  }
  return true;
}

}  // namespace

bool parse_byte_size(std::string_view text, uint64_t& out) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  const size_t num_begin = i;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  const std::string number(text.substr(num_begin, i - num_begin));
  if (number.empty() || number.front() == '.' || number.back() == '.' ||
      std::count(number.begin(), number.end(), '.') > 1) {
    return false;
  }
  while (i < text.size() && text[i] == ' ') ++i;
  const std::string_view unit = text.substr(i);
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1.0}, {"B", 1.0},
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    if (number.find('.') == std::string::npos && scale == 1.0) {
      errno = 0;
      char* end = nullptr;
      const unsigned long long v = std::strtoull(number.c_str(), &end, 10);
      if (errno != 0 || *end != '\0') return false;
      out = v;
      return true;
    }
    const double v = std::strtod(number.c_str(), nullptr) * scale;
    if (!(v >= 0.0) || v >= 1.8e19) return false;
    out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

const char* priority_name(Tenant::Priority p) {
  switch (p) {
    case Tenant::Priority::low: return "low";
    case Tenant::Priority::high: return "high";
    case Tenant::Priority::normal: break;
  }
  return "normal";
}

Tenant make_tenant(const std::string& name, const std::string& token, bool admin) {
  Tenant t;
  t.name = name;
  t.token_hash = remote::sha256(remote::as_bytes(token));
  t.admin = admin;
  t.from_command_line = true;
  return t;
}

bool load_config(const std::string& path, Config& out, std::string& error) {
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    error = fmt::format("config {}: {} (line {})", path, e.description(),
                        e.source().begin.line);
    return false;
  }
  Config cfg = out;
  if (auto* listen = tbl["listen"].as_array()) {
    cfg.listen.clear();
    for (auto& v : *listen) {
      auto s = v.value<std::string>();
      if (!s) {
        error = fmt::format("config {}: listen must be an array of URL strings", path);
        return false;
      }
      cfg.listen.push_back(*s);
    }
  } else if (auto s = tbl["listen"].value<std::string>()) {
    cfg.listen = {*s};
  }
  if (auto s = tbl["backend"].value<std::string>()) cfg.backend = *s;
  if (auto v = tbl["max_sessions"].value<int64_t>()) {
    if (*v < 1 || *v > 4096) {
      error = fmt::format("config {}: max_sessions must be 1..4096, got {}", path, *v);
      return false;
    }
    cfg.max_sessions = static_cast<unsigned>(*v);
  }
  if (auto s = tbl["image_cache_dir"].value<std::string>()) cfg.image_cache_dir = *s;
  if (auto v = tbl["handshake_timeout_ms"].value<int64_t>()) {
    cfg.handshake_timeout_ms = static_cast<unsigned>(std::clamp<int64_t>(*v, 100, 60000));
  }
  if (!read_uint(tbl["warm_workers"], path, "", "warm_workers", 0, 4096, cfg.warm_workers, error)) {
    return false;
  }
  if (auto n = tbl["scheduler"]; n) {
    auto v = n.value_exact<bool>();
    if (!v) {
      error = fmt::format("config {}: scheduler must be true or false", path);
      return false;
    }
    cfg.scheduler = *v;
  }
  if (!read_uint(tbl["scheduler_window_us"], path, "", "scheduler_window_us", 0, 1000000,
                 cfg.scheduler_window_us, error)) {
    return false;
  }
  if (auto n = tbl["scheduler_metering"]; n) {
    auto v = n.value_exact<std::string>();
    if (!v || (*v != "auto" && *v != "wall" && *v != "events")) {
      error = fmt::format("config {}: scheduler_metering must be \"auto\", \"wall\" or \"events\"", path);
      return false;
    }
    cfg.scheduler_metering = *v;
  }
  if (!read_uint(tbl["scheduler_batch"], path, "", "scheduler_batch", 0, 256, cfg.scheduler_batch,
                 error)) {
    return false;
  }
  if (auto n = tbl["metrics_listen"]; n) {
    auto v = n.value_exact<std::string>();
    if (!v || (!v->empty() && v->rfind(':') == std::string::npos)) {
      error = fmt::format("config {}: metrics_listen must be \"HOST:PORT\" (or \"\" for off)", path);
      return false;
    }
    cfg.metrics_listen = *v;
  }
  if (auto n = tbl["tenant"]; n) {
    const toml::array* tenants = n.as_array();
    if (tenants == nullptr) {
      error = fmt::format("config {}: tenant must be an array of tables ([[tenant]])", path);
      return false;
    }
    for (auto& node : *tenants) {
      auto* t = node.as_table();
      if (t == nullptr) {
        error = fmt::format("config {}: [[tenant]] entries must be tables", path);
        return false;
      }
      Tenant tenant;
      if (!parse_tenant(*t, path, tenant, error)) return false;
      for (const Tenant& other : cfg.tenants) {
        if (other.name == tenant.name) {
          error = fmt::format("config {}: tenant {} is listed twice; names must be unique", path,
                              tenant.name);
          return false;
        }
      }
      cfg.tenants.push_back(std::move(tenant));
    }
  }
  cfg.path = path;
  out = std::move(cfg);
  return true;
}

std::string resolve_backend(const std::string& backend) {
  if (backend != "emulator") return backend;
  if (auto lib = env::get("GPOOL_EMULATOR_LIB")) return *lib;
  // Installed first (bin/../lib/gpool/emulator, cmake/GpoolInstall.cmake): an installed server
  // must not load the library of the build tree it happened to be built in.
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "../lib/gpool/emulator/libcuda.so.1";
    if (std::filesystem::exists(beside, ec)) return beside.lexically_normal().string();
  }
  const std::filesystem::path built = std::filesystem::path(GPOOL_EMULATOR_BUILD_DIR) / "libcuda.so.1";
  return built.string();
}

}  // namespace gpool::server
