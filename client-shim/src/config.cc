#include "config.h"

#include <toml++/toml.h>

#include "gpool/common/env.h"
#include "gpool/common/log.h"

namespace gpool::shim {

Config load_config() {
  Config cfg;
  if (auto path = env::get("GPOOL_CONFIG")) {
    try {
      toml::table t = toml::parse_file(*path);
      if (auto s = t["server"].value<std::string>()) cfg.server = *s;
      if (auto s = t["token"].value<std::string>()) cfg.token = *s;
    } catch (const toml::parse_error& e) {
      log::logger("shim").error("cannot read GPOOL_CONFIG file {}: {}; using the environment only",
                                *path, e.description());
    }
  }
  if (auto s = env::get("GPOOL_SERVER")) cfg.server = *s;
  if (auto s = env::get("GPOOL_TOKEN")) cfg.token = *s;
  return cfg;
}

}  // namespace gpool::shim
