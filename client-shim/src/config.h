// Client shim configuration, read once at cuInit.
//
//   GPOOL_SERVER   server URL (default tcp://127.0.0.1:7070)
//   GPOOL_TOKEN    tenant token
//   GPOOL_CONFIG   a TOML file with `server = "..."` and `token = "..."`; the variables above
//                  override it
// Thread safety: plain values.
#pragma once

#include <string>

namespace gpool::shim {

struct Config {
  std::string server = "tcp://127.0.0.1:7070";
  std::string token;
};

// Reads the configuration; a broken GPOOL_CONFIG file is logged and ignored.
Config load_config();

}  // namespace gpool::shim
