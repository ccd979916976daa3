#include "config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "gpool/common/sha256.h"
#include "gpool/common/token_file.h"
#include "gpool/common/toml_check.h"
#include "gpool/registry/etcd.h"
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

using toml_check::at;

const std::initializer_list<std::string_view> kTopKeys = {
    "listen", "backend", "max_sessions", "image_cache_dir", "handshake_timeout_ms",
    "max_preauth_per_source", "max_preauth", "auth_failures_burst", "auth_failures_per_minute",
    "warm_workers", "metrics_listen", "scheduler", "scheduler_window_us", "scheduler_metering",
    "scheduler_batch", "watchdog_ms", "image_cache_max_bytes", "registry", "advertise_url",
    "registry_ttl_s", "public_images", "tls_cert", "tls_key", "tls_client_ca", "tls_require_client_cert", "tenant"};
const std::initializer_list<std::string_view> kTenantKeys = {
    "name", "token_sha256", "token", "token_file", "admin", "memory_quota", "compute_weight",
    "priority", "max_sessions", "devices", "max_kernel_ms", "image_memory", "client_cert_sha256"};

// A byte size key (integer bytes or "8GiB"), or a message naming the file, the line and the key.
bool read_size(const toml::table& t, const std::string& path, const std::string& where,
               const char* key, const char* note, uint64_t& out, std::string& error) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  bool ok = false;
  uint64_t v = 0;
  if (auto i = n->value_exact<int64_t>()) {
    ok = *i >= 0;
    v = static_cast<uint64_t>(ok ? *i : 0);
  } else if (auto str = n->value_exact<std::string>()) {
    ok = parse_byte_size(*str, v);
  }
  if (!ok) {
    error = fmt::format("{}{}{} must be a byte count (integer) or a size such as \"8GiB\" "
                        "or \"512MiB\" ({})", at(path, *n), where, key, note);
    return false;
  }
  out = v;
  return true;
}

// An integer key within [lo, hi], or a message naming the file, the line, the key and the range.
bool read_uint(const toml::table& t, const std::string& path, const std::string& where,
               const char* key, int64_t lo, int64_t hi, unsigned& out, std::string& error) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return true;
  auto v = node->value_exact<int64_t>();
  if (!v) {
    error = fmt::format("{}{}{} must be an integer {}..{}, not a {}", at(path, *node), where, key,
                        lo, hi, toml::impl::node_type_friendly_names[static_cast<size_t>(node->type())]);
    return false;
  }
  if (*v < lo || *v > hi) {
    error = fmt::format("{}{}{} = {} is out of range: it must be {}..{}", at(path, *node), where,
                        key, *v, lo, hi);
    return false;
  }
  out = static_cast<unsigned>(*v);
  return true;
}

bool read_string(const toml::table& t, const std::string& path, const std::string& where,
                 const char* key, std::string& out, std::string& error) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return true;
  auto v = node->value_exact<std::string>();
  if (!v) {
    error = fmt::format("{}{}{} must be a string", at(path, *node), where, key);
    return false;
  }
  out = *v;
  return true;
}

bool read_bool(const toml::table& t, const std::string& path, const std::string& where,
               const char* key, bool& out, std::string& error) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return true;
  auto v = node->value_exact<bool>();
  if (!v) {
    error = fmt::format("{}{}{} must be true or false", at(path, *node), where, key);
    return false;
  }
  out = *v;
  return true;
}

bool parse_tenant(const toml::table& t, const std::string& path, Tenant& tenant,
                  std::string& error) {
  if (!read_string(t, path, "[[tenant]] ", "name", tenant.name, error)) return false;
  if (tenant.name.empty()) {
    error = fmt::format("{}a [[tenant]] has no name", at(path, t));
    return false;
  }
  if (tenant.name.size() > 63) {
    error = fmt::format("{}tenant {}: name must be at most 63 characters", at(path, t), tenant.name);
    return false;
  }
  const std::string where = fmt::format("tenant {}: ", tenant.name);
  if (!toml_check::known_keys(t, kTenantKeys, path, where, error)) return false;
  if (!read_bool(t, path, where, "admin", tenant.admin, error)) return false;
  const toml::node* hash = t.get("token_sha256");
  const toml::node* plain = t.get("token");
  const toml::node* file = t.get("token_file");
  if ((hash != nullptr) + (plain != nullptr) + (file != nullptr) > 1) {
    const char* first = hash != nullptr ? "token_sha256" : "token";
    const char* second = hash != nullptr && plain != nullptr ? "token" : "token_file";
    const toml::node* later = file != nullptr ? file : plain;
    error = fmt::format("{}{}has both {} and {}; keep one (token_sha256, token and token_file "
                        "exclude each other)", at(path, *later), where, first, second);
    return false;
  }
  if (const toml::node* cert = t.get("client_cert_sha256")) {
    auto v = cert->value_exact<std::string>();
    if (!v || !hash::normalize_sha256_hex(*v, tenant.client_cert_sha256)) {
      error = fmt::format("{}{}client_cert_sha256 must be a string of 64 hex digits (colons "
                          "allowed): openssl x509 -in CERT -noout -fingerprint -sha256",
                          at(path, *cert), where);
      return false;
    }
  }
  if (file != nullptr) {
    auto f = file->value_exact<std::string>();
    std::string token, why, warning;
    if (!f || f->empty()) {
      error = fmt::format("{}{}token_file must be a non-empty path string", at(path, *file), where);
      return false;
    }
    if (!token_file::read(*f, token, why, warning)) {
      error = fmt::format("{}{}{}", at(path, *file), where, why);
      return false;
    }
    if (!warning.empty()) log::logger("server").warn("config {}: tenant {}: {}", path, tenant.name, warning);
    tenant.token_hash = remote::sha256(remote::as_bytes(token));
  } else if (hash != nullptr) {
    auto h = hash->value_exact<std::string>();
    if (!h || !parse_hex32(*h, tenant.token_hash)) {
      error = fmt::format("{}{}token_sha256 must be a string of 64 hex digits", at(path, *hash), where);
      return false;
    }
    if (std::all_of(tenant.token_hash.begin(), tenant.token_hash.end(), [](uint8_t b) { return b == 0; })) {
      error = fmt::format("{}{}token_sha256 is all zeros, a placeholder: set the SHA-256 of the "
                          "tenant's token (printf %s \"$TOKEN\" | sha256sum)", at(path, *hash), where);
      return false;
    }
  } else if (plain != nullptr) {
    auto tok = plain->value_exact<std::string>();
    if (!tok || tok->empty()) {
      error = fmt::format("{}{}token must be a non-empty string", at(path, *plain), where);
      return false;
    }
    tenant.token_hash = remote::sha256(remote::as_bytes(*tok));
  } else if (!tenant.client_cert_sha256.empty()) {
    tenant.has_token = false;  // the client certificate alone identifies it
  } else {
    error = fmt::format("{}tenant {} has neither token_sha256 nor token (nor token_file or "
                        "client_cert_sha256): it has no credential", at(path, t), tenant.name);
    return false;
  }
  if (!read_size(t, path, where, "memory_quota", "0 = unlimited", tenant.memory_quota, error) ||
      !read_size(t, path, where, "image_memory", "0 = unlimited", tenant.image_memory, error)) {
    return false;
  }
  if (!read_uint(t, path, where, "compute_weight", 1, 1000, tenant.weight, error)) return false;
  if (!read_uint(t, path, where, "max_sessions", 0, 4096, tenant.max_sessions, error)) return false;
  if (!read_uint(t, path, where, "max_kernel_ms", 0, 86400000, tenant.max_kernel_ms, error)) return false;
  if (const toml::node* n = t.get("priority")) {
    const auto p = n->value_exact<std::string>();
    if (p && *p == "low") tenant.priority = Tenant::Priority::low;
    else if (p && *p == "normal") tenant.priority = Tenant::Priority::normal;
    else if (p && *p == "high") tenant.priority = Tenant::Priority::high;
    else {
      error = fmt::format("{}{}priority must be \"low\", \"normal\" or \"high\"", at(path, *n), where);
      return false;
    }
  }
  if (const toml::node* n = t.get("devices")) {
    const toml::array* arr = n->as_array();
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
      error = fmt::format("{}{}devices must be an array of device ordinals 0..15", at(path, *n), where);
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

void apply_tls_env(Config& cfg) {
  if (auto v = env::get("GPOOL_SERVER_TLS_CERT")) cfg.tls_cert = *v;
  if (auto v = env::get("GPOOL_SERVER_TLS_KEY")) cfg.tls_key = *v;
  if (auto v = env::get("GPOOL_SERVER_TLS_CLIENT_CA")) cfg.tls_client_ca = *v;
}

Tenant make_tenant(const std::string& name, const std::string& token, bool admin) {
  Tenant t;
  t.name = name;
  t.token_hash = remote::sha256(remote::as_bytes(token));
  t.admin = admin;
  t.from_command_line = true;
  return t;
}

bool check_unique_tokens(const std::vector<Tenant>& tenants, const std::string& path,
                         std::string& error) {
  for (size_t i = 0; i < tenants.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const auto where = [](const Tenant& t) {
        return t.from_command_line ? fmt::format("{} (command line)", t.name)
                                   : t.line > 0 ? fmt::format("{} (line {})", t.name, t.line) : t.name;
      };
      if (!tenants[i].client_cert_sha256.empty() &&
          tenants[i].client_cert_sha256 == tenants[j].client_cert_sha256) {
        error = fmt::format("config {}: tenants {} and {} have the same client_cert_sha256; a "
                            "certificate identifies one tenant", path, where(tenants[j]), where(tenants[i]));
        return false;
      }
      if (!tenants[i].has_token || !tenants[j].has_token) continue;
      if (tenants[i].token_hash != tenants[j].token_hash) continue;
      error = fmt::format("config {}: tenants {} and {} have the same token; each tenant needs its "
                          "own (the second could never log in)", path, where(tenants[j]), where(tenants[i]));
      return false;
    }
  }
  return true;
}

bool load_config(const std::string& path, Config& out, std::string& error) {
  std::string text;
  if (!toml_check::read_file(path, text, error)) return false;
  return load_config_text(text, path, out, error);
}

bool load_config_text(std::string_view text, const std::string& path, Config& out, std::string& error) {
  if (!toml_check::ascii_outside_strings(text, path, error)) return false;
  toml::table tbl;
  try {
    tbl = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    error = fmt::format("config {} line {}: {}", path, e.source().begin.line, e.description());
    return false;
  }
  Config cfg = out;
  if (!toml_check::known_keys(tbl, kTopKeys, path, "", error)) return false;
  if (const toml::node* listen = tbl.get("listen")) {
    cfg.listen.clear();
    if (const toml::array* arr = listen->as_array()) {
      for (auto& v : *arr) {
        auto s = v.value_exact<std::string>();
        if (!s) {
          error = fmt::format("{}listen must be a URL string or an array of them", at(path, v));
          return false;
        }
        cfg.listen.push_back(*s);
      }
    } else if (auto s = listen->value_exact<std::string>()) {
      cfg.listen = {*s};
    } else {
      error = fmt::format("{}listen must be a URL string or an array of them", at(path, *listen));
      return false;
    }
  }
  if (!read_string(tbl, path, "", "backend", cfg.backend, error)) return false;
  if (!read_uint(tbl, path, "", "max_sessions", 1, 4096, cfg.max_sessions, error)) return false;
  if (!read_string(tbl, path, "", "image_cache_dir", cfg.image_cache_dir, error)) return false;
  if (const toml::node* n = tbl.get("public_images")) {
    cfg.public_images.clear();
    const toml::array* arr = n->as_array();
    bool ok = arr != nullptr;
    for (size_t i = 0; ok && i < arr->size(); ++i) {
      auto s = (*arr)[i].value_exact<std::string>();
      ok = s && !s->empty();
      if (ok) cfg.public_images.push_back(*s);
    }
    if (!ok) {
      error = fmt::format("{}public_images must be an array of file or directory paths", at(path, *n));
      return false;
    }
  }
  if (!read_size(tbl, path, "", "image_cache_max_bytes", "at least 1MiB", cfg.image_cache_max_bytes, error)) {
    return false;
  }
  if (cfg.image_cache_max_bytes < (uint64_t{1} << 20)) {
    error = fmt::format("{}image_cache_max_bytes must be at least 1MiB, not {}",
                        at(path, *tbl.get("image_cache_max_bytes")), cfg.image_cache_max_bytes);
    return false;
  }
  if (!read_uint(tbl, path, "", "handshake_timeout_ms", 100, 60000, cfg.handshake_timeout_ms, error) ||
      !read_uint(tbl, path, "", "max_preauth_per_source", 1, 4096, cfg.max_preauth_per_source, error) ||
      !read_uint(tbl, path, "", "max_preauth", 1, 65536, cfg.max_preauth, error) ||
      !read_uint(tbl, path, "", "auth_failures_burst", 1, 100000, cfg.auth_failures_burst, error) ||
      !read_uint(tbl, path, "", "auth_failures_per_minute", 1, 1000000, cfg.auth_failures_per_minute,
                 error)) {
    return false;
  }
  if (!read_uint(tbl, path, "", "warm_workers", 0, 4096, cfg.warm_workers, error)) return false;
  if (!read_uint(tbl, path, "", "watchdog_ms", 0, 3600000, cfg.watchdog_ms, error)) return false;
  if (cfg.watchdog_ms != 0 && cfg.watchdog_ms < 500) {
    error = fmt::format("{}watchdog_ms must be 0 (off) or at least 500 (the heartbeat beats every "
                        "100 ms), not {}", at(path, *tbl.get("watchdog_ms")), cfg.watchdog_ms);
    return false;
  }
  if (!read_bool(tbl, path, "", "scheduler", cfg.scheduler, error)) return false;
  if (!read_uint(tbl, path, "", "scheduler_window_us", 0, 1000000, cfg.scheduler_window_us, error)) {
    return false;
  }
  if (const toml::node* n = tbl.get("scheduler_metering")) {
    auto v = n->value_exact<std::string>();
    if (!v || (*v != "auto" && *v != "wall" && *v != "events")) {
      error = fmt::format("{}scheduler_metering must be \"auto\", \"wall\" or \"events\"", at(path, *n));
      return false;
    }
    cfg.scheduler_metering = *v;
  }
  if (!read_uint(tbl, path, "", "scheduler_batch", 0, 256, cfg.scheduler_batch, error)) return false;
  if (!read_string(tbl, path, "", "tls_cert", cfg.tls_cert, error) ||
      !read_string(tbl, path, "", "tls_key", cfg.tls_key, error) ||
      !read_string(tbl, path, "", "tls_client_ca", cfg.tls_client_ca, error) ||
      !read_bool(tbl, path, "", "tls_require_client_cert", cfg.tls_require_client_cert, error)) {
    return false;
  }
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    const toml::node* n = tbl.get(cfg.tls_cert.empty() ? "tls_key" : "tls_cert");
    error = fmt::format("{}tls_cert and tls_key go together: set both or neither",
                        n != nullptr ? at(path, *n) : fmt::format("config {}: ", path));
    return false;
  }
  if (const toml::node* n = tbl.get("metrics_listen")) {
    auto v = n->value_exact<std::string>();
    if (!v || (!v->empty() && v->rfind(':') == std::string::npos)) {
      error = fmt::format("{}metrics_listen must be \"HOST:PORT\" (or \"\" for off)", at(path, *n));
      return false;
    }
    cfg.metrics_listen = *v;
  }
  if (!read_string(tbl, path, "", "registry", cfg.registry, error)) return false;
  if (const toml::node* n = tbl.get("registry"); n != nullptr && !cfg.registry.empty()) {
    registry::PoolUrl pool;
    if (!registry::parse_pool_url(cfg.registry, pool, error)) {
      error = fmt::format("{}registry {}", at(path, *n), error);
      return false;
    }
  }
  if (!read_string(tbl, path, "", "advertise_url", cfg.advertise_url, error)) return false;
  if (!read_uint(tbl, path, "", "registry_ttl_s", 1, 3600, cfg.registry_ttl_s, error)) return false;
  if (const toml::node* n = tbl.get("tenant")) {
    const toml::array* tenants = n->as_array();
    if (tenants == nullptr) {
      error = fmt::format("{}tenant must be an array of tables ([[tenant]])", at(path, *n));
      return false;
    }
    for (auto& node : *tenants) {
      auto* t = node.as_table();
      if (t == nullptr) {
        error = fmt::format("{}[[tenant]] entries must be tables", at(path, node));
        return false;
      }
      Tenant tenant;
      tenant.line = static_cast<unsigned>(t->source().begin.line);
      if (!parse_tenant(*t, path, tenant, error)) return false;
      for (const Tenant& other : cfg.tenants) {
        if (other.name == tenant.name) {
          error = fmt::format("{}tenant {} is listed twice; names must be unique", at(path, *t),
                              tenant.name);
          return false;
        }
      }
      cfg.tenants.push_back(std::move(tenant));
    }
  }
  if (!check_unique_tokens(cfg.tenants, path, error)) return false;
  for (const Tenant& t : cfg.tenants) {
    if (!t.client_cert_sha256.empty() && cfg.tls_client_ca.empty()) {
      error = fmt::format("config {}: tenant {} (line {}) has client_cert_sha256, but no "
                          "tls_client_ca is set, so no client certificate would be asked for",
                          path, t.name, t.line);
      return false;
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
