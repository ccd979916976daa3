#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "gpool/common/toml_check.h"
#include "gpool/common/token_file.h"

namespace gpool::shim {
namespace {

spdlog::logger& logger() { return log::logger("shim"); }

void set_servers(Config& cfg, std::string_view text, const char* where) {
  std::vector<std::string> list = parse_server_list(text);
  if (list.empty()) {
    logger().error("{} names no server URL (\"{}\"); set it to tcp://HOST:PORT[,tcp://HOST:PORT...]",
                   where, text);
    return;
  }
  cfg.servers = std::move(list);
}

}  // namespace

std::vector<std::string> parse_server_list(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t' || item.back() == '\n')) {
      item.remove_suffix(1);
    }
    if (item.empty()) {
      // dropped
    } else if (!out.empty() && out.back().rfind("etcd://", 0) == 0 && item.find("://") == std::string_view::npos) {
      // etcd://H1:P1,H2:P2/POOL: a piece without a scheme after an etcd:// entry is its next
      // endpoint, not a server URL of its own.
      out.back() += ",";
      out.back() += item;
    } else {
      out.emplace_back(item);
    }
    pos = comma + 1;
  }
  return out;
}

namespace {

// Reads the GPOOL_CONFIG file into `cfg`; false with `error` for anything it cannot take.
bool read_file(const std::string& path, Config& cfg, std::string& error) {
  std::string text;
  if (!toml_check::read_file(path, text, error)) return false;
  if (!toml_check::ascii_outside_strings(text, path, error)) return false;
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    error = fmt::format("config {} line {}: {}", path, e.source().begin.line, e.description());
    return false;
  }
  if (!toml_check::known_keys(t, {"server", "servers", "token", "token_file", "tls_ca", "tls_fingerprint",
                                  "tls_cert", "tls_key"}, path, "", error)) {
    return false;
  }
  const toml::node* server = t.get("server");
  const toml::node* servers = t.get("servers");
  if (server != nullptr && servers != nullptr) {
    error = fmt::format("{}both server and servers are set; keep one", toml_check::at(path, *servers));
    return false;
  }
  std::string joined;
  if (server != nullptr) {
    auto s = server->value_exact<std::string>();
    if (!s) {
      error = fmt::format("{}server must be a string \"tcp://HOST:PORT[,tcp://HOST:PORT...]\"",
                          toml_check::at(path, *server));
      return false;
    }
    joined = *s;
  } else if (servers != nullptr) {
    const toml::array* a = servers->as_array();
    bool ok = a != nullptr;
    for (size_t i = 0; ok && i < a->size(); ++i) {
      auto s = (*a)[i].value_exact<std::string>();
      ok = s.has_value();
      if (ok) joined += *s + ",";
    }
    if (!ok) {
      error = fmt::format("{}servers must be an array of URL strings", toml_check::at(path, *servers));
      return false;
    }
  }
  if (server != nullptr || servers != nullptr) {
    std::vector<std::string> list = parse_server_list(joined);
    if (list.empty()) {
      error = fmt::format("{}{} names no server URL; set tcp://HOST:PORT",
                          toml_check::at(path, server != nullptr ? *server : *servers),
                          server != nullptr ? "server" : "servers");
      return false;
    }
    cfg.servers = std::move(list);
  }
  if (const toml::node* token = t.get("token")) {
    auto s = token->value_exact<std::string>();
    if (!s) {
      error = fmt::format("{}token must be a string", toml_check::at(path, *token));
      return false;
    }
    cfg.token = *s;
  }
  const std::pair<const char*, std::string*> strings[] = {
      {"token_file", &cfg.token_file}, {"tls_ca", &cfg.tls.ca_file},
      {"tls_fingerprint", &cfg.tls.fingerprint}, {"tls_cert", &cfg.tls.cert_file},
      {"tls_key", &cfg.tls.key_file}};
  for (const auto& [key, into] : strings) {
    if (const toml::node* n = t.get(key)) {
      auto s = n->value_exact<std::string>();
      if (!s || s->empty()) {
        error = fmt::format("{}{} must be a non-empty string", toml_check::at(path, *n), key);
        return false;
      }
      *into = *s;
    }
  }
  if (t.get("token") != nullptr && t.get("token_file") != nullptr) {
    error = fmt::format("{}both token and token_file are set; keep one", toml_check::at(path, *t.get("token_file")));
    return false;
  }
  return true;
}

}  // namespace

Config load_config() {
  Config cfg;
  if (auto path = env::get("GPOOL_CONFIG")) {
    Config from_file;
    if (read_file(*path, from_file, cfg.error)) {
      cfg = std::move(from_file);
    } else {
      cfg.error = "GPOOL_CONFIG " + cfg.error;
    }
  }
  if (auto s = env::get("GPOOL_SERVER")) set_servers(cfg, *s, "GPOOL_SERVER");
  if (auto s = env::get("GPOOL_TOKEN_FILE")) cfg.token_file = *s;
  if (auto s = env::get("GPOOL_TOKEN")) {
    cfg.token = *s;
  } else if (!cfg.token_file.empty() && cfg.error.empty()) {
    std::string why, warning;
    if (!token_file::read(cfg.token_file, cfg.token, why, warning)) {
      cfg.error = (env::get("GPOOL_TOKEN_FILE") ? "GPOOL_TOKEN_FILE: " : "GPOOL_CONFIG token_file: ") + why;
    } else if (!warning.empty()) {
      logger().warn("{}", warning);
    }
  }
  if (auto s = env::get("GPOOL_TLS_CA")) cfg.tls.ca_file = *s;
  if (auto s = env::get("GPOOL_TLS_FINGERPRINT")) cfg.tls.fingerprint = *s;
  if (auto s = env::get("GPOOL_TLS_CERT")) cfg.tls.cert_file = *s;
  if (auto s = env::get("GPOOL_TLS_KEY")) cfg.tls.key_file = *s;
  return cfg;
}

}  // namespace gpool::shim
