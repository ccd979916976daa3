// gpool-server configuration: a TOML file, overridable from the command line.
//
//   listen = ["tcp://0.0.0.0:7070"]        # one or more transport URLs (port 0 = pick one)
//   backend = "emulator"                  # "emulator", or the path of a libcuda.so.1
//   max_sessions = 64
//   image_cache_dir = "/var/cache/gpool"  # optional: module images kept across sessions
//   handshake_timeout_ms = 3000
//
//   [[tenant]]
//   name = "alice"
//   token_sha256 = "<64 hex digits>"      # or: token = "plain text" (hashed at load)
//   admin = false                          # admin tenants may query status, not run sessions
//
// Thread safety: plain values. Errors: load_config() returns false with a message naming the
// file, the key and what is expected.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace gpool::server {

struct Tenant {
  std::string name;
  std::array<uint8_t, 32> token_hash{};  // SHA-256 of the token; the token itself is not kept
  bool admin = false;
};

struct Config {
  std::vector<std::string> listen;
  std::string backend = "emulator";
  std::vector<Tenant> tenants;
  unsigned max_sessions = 64;
  std::string image_cache_dir;
  unsigned handshake_timeout_ms = 3000;
};

// Parses the TOML file at `path` into `out` (fields absent from the file keep their values).
bool load_config(const std::string& path, Config& out, std::string& error);

// The path of the driver library `backend` names: "emulator" -> the emulator's libcuda.so.1
// (GPOOL_EMULATOR_LIB, else the build tree, else beside the server binary); anything else is
// a path, used as given.
std::string resolve_backend(const std::string& backend);

// Adds a tenant with a plain-text token (command line / tests).
Tenant make_tenant(const std::string& name, const std::string& token, bool admin);

}  // namespace gpool::server
