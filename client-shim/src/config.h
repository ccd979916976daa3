// Client shim configuration, read once at cuInit.
//
//   GPOOL_SERVER   one server URL, or several separated by commas
//                  (default tcp://127.0.0.1:7070). With several, the shim opens one session per
//                  server and numbers their devices one after another (server 0's first).
//   GPOOL_TOKEN    tenant token (the same for every server listed)
//   GPOOL_CONFIG   a TOML file with `server = "URL[,URL...]"` or `servers = ["URL", ...]` and
//                  `token = "..."`; the variables above override it
// Errors: a broken GPOOL_CONFIG file or a list without any URL is logged and the default is
// used. Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gpool::shim {

inline constexpr const char* kDefaultServer = "tcp://127.0.0.1:7070";

struct Config {
  std::vector<std::string> servers{kDefaultServer};  // never empty
  std::string token;
};

// Splits "a, b,,c" into {"a", "b", "c"} (commas separate; blanks around a URL and empty entries
// are dropped).
std::vector<std::string> parse_server_list(std::string_view text);

// Reads the configuration from GPOOL_CONFIG, GPOOL_SERVER and GPOOL_TOKEN.
Config load_config();

}  // namespace gpool::shim
