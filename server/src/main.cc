// gpool-server: serves remote CUDA sessions on a driver backend (see supervisor.h).
//
//   gpool-server [--config FILE] [--listen URL]... [--backend emulator|PATH]
//                [--token TOKEN] [--admin-token TOKEN] [--image-cache DIR] [--url-file FILE]
//                [--warm-workers N] [--metrics-listen HOST:PORT]
//   gpool-server --check-config FILE
//
// --check-config validates FILE as the server would read it (config.h: unknown keys, types,
// ranges, duplicate names and tokens) and exits without starting: 0 and a summary when it is
// valid, 1 and the message naming the line and key when not.
// --token / --admin-token add a tenant "default" / "admin" with that token (for quick starts
// and tests; production configs list tenants with token_sha256). --url-file writes the bound
// URL of the first listener (useful with port 0). SIGTERM or SIGINT stops the server.
// Precedence for warm_workers / metrics_listen: command line, then GPOOL_WARM_WORKERS /
// GPOOL_METRICS_LISTEN, then the config file.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "config.h"
#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "reload.h"
#include "supervisor.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: gpool-server [--config FILE] [--listen URL]... [--backend emulator|PATH]\n"
               "                    [--token TOKEN] [--admin-token TOKEN] [--image-cache DIR]\n"
               "                    [--url-file FILE] [--warm-workers N] [--metrics-listen HOST:PORT]\n"
               "       gpool-server --check-config FILE\n");
}

void on_signal(int) { gpool::server::Supervisor::stop(); }

}  // namespace

int main(int argc, char** argv) {
  using gpool::server::Config;
  Config cfg;
  std::vector<std::string> listen;
  std::string url_file;
  std::string error;
  std::optional<unsigned> warm_workers;
  std::optional<std::string> metrics_listen;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gpool-server: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--check-config") {
      const std::string file = value();
      Config check;
      if (!gpool::server::load_config(file, check, error)) {
        std::fprintf(stderr, "gpool-server: %s\n", error.c_str());
        return 1;
      }
      std::printf("config %s: ok (%zu tenant(s), %zu listen URL(s))\n", file.c_str(),
                  check.tenants.size(), check.listen.size());
      return 0;
    }
    if (a == "--config") {
      if (!gpool::server::load_config(value(), cfg, error)) {
        std::fprintf(stderr, "gpool-server: %s\n", error.c_str());
        return 2;
      }
    } else if (a == "--listen") {
      listen.push_back(value());
    } else if (a == "--backend") {
      cfg.backend = value();
    } else if (a == "--token") {
      cfg.tenants.push_back(gpool::server::make_tenant("default", value(), false));
    } else if (a == "--admin-token") {
      cfg.tenants.push_back(gpool::server::make_tenant("admin", value(), true));
    } else if (a == "--image-cache") {
      cfg.image_cache_dir = value();
    } else if (a == "--url-file") {
      url_file = value();
    } else if (a == "--warm-workers") {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n > 4096) {
        std::fprintf(stderr, "gpool-server: --warm-workers needs a count 0..4096, not '%s'\n", v.c_str());
        return 2;
      }
      warm_workers = static_cast<unsigned>(n);
    } else if (a == "--metrics-listen") {
      metrics_listen = value();
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "gpool-server: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
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
  if (!url_file.empty()) {
    const std::string tmp = url_file + ".tmp";
    std::ofstream(tmp) << sup.urls().front() << "\n";
    std::rename(tmp.c_str(), url_file.c_str());
  }
  return sup.run();
}
