// gpool-server configuration: a TOML file, overridable from the command line.
//
//   listen = ["tcp://0.0.0.0:7070"]        # one or more transport URLs (port 0 = pick one)
//   backend = "emulator"                  # "emulator", or the path of a libcuda.so.1
//   max_sessions = 64
//   image_cache_dir = "/var/cache/gpool"  # optional: module images kept across sessions
//   handshake_timeout_ms = 3000
//   warm_workers = 0                      # pre-initialized workers kept ready (pool)
//   metrics_listen = "127.0.0.1:9400"     # Prometheus endpoint; absent or "" = off
//   scheduler = false                     # compute shares: meter device time per tenant and
//                                         # share each device by compute_weight / priority
//   scheduler_window_us = 2000            # how long a turn is kept for a tenant between launches
//   scheduler_metering = "auto"           # how device time is measured: "wall" (launch to the
//                                         # end of the work, host clock), "events" (timing
//                                         # events around the launches), "auto" = events for a
//                                         # driver library, wall for the emulator
//   scheduler_batch = 0                   # launches one turn may enqueue before they are waited
//                                         # for and charged; 0 = auto (1 wall, 8 events)
//
//   [[tenant]]
//   name = "alice"
//   token_sha256 = "<64 hex digits>"      # or: token = "plain text" (hashed at load)
//   admin = false                          # admin tenants may query status, not run sessions
//   memory_quota = "8GiB"                  # device memory per device, all sessions together;
//                                          # integer bytes or "<n>[.<f>] B|KiB|MiB|GiB|TiB|KB|MB|GB|TB"
//   compute_weight = 1                     # share of device time relative to other tenants
//   priority = "normal"                    # "low" | "normal" | "high"
//   max_sessions = 0                       # concurrent sessions of this tenant; 0 = unlimited
//   devices = [0, 1]                       # physical device ordinals it may use; absent = all
//
// Thread safety: plain values. Errors: load_config() returns false with a message naming the
// file, the key and what is expected; `out` is then unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::server {

struct Tenant {
  std::string name;
  std::array<uint8_t, 32> token_hash{};  // SHA-256 of the token; the token itself is not kept
  bool admin = false;
  enum class Priority { low, normal, high };
  uint64_t memory_quota = 0;  // bytes per device, across all of the tenant's sessions; 0 = unlimited
  unsigned weight = 1;        // TOML compute_weight (1..1000)
  Priority priority = Priority::normal;
  unsigned max_sessions = 0;  // 0 = unlimited
  std::vector<int> devices;   // physical device ordinals allowed; empty = all
  bool from_command_line = false;  // made by make_tenant(); kept across a config reload
};

struct Config {
  std::vector<std::string> listen;
  std::string backend = "emulator";
  std::vector<Tenant> tenants;
  unsigned max_sessions = 64;
  std::string image_cache_dir;
  unsigned handshake_timeout_ms = 3000;
  unsigned warm_workers = 0;   // parsed here; the worker pool implements it
  std::string metrics_listen;  // "host:port", empty = off; parsed here, served by metrics code
  bool scheduler = false;               // GPOOL_SCHED overrides (scheduler.h)
  unsigned scheduler_window_us = 2000;  // GPOOL_SCHED_WINDOW_US overrides; 0..1000000
  std::string scheduler_metering = "auto";  // "auto" | "wall" | "events"; GPOOL_SCHED_METERING
  unsigned scheduler_batch = 0;         // 0 = auto; 1..256; GPOOL_SCHED_BATCH overrides
  std::string path;            // the file load_config() read last (reload reads it again)
};

// Parses the TOML file at `path` into `out` (fields absent from the file keep their values).
bool load_config(const std::string& path, Config& out, std::string& error);

// Parses a byte size: a non-negative integer, or "<number><unit>" with unit B, KiB, MiB, GiB,
// TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000); spaces before the unit allowed.
// Returns false for anything else (negative, unknown unit, overflow).
bool parse_byte_size(std::string_view text, uint64_t& out);

// "low" / "normal" / "high".
const char* priority_name(Tenant::Priority p);

// The path of the driver library `backend` names: "emulator" -> the emulator's libcuda.so.1
// (GPOOL_EMULATOR_LIB, else ../lib/gpool/emulator beside the server binary when installed, else
// the build tree); anything else is
// a path, used as given.
std::string resolve_backend(const std::string& backend);

// Adds a tenant with a plain-text token (command line / tests).
Tenant make_tenant(const std::string& name, const std::string& token, bool admin);

}  // namespace gpool::server
