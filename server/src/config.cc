#include "config.h"

#include <unistd.h>

#include <algorithm>
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

}  // namespace

Tenant make_tenant(const std::string& name, const std::string& token, bool admin) {
  Tenant t;
  t.name = name;
  t.token_hash = remote::sha256(remote::as_bytes(token));
  t.admin = admin;
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
  if (auto* tenants = tbl["tenant"].as_array()) {
    for (auto& node : *tenants) {
      auto* t = node.as_table();
      if (t == nullptr) {
        error = fmt::format("config {}: [[tenant]] entries must be tables", path);
        return false;
      }
      Tenant tenant;
      tenant.name = (*t)["name"].value_or(std::string{});
      if (tenant.name.empty()) {
        error = fmt::format("config {}: a [[tenant]] has no name", path);
        return false;
      }
      tenant.admin = (*t)["admin"].value_or(false);
      if (auto h = (*t)["token_sha256"].value<std::string>()) {
        if (!parse_hex32(*h, tenant.token_hash)) {
          error = fmt::format("config {}: tenant {}: token_sha256 must be 64 hex digits", path,
                              tenant.name);
          return false;
        }
      } else if (auto tok = (*t)["token"].value<std::string>()) {
        tenant.token_hash = remote::sha256(remote::as_bytes(*tok));
      } else {
        error = fmt::format("config {}: tenant {} has neither token_sha256 nor token", path,
                            tenant.name);
        return false;
      }
      cfg.tenants.push_back(std::move(tenant));
    }
  }
  out = std::move(cfg);
  return true;
}

std::string resolve_backend(const std::string& backend) {
  if (backend != "emulator") return backend;
  if (auto lib = env::get("GPOOL_EMULATOR_LIB")) return *lib;
  const std::filesystem::path built = std::filesystem::path(GPOOL_EMULATOR_BUILD_DIR) / "libcuda.so.1";
  std::error_code ec;
  if (std::filesystem::exists(built, ec)) return built.string();
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "../lib/gpool/emulator/libcuda.so.1";
    if (std::filesystem::exists(beside, ec)) return beside.lexically_normal().string();
  }
  return built.string();
}

}  // namespace gpool::server
