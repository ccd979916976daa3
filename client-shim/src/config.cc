#include "config.h"

#include <toml++/toml.h>

#include "gpool/common/env.h"
#include "gpool/common/log.h"

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
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

Config load_config() {
  Config cfg;
  if (auto path = env::get("GPOOL_CONFIG")) {
    try {
      toml::table t = toml::parse_file(*path);
      if (auto s = t["server"].value<std::string>()) set_servers(cfg, *s, "GPOOL_CONFIG server");
      if (const toml::array* a = t["servers"].as_array()) {
        std::string joined;
        for (const toml::node& n : *a) {
          if (auto s = n.value<std::string>()) joined += *s + ",";
        }
        set_servers(cfg, joined, "GPOOL_CONFIG servers");
      }
      if (auto s = t["token"].value<std::string>()) cfg.token = *s;
    } catch (const toml::parse_error& e) {
      logger().error("cannot read GPOOL_CONFIG file {}: {}; using the environment only", *path,
                     e.description());
    }
  }
  if (auto s = env::get("GPOOL_SERVER")) set_servers(cfg, *s, "GPOOL_SERVER");
  if (auto s = env::get("GPOOL_TOKEN")) cfg.token = *s;
  return cfg;
}

}  // namespace gpool::shim
