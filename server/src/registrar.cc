#include "registrar.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "backend.h"
#include "gpool/common/log.h"
#include "gpool/registry/etcd.h"
#include "gpool/registry/server_record.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("registrar"); }

volatile std::sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

std::string uuid_text(const CUuuid& u) {
  const auto* b = reinterpret_cast<const unsigned char*>(u.bytes);
  return fmt::format("GPU-{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
                     "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
}

// The backend's devices (name, UUID, total memory); empty with a logged reason on failure.
std::vector<registry::DeviceRecord> probe_devices(const std::string& backend) {
  std::vector<registry::DeviceRecord> out;
  Driver d;
  std::string error;
  if (!d.load(backend, error)) {
    logger().error("cannot load the backend to list its devices: {}; registering without devices", error);
    return out;
  }
  int count = 0;
  if (d.cuInit(0) != CUDA_SUCCESS || d.cuDeviceGetCount(&count) != CUDA_SUCCESS) {
    logger().error("the backend {} failed cuInit/cuDeviceGetCount; registering without devices", backend);
    return out;
  }
  for (int i = 0; i < std::min(count, kMaxDevices); ++i) {
    CUdevice dev = 0;
    registry::DeviceRecord r;
    char name[256] = {};
    size_t total = 0;
    CUuuid uuid{};
    if (d.cuDeviceGet(&dev, i) != CUDA_SUCCESS) break;
    if (d.cuDeviceGetName(name, sizeof name - 1, dev) == CUDA_SUCCESS) r.name = name;
    if (d.cuDeviceTotalMem_v2(&total, dev) == CUDA_SUCCESS) r.memory_total = total;
    if (d.cuDeviceGetUuid_v2(&uuid, dev) == CUDA_SUCCESS) r.uuid = uuid_text(uuid);
    out.push_back(std::move(r));
  }
  return out;
}

// The record as the shared tables show it now (updated = 0: set when it is put).
registry::ServerRecord snapshot(const RegistrarConfig& cfg, const std::vector<registry::DeviceRecord>& devices,
                                const TenantTable& tenants, SessionTable& sessions) {
  registry::ServerRecord r;
  r.url = cfg.advertise_url;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  r.host = host;
  r.version = GPOOL_VERSION;
  r.max_sessions = cfg.max_sessions;
  for (size_t i = 0; i < sessions.capacity(); ++i) {
    r.sessions += sessions.slot(static_cast<int>(i)).in_use.load(std::memory_order_relaxed) != 0 ? 1 : 0;
  }
  r.load = cfg.max_sessions > 0 ? static_cast<double>(r.sessions) / cfg.max_sessions : 0;
  r.devices = devices;
  for (size_t d = 0; d < r.devices.size(); ++d) {
    uint64_t held = 0;
    for (int t = 0; t < tenants.used(); ++t) {
      held += tenants.slot(t).dev[d].bytes_held.load(std::memory_order_relaxed);
    }
    r.devices[d].memory_free = r.devices[d].memory_total > held ? r.devices[d].memory_total - held : 0;
  }
  return r;
}

[[noreturn]] void run(const RegistrarConfig& cfg, const TenantTable& tenants, SessionTable& sessions) {
  registry::PoolUrl pool;
  std::string error;
  registry::parse_pool_url(cfg.registry, pool, error);  // checked by start_registrar
  const auto period = std::chrono::milliseconds(std::max<int64_t>(100, int64_t{cfg.ttl_s} * 1000 / 3));
  const auto timeout = std::clamp(period, std::chrono::milliseconds(200), std::chrono::milliseconds(2000));
  registry::Etcd etcd(pool.endpoints, timeout);
  const std::string key = registry::pool_prefix(pool.pool) + cfg.advertise_url;
  const std::vector<registry::DeviceRecord> devices = probe_devices(cfg.backend_path);

  int64_t lease = 0;
  std::string published;  // the record as last put (without its time stamp)
  bool failing = false;
  auto fail = [&](const std::string& what) {
    if (!failing) {
      logger().warn("pool {}: {}; retrying every {} ms (the server keeps serving direct clients)",
                    cfg.registry, what, period.count());
    }
    failing = true;
  };
  while (g_stop == 0) {
    bool ok = true;
    if (lease != 0) {
      bool alive = false;
      if (!etcd.lease_keepalive(lease, alive, error)) {
        fail(error);
        ok = false;
      } else if (!alive) {
        logger().warn("pool {}: etcd forgot the lease (expired); registering again", cfg.registry);
        lease = 0;
        published.clear();
      }
    }
    if (ok && lease == 0) {
      if (!etcd.lease_grant(cfg.ttl_s, lease, error)) {
        fail(error);
        ok = false;
        lease = 0;
      }
    }
    if (ok) {
      registry::ServerRecord r = snapshot(cfg, devices, tenants, sessions);
      const std::string body = registry::to_json(r);
      if (body != published) {
        r.updated = static_cast<int64_t>(::time(nullptr));
        if (etcd.put(key, registry::to_json(r), lease, error)) {
          if (published.empty()) {
            logger().info("registered in pool {} as {} ({} device(s), lease TTL {} s)", cfg.registry,
                          cfg.advertise_url, devices.size(), cfg.ttl_s);
          }
          published = body;
        } else {
          fail(error);
          ok = false;
        }
      }
    }
    if (ok && failing) {
      logger().info("pool {}: etcd answers again", cfg.registry);
      failing = false;
    }
    const auto until = std::chrono::steady_clock::now() + period;
    while (g_stop == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (lease != 0) {
    if (etcd.lease_revoke(lease, error)) {
      logger().info("left pool {} (lease revoked)", cfg.registry);
    } else {
      logger().warn("pool {}: revoking the lease failed ({}); the record expires within {} s",
                    cfg.registry, error, cfg.ttl_s);
    }
  }
  ::_exit(0);
}

}  // namespace

pid_t start_registrar(const RegistrarConfig& cfg, const TenantTable* tenants, SessionTable* sessions,
                      const std::function<void()>& child_setup, std::string& error) {
  registry::PoolUrl pool;
  if (!registry::parse_pool_url(cfg.registry, pool, error)) {
    error = "registry " + error;
    return -1;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = fmt::format("fork of the registrar failed: {}", std::strerror(errno));
    return -1;
  }
  if (pid > 0) return pid;
  // Child: dies with the supervisor without revoking (death = lease expiry).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);
  child_setup();
  std::signal(SIGTERM, on_term);
  std::signal(SIGINT, SIG_IGN);  // a terminal's ^C reaches the supervisor, which stops us
  std::signal(SIGHUP, SIG_IGN);
  run(cfg, *tenants, *sessions);
}

}  // namespace gpool::server
