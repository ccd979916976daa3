// gpool-server: serves remote CUDA sessions on a driver backend (see supervisor.h; man gpool-server).
//
//   gpool-server [--config FILE] [--listen URL]... [--backend emulator|PATH]
//                [--token-file FILE] [--admin-token-file FILE] [--token TOKEN] [--admin-token TOKEN]
//                [--image-cache DIR] [--url-file FILE]
//                [--warm-workers N] [--metrics-listen HOST:PORT] [--registry etcd://HOST:PORT/POOL]
//   gpool-server --check-config FILE
//   gpool-server --version | --help
//
// --config is read first; the other options then override what it says, whatever their order.
// --check-config validates FILE as the server would read it and exits without starting: 0 and a
// summary when it is valid, 1 and the message when not.
// --token-file / --admin-token-file add a tenant "default" / "admin" with the token read from
// FILE (gpool/common/token_file.h; a file other users can read is warned about). --token /
// --admin-token do the same with the token itself on the command line, where every user sees
// it in `ps`: a warning says so (for quick starts and tests; production configs list tenants
// with token_sha256 or token_file). --url-file writes the bound
// URL of the first listener (useful with port 0). SIGTERM or SIGINT stops the server.
// Precedence for warm_workers / metrics_listen / registry: command line, then GPOOL_WARM_WORKERS /
// GPOOL_METRICS_LISTEN / GPOOL_REGISTRY, then the config file (GPOOL_ADVERTISE_URL and
// GPOOL_REGISTRY_TTL_S override advertise_url and registry_ttl_s; registrar.h).
// When it is ready the server logs one line per listener ("listening on URL (backend ...)",
// Supervisor::start) and one summary line (backend, tenants, limits) at info, its default level (GPOOL_LOG_LEVEL); exit code 2 is bad usage or configuration, 1 a start failure.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "config.h"
#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "gpool/common/token_file.h"
#include "gpool/protocol/frame.h"
#include "gpool/registry/etcd.h"
#include "reload.h"
#include "supervisor.h"

namespace {

void on_signal(int) { gpool::server::Supervisor::stop(); }

// The ready line: what is served to whom (after Supervisor::start's one line per listener).
void log_ready(const gpool::server::Config& cfg, const std::string& metrics) {
  auto& log = gpool::log::logger("server");  // Supervisor::start logged "listening on URL" for each
  std::string names;
  size_t admins = 0;
  for (const auto& t : cfg.tenants) {
    names += (names.empty() ? "" : ", ") + t.name + (t.admin ? " (admin)" : "");
    admins += t.admin ? 1 : 0;
  }
  log.info("ready: backend {} ({}); {} tenant(s): {}; max_sessions {}, warm_workers {}, scheduler {}, "
            "metrics {}",
            cfg.backend, gpool::server::resolve_backend(cfg.backend), cfg.tenants.size(), names,
            cfg.max_sessions, cfg.warm_workers, cfg.scheduler ? "on" : "off",
            metrics.empty() ? "off" : metrics);
  if (admins == cfg.tenants.size()) {
    log.warn("every tenant is an admin tenant: no tenant can run a session (add a non-admin [[tenant]])");
  }
}

}  // namespace

int main(int argc, char** argv) {
  // A daemon logs at info unless told otherwise (the listener and ready lines, sessions).
  ::setenv("GPOOL_LOG_LEVEL", "info", 0);
  using gpool::server::Config;
  Config cfg;
  std::string config_file, check_file, backend, image_cache, url_file;
  std::vector<std::string> listen, tokens, admin_tokens, token_files, admin_token_files;
  std::optional<unsigned> warm_workers;
  std::optional<std::string> metrics_listen;
  std::optional<std::string> registry;
  std::string error;

  CLI::App app{"gpool-server: serves remote CUDA sessions of gpool clients on this host's driver "
               "or the CPU emulator (man gpool-server)", "gpool-server"};
  app.set_version_flag("--version", fmt::format("gpool-server {} (protocol {})", GPOOL_VERSION,
                                                gpool::protocol::kProtocolVersion));
  app.add_option("--config", config_file, "TOML configuration (deploy/gpool-server.toml)")->check(CLI::ExistingFile);
  app.add_option("--check-config", check_file, "validate FILE as the server would read it, and exit");
  app.add_option("--listen", listen, "URL to listen on (tcp://HOST:PORT, ucx://HOST:PORT); repeatable");
  app.add_option("--backend", backend, "\"emulator\" or the path of a libcuda.so.1");
  app.add_option("--token", tokens, "add a tenant \"default\" with this token");
  app.add_option("--admin-token", admin_tokens, "add an admin tenant \"admin\" with this token");
  app.add_option("--token-file", token_files, "add a tenant \"default\" with the token in FILE");
  app.add_option("--admin-token-file", admin_token_files,
                 "add an admin tenant \"admin\" with the token in FILE");
  app.add_option("--image-cache", image_cache, "directory of the module image cache");
  std::vector<std::string> public_images;
  app.add_option("--public-images", public_images,
                 "a file or directory of public library images (GPOOL_PUBLIC_IMAGES); repeatable");
  app.add_option("--url-file", url_file, "write the first listener's bound URL here when ready");
  app.add_option("--warm-workers", warm_workers, "pre-attached workers kept ready")->check(CLI::Range(0u, 4096u));
  app.add_option("--metrics-listen", metrics_listen, "HOST:PORT of /metrics (\"\" = off)");
  app.add_option("--registry", registry,
                 "register in the pool etcd://HOST:PORT/POOL (GPOOL_REGISTRY; \"\" = off)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (!check_file.empty()) {
    Config check;
    if (!gpool::server::load_config(check_file, check, error)) {
      std::fprintf(stderr, "gpool-server: %s\n", error.c_str());
      return 1;
    }
    std::printf("config %s: ok (%zu tenant(s), %zu listen URL(s))\n", check_file.c_str(),
                check.tenants.size(), check.listen.size());
    return 0;
  }
  if (!config_file.empty() && !gpool::server::load_config(config_file, cfg, error)) {
    std::fprintf(stderr, "gpool-server: %s\n", error.c_str());
    return 2;
  }
  gpool::server::apply_tls_env(cfg);
  auto& log = gpool::log::logger("server");
  if (!tokens.empty() || !admin_tokens.empty()) {
    log.warn("a token given with --token/--admin-token is visible to every user of this host in "
             "`ps`; use --token-file or a config file with token_sha256 or token_file");
  }
  for (const auto& [files, into] : {std::pair{&token_files, &tokens}, std::pair{&admin_token_files, &admin_tokens}}) {
    for (const auto& f : *files) {
      std::string token, warning;
      if (!gpool::token_file::read(f, token, error, warning)) {
        std::fprintf(stderr, "gpool-server: %s\n", error.c_str());
        return 2;
      }
      if (!warning.empty()) log.warn("{}", warning);
      into->push_back(token);
    }
  }
  if (!backend.empty()) cfg.backend = backend;
  if (!image_cache.empty()) cfg.image_cache_dir = image_cache;
  if (auto v = gpool::env::get("GPOOL_PUBLIC_IMAGES")) {
    cfg.public_images.clear();
    if (*v != "off") {
      for (size_t start = 0; start <= v->size();) {
        const size_t end = std::min(v->find(':', start), v->size());
        if (end > start) cfg.public_images.push_back(v->substr(start, end - start));
        start = end + 1;
      }
    }
  }
  if (!public_images.empty()) cfg.public_images = public_images;
  for (const auto& t : tokens) cfg.tenants.push_back(gpool::server::make_tenant("default", t, false));
  for (const auto& t : admin_tokens) cfg.tenants.push_back(gpool::server::make_tenant("admin", t, true));
  if (!listen.empty()) cfg.listen = listen;
  if (gpool::env::get("GPOOL_WARM_WORKERS")) {
    const int64_t n = gpool::env::get_int("GPOOL_WARM_WORKERS", cfg.warm_workers);
    if (n >= 0 && n <= 4096) {
      cfg.warm_workers = static_cast<unsigned>(n);
    } else {
      gpool::log::logger("server").warn("GPOOL_WARM_WORKERS={} is outside 0..4096; keeping {}", n,
                                        cfg.warm_workers);
    }
  }
  if (auto m = gpool::env::get("GPOOL_METRICS_LISTEN")) cfg.metrics_listen = *m == "off" ? "" : *m;
  if (auto r = gpool::env::get("GPOOL_REGISTRY")) cfg.registry = *r == "off" ? "" : *r;
  if (auto a = gpool::env::get("GPOOL_ADVERTISE_URL")) cfg.advertise_url = *a;
  if (gpool::env::get("GPOOL_REGISTRY_TTL_S")) {
    const int64_t ttl = gpool::env::get_int("GPOOL_REGISTRY_TTL_S", -1);
    if (ttl < 1 || ttl > 3600) {
      std::fprintf(stderr, "gpool-server: GPOOL_REGISTRY_TTL_S must be an integer 1..3600 (seconds)\n");
      return 2;
    }
    cfg.registry_ttl_s = static_cast<unsigned>(ttl);
  }
  if (registry) cfg.registry = *registry;
  if (!cfg.registry.empty()) {
    gpool::registry::PoolUrl pool;
    if (!gpool::registry::parse_pool_url(cfg.registry, pool, error)) {
      std::fprintf(stderr, "gpool-server: registry %s\n", error.c_str());
      return 2;
    }
  }
  if (warm_workers) cfg.warm_workers = *warm_workers;
  if (metrics_listen) cfg.metrics_listen = *metrics_listen;
  if (cfg.listen.empty()) cfg.listen = {"tcp://127.0.0.1:7070"};
  if (cfg.tenants.empty()) {
    std::fprintf(stderr, "gpool-server: no tenants: add [[tenant]] to the config or pass --token\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGHUP, gpool::server::on_reload_signal);  // re-read the tenants (reload.h)

  gpool::server::Supervisor sup(cfg);
  if (!sup.start(error)) {
    gpool::log::logger("server").error("{}", error);
    return 1;
  }
  log_ready(cfg, cfg.metrics_listen);
  if (!url_file.empty()) {
    const std::string tmp = url_file + ".tmp";
    std::ofstream(tmp) << sup.urls().front() << "\n";
    std::rename(tmp.c_str(), url_file.c_str());
  }
  return sup.run();
}
