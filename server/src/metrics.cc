#include "metrics.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "gpool/common/log.h"
#include "metrics_http.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("metrics"); }

// Prometheus label values escape backslash, double quote and newline.
std::string label(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out.push_back(ch);
  }
  return out;
}


void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP gpool_{} {}\n# TYPE gpool_{} {}\n", name, help, name, type);
}

int devices_shown(uint32_t device_count) {
  return static_cast<int>(std::clamp<uint32_t>(device_count, 1, kMaxDevices));
}

// Calls fn(index, slot) for every tenant slot in use.
template <typename Fn>
void each_tenant(const TenantTable& t, Fn fn) {
  for (int i = 0; i < t.used(); ++i) {
    const TenantSlot& s = t.slot(i);
    if (s.in_use.load(std::memory_order_acquire) != 0) fn(i, s);
  }
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(ch));
    } else {
      out.push_back(ch);
    }
  }
  return out + "\"";
}

std::string format_metrics(const MetricsSources& src) {
  std::string out;
  const int ndev = devices_shown(src.pool ? src.pool->device_count.load() : 0);
  if (src.tenants != nullptr) {
    const TenantTable& t = *src.tenants;
    struct Counter {
      const char* name;
      const char* type;
      const char* help;
      uint64_t (*get)(const TenantSlot&);
    };
    const Counter per_tenant[] = {
        {"tenant_sessions", "gauge", "Sessions of the tenant open now.",
         [](const TenantSlot& s) -> uint64_t { return s.sessions.load(); }},
        {"tenant_calls_total", "counter", "Calls executed for the tenant.",
         [](const TenantSlot& s) -> uint64_t { return s.calls.load(); }},
        {"tenant_bytes_in_total", "counter", "Bulk bytes received with the tenant's calls.",
         [](const TenantSlot& s) -> uint64_t { return s.bytes_in.load(); }},
        {"tenant_bytes_out_total", "counter", "Bulk bytes sent with replies to the tenant.",
         [](const TenantSlot& s) -> uint64_t { return s.bytes_out.load(); }},
        {"tenant_errors_total", "counter", "Calls of the tenant that returned an error.",
         [](const TenantSlot& s) -> uint64_t { return s.errors.load(); }},
        {"tenant_oom_refusals_total", "counter", "Allocations of the tenant refused by its memory quota.",
         [](const TenantSlot& s) -> uint64_t { return s.oom_refusals.load(); }},
        {"tenant_image_bytes", "gauge", "Host memory the tenant's workers hold for uploaded module images.",
         [](const TenantSlot& s) -> uint64_t { return s.image_bytes.load(); }},
        {"tenant_image_upload_bytes_total", "counter", "Module image bytes the tenant's clients sent.",
         [](const TenantSlot& s) -> uint64_t { return s.image_upload_bytes.load(); }},
        {"tenant_public_image_loads_total", "counter",
         "Module images of the tenant served from the server's public index, without bytes sent.",
         [](const TenantSlot& s) -> uint64_t { return s.public_image_loads.load(); }},
    };
    for (const Counter& c : per_tenant) {
      header(out, c.name, c.type, c.help);
      each_tenant(t, [&](int, const TenantSlot& s) {
        out += fmt::format("gpool_{}{{tenant=\"{}\"}} {}\n", c.name, label(s.name), c.get(s));
      });
    }
    header(out, "tenant_memory_held_bytes", "gauge", "Device memory the tenant's sessions hold now.");
    each_tenant(t, [&](int, const TenantSlot& s) {
      for (int d = 0; d < ndev; ++d) {
        out += fmt::format("gpool_tenant_memory_held_bytes{{tenant=\"{}\",device=\"{}\"}} {}\n",
                           label(s.name), d, s.dev[d].bytes_held.load());
      }
    });
    header(out, "tenant_memory_quota_bytes", "gauge",
           "Device memory quota of the tenant per device (0 = unlimited).");
    each_tenant(t, [&](int, const TenantSlot& s) {
      for (int d = 0; d < ndev; ++d) {
        out += fmt::format("gpool_tenant_memory_quota_bytes{{tenant=\"{}\",device=\"{}\"}} {}\n",
                           label(s.name), d, s.dev[d].quota_bytes.load());
      }
    });
    header(out, "tenant_device_time_seconds_total", "counter", "Device time used by the tenant's work.");
    each_tenant(t, [&](int, const TenantSlot& s) {
      for (int d = 0; d < ndev; ++d) {
        out += fmt::format("gpool_tenant_device_time_seconds_total{{tenant=\"{}\",device=\"{}\"}} {:.9f}\n",
                           label(s.name), d, static_cast<double>(s.dev[d].device_time_ns.load()) / 1e9);
      }
    });
  }
  if (src.sessions != nullptr) {
    uint64_t open = 0;
    for (size_t i = 0; i < src.sessions->capacity(); ++i) open += src.sessions->slot(static_cast<int>(i)).in_use.load();
    header(out, "sessions", "gauge", "Sessions open now, all tenants.");
    out += fmt::format("gpool_sessions {}\n", open);
  }
  if (src.pool != nullptr) {
    const PoolStats& p = *src.pool;
    header(out, "pool_warm_target", "gauge", "Pre-attached workers the server keeps (warm_workers).");
    out += fmt::format("gpool_pool_warm_target {}\n", p.target.load());
    header(out, "pool_warm_alive", "gauge", "Pre-attached workers waiting for a session.");
    out += fmt::format("gpool_pool_warm_alive {}\n", p.alive.load());
    header(out, "pool_warm_ready", "gauge", "Pre-attached workers whose backend attach has finished.");
    out += fmt::format("gpool_pool_warm_ready {}\n", p.ready.load());
    header(out, "pool_sessions_total", "counter", "Sessions started, by a pool worker (warm) or a new fork (cold).");
    out += fmt::format("gpool_pool_sessions_total{{start=\"warm\"}} {}\n", p.warm_sessions.load());
    out += fmt::format("gpool_pool_sessions_total{{start=\"cold\"}} {}\n", p.cold_sessions.load());
    header(out, "pool_failures_total", "counter", "Pool workers that ended before they got a session.");
    out += fmt::format("gpool_pool_failures_total {}\n", p.pool_failures.load());
  }
  if (src.preauth != nullptr) {
    const PreauthStats& a = *src.preauth;
    header(out, "auth_failures_total", "counter", "Handshakes refused for an unknown token.");
    out += fmt::format("gpool_auth_failures_total {}\n", a.auth_failures.load());
    header(out, "preauth_evicted_total", "counter",
           "Pending handshakes closed to admit a newer one: max_preauth_per_source (source) or "
           "max_preauth (total) reached.");
    out += fmt::format("gpool_preauth_evicted_total{{reason=\"source\"}} {}\n", a.evicted_source.load());
    out += fmt::format("gpool_preauth_evicted_total{{reason=\"total\"}} {}\n", a.evicted_total.load());
    header(out, "preauth_refused_total", "counter",
           "Connections closed at accept, unread: from a source out of authentication attempts "
           "(auth_rate), or with no room at all (total).");
    out += fmt::format("gpool_preauth_refused_total{{reason=\"total\"}} {}\n", a.refused_total.load());
    out += fmt::format("gpool_preauth_refused_total{{reason=\"auth_rate\"}} {}\n", a.refused_auth_rate.load());
    header(out, "preauth_timeouts_total", "counter", "Handshakes without a complete Hello by handshake_timeout_ms.");
    out += fmt::format("gpool_preauth_timeouts_total {}\n", a.timeouts.load());
    header(out, "preauth_errors_total", "counter", "Handshakes that sent a malformed first frame or closed early.");
    out += fmt::format("gpool_preauth_errors_total {}\n", a.errors.load());
    header(out, "preauth_pending", "gauge", "Handshakes in progress now.");
    out += fmt::format("gpool_preauth_pending {}\n", a.pending.load());
  }
  return out;
}

std::string tenants_json(const TenantTable& tenants, uint32_t device_count,
                         std::string_view only_tenant) {
  const int ndev = devices_shown(device_count);
  std::string out = "[";
  bool first = true;
  each_tenant(tenants, [&](int, const TenantSlot& s) {
    if (!only_tenant.empty() && std::string_view(s.name) != only_tenant) return;
    out += fmt::format(
        "{}{{\"name\":{},\"sessions\":{},\"calls\":{},\"bytes_in\":{},\"bytes_out\":{},\"errors\":{},"
        "\"oom_refusals\":{},\"image_bytes\":{},\"image_quota\":{},\"image_uploads\":{},"
        "\"image_upload_bytes\":{},\"public_image_loads\":{},\"devices\":[",
        first ? "" : ",", json_string(s.name), s.sessions.load(), s.calls.load(), s.bytes_in.load(),
        s.bytes_out.load(), s.errors.load(), s.oom_refusals.load(), s.image_bytes.load(), s.image_quota.load(),
        s.image_uploads.load(), s.image_upload_bytes.load(), s.public_image_loads.load());
    for (int d = 0; d < ndev; ++d) {
      out += fmt::format("{}{{\"device\":{},\"bytes_held\":{},\"quota_bytes\":{},\"device_time_s\":{:.6f}}}",
                         d ? "," : "", d, s.dev[d].bytes_held.load(), s.dev[d].quota_bytes.load(),
                         static_cast<double>(s.dev[d].device_time_ns.load()) / 1e9);
    }
    out += "]}";
    first = false;
  });
  return out + "]";
}

std::string pool_json(const PoolStats& p) {
  return fmt::format(
      "{{\"target\":{},\"alive\":{},\"ready\":{},\"warm_sessions\":{},\"cold_sessions\":{},"
      "\"failures\":{},\"device_count\":{}}}",
      p.target.load(), p.alive.load(), p.ready.load(), p.warm_sessions.load(), p.cold_sessions.load(),
      p.pool_failures.load(), p.device_count.load());
}

bool parse_host_port(const std::string& text, std::string& host, int& port) {
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
  const int v = std::stoi(p);
  if (v > 65535) return false;
  host = h;
  port = v;
  return true;
}

pid_t start_metrics_process(const std::string& listen, const MetricsSources& src,
                            const std::function<void()>& child_setup, std::string& bound,
                            std::string& error) {
  std::string host;
  int port = 0;
  if (!parse_host_port(listen, host, port)) {
    error = fmt::format("metrics_listen '{}' is not host:port (e.g. 127.0.0.1:9400); fix the config "
                        "or GPOOL_METRICS_LISTEN", listen);
    return -1;
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    error = fmt::format("pipe for the metrics process failed: {}", std::strerror(errno));
    return -1;
  }
  const pid_t parent = ::getpid();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = fmt::format("fork of the metrics process failed: {}", std::strerror(errno));
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return -1;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGHUP, SIG_IGN);  // reload is the supervisor's business
    ::close(pipefd[0]);
    child_setup();
    int got = -1;
    std::string bind_error;
    const int lfd = bind_http(host, port, got, bind_error);
    const std::string msg = lfd >= 0 ? fmt::format("ok {}", got) : "err " + bind_error;
    (void)!::write(pipefd[1], msg.data(), msg.size());
    ::close(pipefd[1]);
    if (lfd < 0) ::_exit(1);
    const MetricsSources s = src;
    serve_http(lfd, [s] { return format_metrics(s); });
    logger().error("the metrics server on {} stopped serving", listen);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  char buf[512] = {};
  size_t len = 0;
  pollfd p{pipefd[0], POLLIN, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, 5000);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) break;
    const ssize_t n = ::read(pipefd[0], buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(pipefd[0]);
  const std::string answer(buf, len);
  if (answer.rfind("ok ", 0) == 0) {
    const bool v6 = host.find(':') != std::string::npos;
    bound = (v6 ? "[" + host + "]" : host) + ":" + answer.substr(3);
    return pid;
  }
  error = answer.rfind("err ", 0) == 0 ? answer.substr(4)
                                       : "the metrics process did not report within 5 s";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

}  // namespace gpool::server
