// gpool-server configuration: a TOML file, overridable from the command line.
//
//   listen = ["tcp://0.0.0.0:7070"]        # one or more transport URLs (port 0 = pick one)
//   backend = "emulator"                  # "emulator", or the path of a libcuda.so.1
//   max_sessions = 64
//   image_cache_dir = "/var/cache/gpool"  # optional: module images kept across sessions
//   image_cache_max_bytes = "4GiB"        # its bound: least recently used images go first
//   public_images = ["/usr/local/cuda/lib64"]  # optional: library images shared by all tenants
//   handshake_timeout_ms = 1000            # pre-auth deadline: a complete Hello within this
//   max_preauth_per_source = 32            # handshakes in progress per source address
//   max_preauth = 256                      # handshakes in progress in total
//   auth_failures_burst = 10               # unknown tokens a source may send at once ...
//   auth_failures_per_minute = 30          # ... and then at this rate (preauth.h)
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
//   watchdog_ms = 10000                   # a worker whose heartbeat stops this long is ended
//                                         # (worker_watch.h); 0 = off, else at least 500
//   registry = "etcd://10.0.0.2:2379/prod" # a pool in etcd to register in (registrar.h); absent
//                                         # or "" = none. GPOOL_REGISTRY overrides it
//   advertise_url = "tcp://10.0.0.5:7070" # the URL clients of the pool connect to; default: the
//                                         # first listener's bound URL. GPOOL_ADVERTISE_URL
//   registry_ttl_s = 10                   # lease TTL of the registration (1..3600): a dead
//                                         # server leaves the pool after at most this long.
//                                         # GPOOL_REGISTRY_TTL_S overrides it
//   tls_cert = "/etc/gpool/server.pem"    # tls:// listeners: certificate chain (PEM) ...
//   tls_key = "/etc/gpool/server.key"     # ... and its key; both re-read on SIGHUP
//   tls_client_ca = "/etc/gpool/ca.pem"   # ask tls:// clients for a certificate by this CA
//   tls_require_client_cert = true        # with tls_client_ca: refuse a client without one
//   (GPOOL_SERVER_TLS_CERT, GPOOL_SERVER_TLS_KEY, GPOOL_SERVER_TLS_CLIENT_CA override these)
//
//   [[tenant]]
//   name = "alice"
//   token_sha256 = "<64 hex digits>"      # or: token = "plain text" (hashed at load),
//                                          # or: token_file = "/etc/gpool/alice.token"
//   client_cert_sha256 = "<64 hex digits>" # SHA-256 of the tenant's TLS client certificate:
//                                          # with it the tenant must connect over tls:// with
//                                          # that certificate (docs/security.md); with it alone
//                                          # (no token) the certificate is the credential
//   admin = false                          # admin tenants may query status, not run sessions
//   memory_quota = "8GiB"                  # device memory per device, all sessions together;
//                                          # integer bytes or "<n>[.<f>] B|KiB|MiB|GiB|TiB|KB|MB|GB|TB"
//   compute_weight = 1                     # share of device time relative to other tenants
//   priority = "normal"                    # "low" | "normal" | "high"
//   max_sessions = 0                       # concurrent sessions of this tenant; 0 = unlimited
//   devices = [0, 1]                       # physical device ordinals it may use; absent = all
//   image_memory = "1GiB"                  # host memory for uploaded module images, all sessions
//                                          # together (an upload is refused over it); 0 = unlimited
//   max_kernel_ms = 0                      # longest one launch or synchronization may wait
//                                          # for device work before the session is ended; 0 = no limit
//
// Strict: an unknown key (with a "did you mean" for a near miss), a value of the wrong type, a
// value out of its range (never clamped), two tenants with the same name or the same token, and
// an all-zero token_sha256 (a placeholder) are errors. `gpool-server --check-config FILE` runs
// exactly this check.
//
// Thread safety: plain values. Errors: load_config() returns false with a message naming the
// file, the line, the key and what is expected; `out` is then unchanged.
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
  bool has_token = true;                 // false: only client_cert_sha256 identifies it
  std::string client_cert_sha256;        // 64 lowercase hex digits, or empty
  bool admin = false;
  enum class Priority { low, normal, high };
  uint64_t memory_quota = 0;  // bytes per device, across all of the tenant's sessions; 0 = unlimited
  unsigned weight = 1;        // TOML compute_weight (1..1000)
  Priority priority = Priority::normal;
  unsigned max_sessions = 0;  // 0 = unlimited
  std::vector<int> devices;   // physical device ordinals allowed; empty = all
  unsigned max_kernel_ms = 0; // 0 = no limit (worker_watch.h)
  uint64_t image_memory = uint64_t{1} << 30;  // host bytes of module images, all sessions; 0 = unlimited
  bool from_command_line = false;  // made by make_tenant(); kept across a config reload
  unsigned line = 0;               // its [[tenant]] line in the config file (0: not from one)
};

struct Config {
  std::vector<std::string> listen;
  std::string backend = "emulator";
  std::vector<Tenant> tenants;
  unsigned max_sessions = 64;
  std::string image_cache_dir;
  uint64_t image_cache_max_bytes = uint64_t{4} << 30;  // bound of image_cache_dir (LRU); >= 1 MiB
  // Files or directories whose embedded device-code images any tenant may load by hash alone
  // (public_images.h); GPOOL_PUBLIC_IMAGES overrides (':'-separated, "off" = none).
  std::vector<std::string> public_images;
  unsigned handshake_timeout_ms = 1000;  // 100..60000
  unsigned max_preauth_per_source = 32;  // 1..4096
  unsigned max_preauth = 256;           // 1..65536
  unsigned auth_failures_burst = 10;    // 1..100000
  unsigned auth_failures_per_minute = 30;  // 1..1000000
  unsigned warm_workers = 0;   // parsed here; the worker pool implements it
  std::string metrics_listen;  // "host:port", empty = off; parsed here, served by metrics code
  bool scheduler = false;               // GPOOL_SCHED overrides (scheduler.h)
  unsigned scheduler_window_us = 2000;  // GPOOL_SCHED_WINDOW_US overrides; 0..1000000
  std::string scheduler_metering = "auto";  // "auto" | "wall" | "events"; GPOOL_SCHED_METERING
  unsigned scheduler_batch = 0;         // 0 = auto; 1..256; GPOOL_SCHED_BATCH overrides
  unsigned watchdog_ms = 10000;         // 0 = off; else 500..3600000 (worker_watch.h)
  std::string registry;        // etcd://HOST:PORT/POOL, empty = no registration (registrar.h)
  std::string advertise_url;   // empty = the first listener's bound URL
  unsigned registry_ttl_s = 10;  // 1..3600
  std::string tls_cert;                 // tls:// certificate chain (PEM)
  std::string tls_key;                  // its private key (PEM)
  std::string tls_client_ca;            // CA of client certificates; empty = none asked for
  bool tls_require_client_cert = true;  // with tls_client_ca
  std::string path;            // the file load_config() read last (reload reads it again)
};

// Parses the TOML file at `path` into `out` (fields absent from the file keep their values).
bool load_config(const std::string& path, Config& out, std::string& error);
// The same for TOML `text` (messages name `path`); load_config reads the file and calls this.
bool load_config_text(std::string_view text, const std::string& path, Config& out, std::string& error);

// False with `error` when two of `tenants` share a token hash (naming both and their lines).
bool check_unique_tokens(const std::vector<Tenant>& tenants, const std::string& path,
                         std::string& error);

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

// GPOOL_SERVER_TLS_CERT / _KEY / _CLIENT_CA, when set, replace the config's tls_* paths (at
// start and after every reload).
void apply_tls_env(Config& cfg);

// Adds a tenant with a plain-text token (command line / tests).
Tenant make_tenant(const std::string& name, const std::string& token, bool admin);

}  // namespace gpool::server
