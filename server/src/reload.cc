#include "reload.h"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

volatile std::sig_atomic_t g_reload_requested = 0;

spdlog::logger& logger() { return log::logger("server"); }

void note_restart_only_changes(const Config& before, const Config& after) {
  auto note = [](const char* key) {
    logger().warn("config reload: {} changed; it takes effect only after a restart", key);
  };
  if (before.listen != after.listen) note("listen");
  if (before.backend != after.backend) note("backend");
  if (before.max_sessions != after.max_sessions) note("max_sessions");
  if (before.image_cache_dir != after.image_cache_dir) note("image_cache_dir");
  if (before.image_cache_max_bytes != after.image_cache_max_bytes) note("image_cache_max_bytes");
  if (before.public_images != after.public_images) note("public_images");
  if (before.watchdog_ms != after.watchdog_ms) note("watchdog_ms");
  if (before.warm_workers != after.warm_workers) note("warm_workers");
  if (before.metrics_listen != after.metrics_listen) note("metrics_listen");
}

}  // namespace

void request_reload() { g_reload_requested = 1; }

bool take_reload_request() {
  if (g_reload_requested == 0) return false;
  g_reload_requested = 0;
  return true;
}

void on_reload_signal(int) { request_reload(); }

bool reload_tenants(Config& config, TenantTable& tenants, std::string& error) {
  if (config.path.empty()) {
    error = "the server was started without --config; there is no file to reload";
    return false;
  }
  Config fresh;
  if (!load_config(config.path, fresh, error)) return false;
  std::vector<Tenant> next;
  for (const Tenant& t : config.tenants) {
    if (t.from_command_line) next.push_back(t);
  }
  for (Tenant& t : fresh.tenants) {
    const bool clash = std::any_of(next.begin(), next.end(),
                                   [&](const Tenant& o) { return o.name == t.name; });
    if (clash) {
      error = fmt::format("config {}: tenant {} is also given on the command line; rename one",
                          config.path, t.name);
      return false;
    }
    next.push_back(std::move(t));
  }
  if (!check_unique_tokens(next, config.path, error)) return false;
  // Check the table has room before changing anything, so a failed reload changes nothing.
  int new_slots = 0;
  for (const Tenant& t : next) {
    if (!t.admin && tenants.find(t.name) < 0) ++new_slots;
  }
  int free_slots = 0;
  for (int i = 0; i < kMaxTenants; ++i) {
    if (tenants.slot(i).in_use.load() == 0) ++free_slots;
  }
  if (new_slots > free_slots) {
    error = fmt::format("config {}: {} new tenants but only {} free slots in the tenant table "
                        "(at most {} tenants per server run)", config.path, new_slots, free_slots,
                        kMaxTenants);
    return false;
  }
  for (const Tenant& t : next) {
    if (!t.admin) tenants.upsert(t);
  }
  size_t removed = 0;
  for (const Tenant& old : config.tenants) {
    const bool kept = std::any_of(next.begin(), next.end(),
                                  [&](const Tenant& n) { return n.name == old.name; });
    if (!kept) {
      ++removed;
      logger().info("config reload: tenant {} was removed; it gets no new sessions (live ones "
                    "run on)", old.name);
    }
  }
  note_restart_only_changes(config, fresh);
  logger().info("config reload from {}: {} tenant(s) applied, {} removed", config.path,
                next.size(), removed);
  config.tenants = std::move(next);
  // The tls:// certificate, key and client CA are re-read too (Supervisor::reload applies
  // them to the listeners); the environment's overrides still win.
  config.tls_cert = fresh.tls_cert;
  config.tls_key = fresh.tls_key;
  config.tls_client_ca = fresh.tls_client_ca;
  config.tls_require_client_cert = fresh.tls_require_client_cert;
  apply_tls_env(config);
  return true;
}

}  // namespace gpool::server
