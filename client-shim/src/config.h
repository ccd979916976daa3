// Client shim configuration, read once at cuInit.
//
//   GPOOL_SERVER   one server URL, or several separated by commas
//                  (default tcp://127.0.0.1:7070). With several, the shim opens one session per
//                  server and numbers their devices one after another (server 0's first).
//                  Or, alone, a pool in etcd: etcd://HOST:PORT[,...]/POOL (pool_placement.h).
//   GPOOL_TOKEN    tenant token (the same for every server listed)
//   GPOOL_TOKEN_FILE  a file holding the token (gpool/common/token_file.h); GPOOL_TOKEN wins
//   GPOOL_TLS_CA, GPOOL_TLS_FINGERPRINT, GPOOL_TLS_CERT, GPOOL_TLS_KEY
//                  how a tls:// server is verified and the client certificate (options.h)
//   GPOOL_CONFIG   a TOML file with `server = "URL[,URL...]"` or `servers = ["URL", ...]`,
//                  `token = "..."` or `token_file = "..."`, and `tls_ca`, `tls_fingerprint`,
//                  `tls_cert`, `tls_key`; the variables above override it. An unreadable or
//                  empty token file (from either) sets Config::error.
// Errors: the GPOOL_CONFIG file is read strictly: a syntax error, an unknown key (with a "did
// you mean" for a near miss, e.g. `sever`), a value of the wrong type or a server list without
// any URL sets Config::error (naming the file, line and key), and cuInit then fails with that
// message logged rather than run with a default. A GPOOL_SERVER without any URL is logged and
// the default is used. Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gpool/transport/options.h"

namespace gpool::shim {

inline constexpr const char* kDefaultServer = "tcp://127.0.0.1:7070";

struct Config {
  std::vector<std::string> servers{kDefaultServer};  // never empty
  std::string token;
  std::string token_file;     // where token came from, when it came from a file
  transport::TlsOptions tls;  // ca_file, fingerprint, cert_file, key_file
  std::string error;  // non-empty: GPOOL_CONFIG is invalid (what and where); cuInit must fail
};

// Splits "a, b,,c" into {"a", "b", "c"} (commas separate; blanks around a URL and empty entries
// are dropped). The endpoints of one etcd:// pool stay one entry: "etcd://h1:1,h2:2/p" (a piece
// without "://" after an etcd:// entry continues it).
std::vector<std::string> parse_server_list(std::string_view text);

// Reads the configuration from GPOOL_CONFIG, GPOOL_SERVER and GPOOL_TOKEN.
Config load_config();

}  // namespace gpool::shim
