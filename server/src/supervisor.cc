#include "supervisor.h"


#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "auth.h"
#include "gpool/common/log.h"
#include "gpool/remote/call_codec.h"
#include "metrics.h"
#include "public_images.h"
#include "registrar.h"
#include "reload.h"
#include "worker.h"

namespace gpool::server {
namespace {

namespace wire = protocol::wire;

spdlog::logger& logger() { return log::logger("server"); }

void send_refusal(transport::Connection& conn, wire::RefusalReason reason, const std::string& text) {
  flatbuffers::FlatBufferBuilder fbb;
  auto r = wire::CreateRefusal(fbb, reason, fbb.CreateString(text));
  protocol::finish_envelope(fbb, r);
  (void)conn.send(protocol::finished_bytes(fbb), {}, std::chrono::milliseconds(1000));
}

}  // namespace

volatile std::sig_atomic_t Supervisor::stop_ = 0;

Supervisor::Supervisor(Config config)
    : config_(std::move(config)),
      table_(config_.max_sessions),
      gate_(PreauthLimits{config_.max_preauth_per_source, config_.max_preauth,
                          config_.auth_failures_burst, config_.auth_failures_per_minute}),
      self_(::getpid()) {
  backend_path_ = resolve_backend(config_.backend);
  table_.set_tenants(&tenants_);  // a released session slot returns its bytes to its tenant
  for (const Tenant& t : config_.tenants) {
    if (!t.admin && tenants_.upsert(t) < 0) {
      logger().error("tenant {}: the tenant table is full ({} tenants); it runs without accounting",
                     t.name, kMaxTenants);
    }
  }
  sched_ = make_scheduler(config_, tenants_);  // before any fork: workers inherit the mapping
  pool_stats_ = PoolStats::create_shared();
  preauth_stats_ = PreauthStats::create_shared();
  if (preauth_stats_ == nullptr) {
    static PreauthStats local;  // no shared mapping: counted here, /metrics shows zeros
    preauth_stats_ = &local;
  }
}

Supervisor::~Supervisor() = default;

void Supervisor::close_in_child() {
  listeners_.clear();
  pending_.clear();  // strangers' sockets must not outlive the supervisor's copy
  for (const Session& s : sessions_) {
    if (s.watch_fd >= 0) ::close(s.watch_fd);  // a session's socket lives in its worker only
  }
  if (pool_) {
    for (int fd : pool_->fds()) ::close(fd);
  }
}

void Supervisor::stop() { stop_ = 1; }

bool Supervisor::start(std::string& error) {
  if (config_.listen.empty()) {
    error = "no listen URL: set listen in the config or pass --listen tcp://HOST:PORT";
    return false;
  }
  const transport::Options opts = listen_options();
  for (const std::string& url : config_.listen) {
    std::unique_ptr<transport::Listener> l;
    if (transport::Status s = transport::listen(url, opts, l); !s.ok()) {
      error = fmt::format("cannot listen on {}: {}", url, s.text);
      return false;
    }
    logger().info("listening on {} (backend {})", l->url(), backend_path_);
    listeners_.push_back(std::move(l));
  }
  if (!config_.public_images.empty()) {
    // A path that is missing is a config error now, naming the key, not a silent empty index.
    if (!PublicImageIndex::list_files(config_.public_images, public_image_files_, error)) return false;
    public_images_ = PublicImageIndex::create_shared();
  }
  if (!start_metrics(error)) return false;
  if (!start_registrar(error)) return false;
  if (config_.warm_workers > 0) {
    pool_ = std::make_unique<WorkerPool>(config_.warm_workers, pool_stats_);
    logger().info("warm pool: keeping {} pre-attached worker(s)", config_.warm_workers);
  }
  return true;
}

transport::Options Supervisor::listen_options() const {
  transport::Options opts = transport::Options::from_env();
  opts.tls = transport::TlsOptions{};  // GPOOL_TLS_* are a client's settings, not the server's
  opts.tls.cert_file = config_.tls_cert;
  opts.tls.key_file = config_.tls_key;
  opts.tls.client_ca_file = config_.tls_client_ca;
  opts.tls.require_client_cert = config_.tls_require_client_cert;
  return opts;
}

bool Supervisor::reload(std::string& outcome) {
  if (!reload_tenants(config_, tenants_, outcome)) return false;
  if (sched_) apply_shares(*sched_, config_, tenants_);  // the shares derive from the tenants
  outcome = fmt::format("reloaded {}: {} tenant(s)", config_.path, config_.tenants.size());
  // Certificates: a listener whose new files do not load keeps serving the old ones.
  const transport::Options opts = listen_options();
  for (const auto& l : listeners_) {
    if (l->url().rfind("tls://", 0) != 0) continue;
    if (transport::Status s = l->reload_tls(opts.tls); !s.ok()) {
      logger().error("config reload: {} keeps its previous certificate: {}", l->url(), s.text);
      outcome += fmt::format("; {} keeps its previous certificate ({})", l->url(), s.text);
    } else {
      logger().info("config reload: {} serves certificate {} from now on", l->url(), opts.tls.cert_file);
    }
  }
  return true;
}

pid_t Supervisor::spawn_metrics(const std::string& listen, std::string& bound, std::string& error) {
  const MetricsSources src{&tenants_, &table_, pool_stats_, preauth_stats_};
  return start_metrics_process(listen, src, [this] { close_in_child(); }, bound, error);
}

bool Supervisor::start_metrics(std::string& error) {
  if (config_.metrics_listen.empty()) return true;
  std::string bound;
  const pid_t pid = spawn_metrics(config_.metrics_listen, bound, error);
  if (pid < 0) return false;
  metrics_pid_ = pid;
  metrics_bound_ = bound;
  metrics_url_ = "http://" + bound + "/metrics";
  logger().info("metrics on {} (process {})", metrics_url_, pid);
  return true;
}

bool Supervisor::start_registrar(std::string& error) {
  if (config_.registry.empty()) return true;
  RegistrarConfig rc{config_.registry,
                     config_.advertise_url.empty() ? listeners_.front()->url() : config_.advertise_url,
                     config_.registry_ttl_s, backend_path_, config_.max_sessions};
  const pid_t pid = server::start_registrar(rc, &tenants_, &table_, [this] { close_in_child(); }, error);
  if (pid < 0) return false;
  registrar_pid_ = pid;
  logger().info("registering in pool {} as {} (process {}, lease TTL {} s)", rc.registry,
                rc.advertise_url, pid, rc.ttl_s);
  if (rc.advertise_url.find("://0.0.0.0:") != std::string::npos ||
      rc.advertise_url.find("://[::]:") != std::string::npos) {
    logger().warn("the pool is told to connect to {}, a wildcard address that clients on other hosts "
                  "cannot reach: set advertise_url (GPOOL_ADVERTISE_URL) to this host's address",
                  rc.advertise_url);
  }
  return true;
}

void Supervisor::restart_metrics_if_due() {
  if (!metrics_restart_at_ || std::chrono::steady_clock::now() < *metrics_restart_at_) return;
  std::string bound, error;
  const pid_t pid = spawn_metrics(metrics_bound_, bound, error);
  if (pid < 0) {
    logger().error("restarting the metrics process on {} failed: {}; trying again in {} s", metrics_bound_,
                   error, kMetricsRestartDelay.count());
    metrics_restart_at_ = std::chrono::steady_clock::now() + kMetricsRestartDelay;
    return;
  }
  metrics_pid_ = pid;
  metrics_restart_at_.reset();
  logger().info("metrics process restarted on {} (process {})", metrics_url_, pid);
}

std::vector<std::string> Supervisor::urls() const {
  std::vector<std::string> v;
  for (const auto& l : listeners_) v.push_back(l->url());
  return v;
}

int Supervisor::run() {
  spawn_indexer();
  const WarmContext warm{backend_path_, config_.image_cache_dir, config_.image_cache_max_bytes, &table_, &tenants_, pool_stats_,
                         sched_.get(), public_images_};
  auto refill = [&] {
    if (!pool_) return;
    pool_->fill([this] { close_in_child(); }, [&warm](int sock) { return run_warm_worker(sock, warm); });
    pool_->poll_ready();
  };
  refill();
  spawn_catalog();
  // A listener without a pollable descriptor is polled by accept() with a short timeout.
  const bool all_pollable = std::all_of(listeners_.begin(), listeners_.end(),
                                        [](const auto& l) { return l->poll_fd() >= 0; });
  const int idle_ms = all_pollable ? 200 : 20;
  std::vector<pollfd> fds;
  while (stop_ == 0) {
    const int next_deadline_ms = expire_pending(std::chrono::steady_clock::now());
    fds.clear();
    for (const auto& l : listeners_) fds.push_back({l->poll_fd(), POLLIN, 0});  // -1 is skipped
    for (const auto& p : pending_) fds.push_back({p->fd, POLLIN, 0});
    const size_t first_watch = fds.size();
    std::vector<size_t> watched;  // sessions_ index of each watch entry
    for (size_t i = 0; i < sessions_.size(); ++i) {
      if (sessions_[i].watch_fd < 0 || sessions_[i].client_gone) continue;
      fds.push_back({sessions_[i].watch_fd, POLLRDHUP, 0});  // hang-up only: never reads
      watched.push_back(i);
    }
    const int wait_ms = watch_sessions() ? 20 : idle_ms;  // a killed worker is reaped soon
    const int rc = ::poll(fds.data(), fds.size(), std::min(wait_ms, next_deadline_ms));
    if (rc < 0 && errno != EINTR) {
      logger().error("poll failed: {}", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const size_t n_listen = listeners_.size();
    const size_t n_pending = pending_.size();  // accepting below appends after these
    for (size_t i = 0; i < n_listen && rc >= 0; ++i) {
      auto& l = listeners_[i];
      if (l->poll_fd() >= 0 && (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) == 0) continue;
      // Take every connection waiting (bounded per round so handshakes keep moving).
      for (int taken = 0; taken < 64; ++taken) {
        if (taken > 0 && l->poll_fd() >= 0) {  // another one waiting? (else accept would wait 1 ms)
          pollfd more{l->poll_fd(), POLLIN, 0};
          if (::poll(&more, 1, 0) <= 0) break;
        }
        std::unique_ptr<transport::Connection> conn;
        transport::Status s = l->accept(conn, std::chrono::milliseconds(1));
        if (s.ok()) {
          on_accept(std::move(conn));
          continue;
        }
        if (s.code != transport::Code::kTimeout) {
          logger().warn("accept on {} failed: {}", l->url(), s.text);
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        break;
      }
    }
    for (size_t i = 0; i < watched.size() && rc > 0; ++i) {
      if ((fds[first_watch + i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) continue;
      Session& s = sessions_[watched[i]];
      if (!s.client_gone) s.client_gone = std::chrono::steady_clock::now();
    }
    for (size_t i = 0; i < n_pending && rc > 0; ++i) {
      if (fds[n_listen + i].revents != 0) advance(*pending_[i]);
    }
    std::erase_if(pending_, [this](const std::unique_ptr<Pending>& p) {
      if (!p->finished) return false;
      if (!p->released) gate_.release(p->source);
      return true;
    });
    preauth_stats_->pending.store(static_cast<uint32_t>(pending_.size()));
    reap(false);
    (void)watch_sessions();
    util_.tick(tenants_, sched_ && sched_->enabled(), std::chrono::steady_clock::now());
    if (take_reload_request()) {  // SIGHUP (reload.h)
      std::string outcome;
      if (!reload(outcome)) logger().error("config reload failed, nothing changed: {}", outcome);
    }
    refill();
    restart_metrics_if_due();
  }
  // Leave the pool first, so that no new client is placed here while the sessions end.
  if (registrar_pid_ > 0) ::kill(registrar_pid_, SIGTERM);
  logger().info("stopping: terminating {} session worker(s)", sessions_.size());
  pending_.clear();
  for (const Session& s : sessions_) ::kill(s.pid, SIGTERM);
  if (pool_) pool_->terminate();
  if (metrics_pid_ > 0) ::kill(metrics_pid_, SIGTERM);
  reap(true);
  return 0;
}

template <typename... Args>
void Supervisor::preauth_warn(fmt::format_string<Args...> format, Args&&... args) {
  uint64_t suppressed = 0;
  if (!preauth_log_.allow(std::chrono::steady_clock::now(), suppressed)) return;
  const std::string text = fmt::format(format, std::forward<Args>(args)...);
  if (suppressed > 0) {
    logger().warn("{} ({} similar pre-auth line(s) suppressed; see gpool_preauth_* and "
                  "gpool_auth_failures_total in /metrics)", text, suppressed);
  } else {
    logger().warn("{}", text);
  }
}

void Supervisor::on_accept(std::unique_ptr<transport::Connection> conn) {
  const auto now = std::chrono::steady_clock::now();
  std::string source = source_address(conn->peer());
  // Handshakes already answered in this round (a status-only client is served at once) are done:
  // they give their place back now, not when the loop erases them, or a client that asks again
  // and again (NVML polling, `gpool status` in a loop) would fill max_preauth_per_source with
  // finished handshakes within one round of accepts and be refused.
  for (auto& p : pending_) {
    if (p->finished && !p->released) {
      p->released = true;
      gate_.release(p->source);
    }
  }
  PreauthGate::Admit verdict = gate_.admit(source, now);
  if (verdict == PreauthGate::Admit::source_limit || verdict == PreauthGate::Admit::total_limit) {
    // Over a limit: the oldest pending handshake (of this source, or of all) makes room, so a
    // flood of idle connections cannot keep a fresh one, whose Hello is on its way, out.
    const bool same_source = verdict == PreauthGate::Admit::source_limit;
    for (auto& p : pending_) {
      if (p->finished || (same_source && p->source != source)) continue;
      (same_source ? preauth_stats_->evicted_source : preauth_stats_->evicted_total).fetch_add(1);
      preauth_warn("closed {}: the oldest of {} handshakes in progress ({}), to admit a new one",
                   p->conn->peer(), same_source ? config_.max_preauth_per_source : config_.max_preauth,
                   same_source ? "max_preauth_per_source for " + source : std::string("max_preauth"));
      p->finished = true;
      p->released = true;
      gate_.release(p->source);
      break;
    }
    verdict = gate_.admit(source, now);
  }
  switch (verdict) {
    case PreauthGate::Admit::ok:
      break;
    case PreauthGate::Admit::source_limit:
    case PreauthGate::Admit::total_limit:
      preauth_stats_->refused_total.fetch_add(1);
      preauth_warn("closed {}: no room for another handshake (max_preauth={}, {} sources tracked)",
                   conn->peer(), config_.max_preauth, gate_.tracked_sources());
      return;
    case PreauthGate::Admit::auth_rate:
      preauth_stats_->refused_auth_rate.fetch_add(1);
      preauth_warn("closed {}: too many unknown tokens from {} (auth_failures_burst={}, "
                   "auth_failures_per_minute={}); it may try again later", conn->peer(), source,
                   config_.auth_failures_burst, config_.auth_failures_per_minute);
      return;
  }
  const int raw_fd = conn->handoff_fd();
  const int fd = raw_fd >= 0 ? raw_fd : conn->poll_fd();
  if (fd < 0) {  // not pollable: the blocking handshake, within the same deadline
    serve(std::move(conn));
    gate_.release(source);
    return;
  }
  auto p = std::make_unique<Pending>();
  p->conn = std::move(conn);
  p->fd = fd;
  p->framed = raw_fd < 0;
  p->source = std::move(source);
  p->deadline = now + std::chrono::milliseconds(config_.handshake_timeout_ms);
  Pending& ref = *p;
  pending_.push_back(std::move(p));
  advance(ref);  // the Hello is often there already
}

void Supervisor::advance(Pending& p) {
  if (p.framed) {  // the connection decodes (TLS): take what has arrived, never wait
    transport::FrameHead head;
    const transport::Status s = p.conn->recv_head(head, std::chrono::milliseconds(-1));
    if (s.code == transport::Code::kTimeout) return;  // more later
    p.finished = true;
    if (s.ok() && (head.segment_count() != 0 || head.control_size > HelloReader::kMaxHelloBytes)) {
      preauth_stats_->errors.fetch_add(1);
      preauth_warn("handshake with {} failed: a first frame with segments or above {} bytes; closed",
                   p.conn->peer(), HelloReader::kMaxHelloBytes);
      return;
    }
    if (!s.ok()) {
      preauth_stats_->errors.fetch_add(1);
      preauth_warn("handshake with {} failed: {}", p.conn->peer(), s.text);
      return;
    }
    answer(std::move(p.conn), head.envelope, p.source);
    return;
  }
  std::byte buf[4096];
  while (p.reader.state() == HelloReader::State::need_more) {
    const size_t want = std::min(sizeof buf, HelloReader::kMaxHelloBytes + 1 - p.reader.buffered());
    const ssize_t n = ::recv(p.fd, buf, want, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // more later
    if (n <= 0) {
      preauth_stats_->errors.fetch_add(1);
      preauth_warn("handshake with {} failed: {}", p.conn->peer(),
                   n == 0 ? std::string("closed before a complete Hello") : std::string(std::strerror(errno)));
      p.finished = true;
      return;
    }
    p.reader.feed(std::span<const std::byte>(buf, static_cast<size_t>(n)));
  }
  p.finished = true;
  if (p.reader.state() == HelloReader::State::failed) {
    preauth_stats_->errors.fetch_add(1);
    preauth_warn("handshake with {} failed: {}; closed", p.conn->peer(), p.reader.error());
    return;
  }
  answer(std::move(p.conn), p.reader.envelope(), p.source);
}

int Supervisor::expire_pending(std::chrono::steady_clock::time_point now) {
  auto next = std::chrono::milliseconds(60000);
  for (auto& p : pending_) {
    if (p->finished) continue;
    if (now >= p->deadline) {
      preauth_stats_->timeouts.fetch_add(1);
      preauth_warn("handshake with {} failed: no complete Hello within handshake_timeout_ms={}; closed",
                   p->conn->peer(), config_.handshake_timeout_ms);
      p->finished = true;
      continue;
    }
    next = std::min(next, std::chrono::ceil<std::chrono::milliseconds>(p->deadline - now));
  }
  std::erase_if(pending_, [this](const std::unique_ptr<Pending>& p) {
    if (!p->finished) return false;
    if (!p->released) gate_.release(p->source);
    return true;
  });
  return static_cast<int>(next.count());
}

void Supervisor::reap(bool block) {
  for (;;) {
    if (sessions_.empty() && (!pool_ || pool_->size() == 0) && metrics_pid_ < 0 &&
        registrar_pid_ < 0 && block) {
      return;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return;
    if (pid == metrics_pid_) {
      if (stop_ == 0) {
        logger().error("the metrics process {} ended ({} {}); restarting it in {} s", pid,
                       WIFSIGNALED(status) ? "signal" : "exit code",
                       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), kMetricsRestartDelay.count());
        metrics_restart_at_ = std::chrono::steady_clock::now() + kMetricsRestartDelay;
      }
      metrics_pid_ = -1;
      continue;
    }
    if (pid == registrar_pid_) {
      if (stop_ == 0) {
        logger().error("the registrar process {} ended ({} {}); this server is no longer kept in "
                       "pool {}", pid, WIFSIGNALED(status) ? "signal" : "exit code",
                       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), config_.registry);
      }
      registrar_pid_ = -1;
      continue;
    }
    if (sched_) sched_->forget(pid);  // a turn or wait it left behind must not wedge a device
    if (pool_ && pool_->on_exit(pid, status)) continue;
    auto it = std::find_if(sessions_.begin(), sessions_.end(),
                           [&](const Session& s) { return s.pid == pid; });
    if (it == sessions_.end()) continue;
    if (WIFSIGNALED(status)) {
      logger().warn("session {} (tenant {}): worker {} was killed by signal {}; its resources are released",
                    it->id, it->tenant, pid, WTERMSIG(status));
    } else {
      logger().info("session {} (tenant {}) ended, worker exit code {}", it->id, it->tenant,
                    WEXITSTATUS(status));
    }
    table_.release(it->slot);
    if (it->watch_fd >= 0) {
      if (it->abort_client && !it->client_gone) {
        // The worker is gone, so nothing else writes to the socket: tell the client why.
        std::unique_ptr<transport::Connection> conn;
        if (transport::adopt("tcp", it->watch_fd, transport::Options::from_env(), conn).ok()) {
          flatbuffers::FlatBufferBuilder fbb;
          auto a = wire::CreateAbort(fbb, wire::AbortReason_WorkerFailed,
                                     fbb.CreateString("the server ended this session: " + it->end_reason));
          protocol::finish_envelope(fbb, a);
          (void)conn->send(protocol::finished_bytes(fbb), {}, std::chrono::milliseconds(200));
        }
      } else {
        ::close(it->watch_fd);
      }
    }
    if (!it->end_reason.empty()) {
      ended_.push_back({it->id, it->tenant, it->pid, it->end_reason, std::chrono::steady_clock::now()});
      if (ended_.size() > kEndedKept) ended_.pop_front();
    }
    sessions_.erase(it);
  }
}

void Supervisor::serve(std::unique_ptr<transport::Connection> conn) {
  const auto timeout = std::chrono::milliseconds(config_.handshake_timeout_ms);
  transport::FrameHead head;
  if (transport::Status s = conn->recv_head(head, timeout); !s.ok()) {
    preauth_stats_->errors.fetch_add(1);
    preauth_warn("handshake with {} failed: {}", conn->peer(), s.text);
    return;
  }
  const std::string source = source_address(conn->peer());
  answer(std::move(conn), head.envelope, source);
}

void Supervisor::answer(std::unique_ptr<transport::Connection> conn, const wire::Envelope* env,
                        const std::string& source) {
  const auto timeout = std::chrono::milliseconds(config_.handshake_timeout_ms);
  const wire::Hello* hello = env->message_as_Hello();
  if (hello == nullptr) {
    flatbuffers::FlatBufferBuilder fbb;
    auto a = wire::CreateAbort(fbb, wire::AbortReason_ProtocolViolation,
                               fbb.CreateString("the first message must be Hello"));
    protocol::finish_envelope(fbb, a);
    (void)conn->send(protocol::finished_bytes(fbb), {}, timeout);
    preauth_stats_->errors.fetch_add(1);
    preauth_warn("{} sent {} before Hello; closed", conn->peer(),
                 protocol::message_type_name(env->message_type()));
    return;
  }
  if (hello->protocol_version() < 1) {
    send_refusal(*conn, wire::RefusalReason_VersionMismatch,
                 fmt::format("protocol version {} is not supported; this server speaks {}",
                             hello->protocol_version(), protocol::kProtocolVersion));
    return;
  }
  const std::string_view token = hello->token() ? hello->token()->string_view() : "";
  const std::string cert = conn->peer_certificate_sha256();
  std::string why;
  const Tenant* tenant = authenticate(config_.tenants, token, cert, why);
  const std::string program = hello->client() && hello->client()->program()
                                  ? hello->client()->program()->str() : "?";
  if (tenant == nullptr) {
    gate_.auth_failed(source, std::chrono::steady_clock::now());
    preauth_stats_->auth_failures.fetch_add(1);
    preauth_warn("refused {} ({}): {}{}", conn->peer(), program, why,
                 cert.empty() ? std::string() : " (client certificate sha256 " + cert + ")");
    send_refusal(*conn, wire::RefusalReason_BadCredential,
                 why == "unknown token" ? std::string("the token is not known to this server; check GPOOL_TOKEN")
                                        : "credentials refused: " + why);
    return;
  }
  int slot = -1;
  const bool status_only = hello->status_only();  // `gpool status`: no session, no slot
  if (!tenant->admin && !status_only) {
    slot = table_.acquire();
    if (slot < 0) {
      send_refusal(*conn, wire::RefusalReason_ServerBusy,
                   fmt::format("the server already runs {} sessions; retry later", sessions_.size()));
      return;
    }
    if (!admit_session(tenants_, tenants_.find(tenant->name), table_.slot(slot))) {
      table_.release(slot);
      logger().info("refused {} ({}): tenant {} already has max_sessions sessions open",
                    conn->peer(), program, tenant->name);
      send_refusal(*conn, wire::RefusalReason_TenantLimit,
                   fmt::format("tenant {} already has its maximum of {} sessions open "
                               "(max_sessions); end one or retry later", tenant->name,
                               tenant->max_sessions));
      return;
    }
  }
  const uint64_t session_id = next_session_++;
  {
    flatbuffers::FlatBufferBuilder fbb;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    auto info = wire::CreateServerInfo(fbb, fbb.CreateString(host), fbb.CreateString("0.1.0"),
                                       fbb.CreateString(config_.backend == "emulator" ? "emulator" : "nvidia"));
    auto w = wire::CreateWelcome(fbb, protocol::kProtocolVersion, session_id, info);
    protocol::finish_envelope(fbb, w);
    if (!conn->send(protocol::finished_bytes(fbb), {}, timeout).ok()) {
      if (slot >= 0) table_.release(slot);
      return;
    }
  }
  if (tenant->admin || status_only) {
    serve_admin(*conn, tenant->admin ? nullptr : tenant);
    return;
  }
  logger().info("session {}: tenant {} from {} ({}, pid {})", session_id, tenant->name,
                conn->peer(), program, hello->client() ? hello->client()->pid() : 0);
  start_worker(std::move(conn), *tenant, session_id, slot, hello->client() ? hello->client()->pid() : 0, program);
}

void Supervisor::start_worker(std::unique_ptr<transport::Connection> conn, const Tenant& tenant,
                              uint64_t session_id, int slot, uint32_t client_pid, const std::string& program) {
  const std::string peer = conn->peer();
  const int tenant_index = tenants_.find(tenant.name);
  if (pool_ && pool_->size() > 0 && peer.rfind("tcp://", 0) == 0 && conn->handoff_fd() >= 0) {
    Handoff h;
    h.session_id = session_id;
    h.tenant_index = tenant_index;
    h.slot = slot;
    h.tenant = tenant.name;
    h.peer = peer;
    h.devices = tenant.devices;
    const pid_t pid = pool_->hand_off(conn->handoff_fd(), h);
    if (pid > 0) {
      // The worker has its own copy of the socket; ours closes with `conn`, the watch copy stays.
      sessions_.push_back({session_id, pid, slot, tenant.name, peer, std::chrono::steady_clock::now(), true,
                           client_pid, program});
      sessions_.back().watch_fd = ::fcntl(conn->handoff_fd(), F_DUPFD_CLOEXEC, 3);
      return;
    }
  }
  pool_stats_->cold_sessions.fetch_add(1);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    logger().error("fork of the worker for session {} failed: {}", session_id, std::strerror(errno));
    table_.release(slot);
    return;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self_) ::_exit(1);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    close_in_child();
    WorkerParams params;
    params.backend_path = backend_path_;
    params.image_cache_dir = config_.image_cache_dir;
    params.image_cache_max_bytes = config_.image_cache_max_bytes;
    params.public_images = public_images_;
    params.session_id = session_id;
    params.tenant = tenant.name;
    params.tenant_index = tenant_index;
    params.tenants = &tenants_;
    params.scheduler = sched_.get();
    Attachment attached;
    attach_backend(backend_path_, attached);
    if (attached.ok) {
      pool_stats_->device_count.store(static_cast<uint32_t>(attached.contexts.size()));
      publish_devices(pool_stats_->catalog, attached);
    }
    const int rc = run_worker(std::move(conn), params, table_.slot(slot), &attached);
    std::fflush(nullptr);
    ::_exit(rc);
  }
  sessions_.push_back({session_id, pid, slot, tenant.name, peer, std::chrono::steady_clock::now(), false,
                       client_pid, program});
  // The client's hang-up shows on its socket: the data path of tcp://, and for ucx:// the TCP
  // bootstrap socket, which carries nothing after the switch to UCX but stays open, on both
  // sides, for the life of the connection (transport/src/ucx_connection.h). Here, right after
  // the Welcome, a ucx:// connection is still on it, so handoff_fd() gives it.
  if ((peer.rfind("tcp://", 0) == 0 || peer.rfind("ucx://", 0) == 0) && conn->handoff_fd() >= 0) {
    sessions_.back().watch_fd = ::fcntl(conn->handoff_fd(), F_DUPFD_CLOEXEC, 3);
  }
}

void Supervisor::end_session(Session& s, std::string reason, bool tell_client) {
  logger().warn("session {} (tenant {}): ending worker {}: {}", s.id, s.tenant, s.pid, reason);
  // Also ends a stopped process; its driver context (and with it its kernels) goes with it.
  // The slot, the device turn and the tenant's bytes are returned when it is reaped (soon:
  // run() polls every 20 ms while a killed worker is not reaped).
  ::kill(s.pid, SIGKILL);
  s.killed = true;
  s.end_reason = std::move(reason);
  s.abort_client = tell_client && s.peer.rfind("tcp://", 0) == 0;
}

bool Supervisor::watch_sessions() {
  const auto now = std::chrono::steady_clock::now();
  const uint64_t now_ns = steady_ns();
  bool killed_pending = false;
  for (Session& s : sessions_) {
    if (s.killed) {
      killed_pending = true;
      continue;
    }
    if (s.client_gone && now - *s.client_gone >= kClientGoneGrace) {
      end_session(s, "its client disconnected while the worker was still busy", false);
      killed_pending = true;
      continue;
    }
    const SessionSlot& slot = table_.slot(s.slot);
    unsigned max_kernel_ms = 0;
    for (const Tenant& t : config_.tenants) {
      if (t.name == s.tenant) max_kernel_ms = t.max_kernel_ms;
    }
    const WatchVerdict v = judge(slot, now_ns, config_.watchdog_ms, max_kernel_ms);
    if (v.state == WatchVerdict::State::late && s.watch.state != WatchVerdict::State::late) {
      logger().warn("session {} (tenant {}): worker {} has not answered for {:.1f} s (stuck)", s.id,
                    s.tenant, s.pid, v.heartbeat_age_s);
    }
    s.watch = v;
    const uint32_t phase = slot.phase.load();
    const bool at_frame_boundary = phase == kPhaseIdle || phase == kPhaseDevice;
    if (v.state == WatchVerdict::State::end_stalled) {
      end_session(s, fmt::format("its worker stopped answering (no heartbeat for {:.1f} s, watchdog_ms={})",
                                 v.heartbeat_age_s, config_.watchdog_ms), at_frame_boundary);
      killed_pending = true;
    } else if (v.state == WatchVerdict::State::end_kernel_time) {
      end_session(s, fmt::format("device work ran for {:.1f} s, over the tenant's max_kernel_ms={}",
                                 v.kernel_s, max_kernel_ms), at_frame_boundary);
      killed_pending = true;
    }
  }
  return killed_pending;
}

void Supervisor::spawn_indexer() {
  if (public_images_ == nullptr) return;
  public_images_->begin();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    logger().warn("fork of the public image indexer failed: {}; every image travels per tenant",
                  std::strerror(errno));
    public_images_->fail();
    return;
  }
  if (pid > 0) return;  // reaped by reap() like any child
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != self_) ::_exit(1);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  close_in_child();
  if (::nice(10) == -1 && errno != 0) {
    logger().debug("public image indexer: nice failed: {}", std::strerror(errno));
  }
  const uint32_t n = public_images_->build(public_image_files_);
  logger().info("public images: indexed {} image(s), {} bytes, in {} file(s) in {:.2f} s", n,
                public_images_->bytes(), public_images_->files(), public_images_->seconds());
  std::fflush(nullptr);
  ::_exit(0);
}

void Supervisor::spawn_catalog() {
  if (pool_stats_->catalog.state.load(std::memory_order_acquire) != 0) return;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    logger().warn("fork of the device catalog process failed: {}; devices are described once the "
                  "first session attaches", std::strerror(errno));
    return;
  }
  if (pid > 0) return;  // reaped by reap() like any child
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != self_) ::_exit(1);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  close_in_child();
  Attachment attached;
  attach_backend(backend_path_, attached);
  if (attached.ok) {
    pool_stats_->device_count.store(static_cast<uint32_t>(attached.contexts.size()));
    publish_devices(pool_stats_->catalog, attached);
  } else {
    logger().warn("device catalog: {}", attached.error);
  }
  std::fflush(nullptr);
  ::_exit(0);
}

void Supervisor::serve_admin(transport::Connection& conn, const Tenant* own) {
  const auto timeout = std::chrono::milliseconds(config_.handshake_timeout_ms);
  transport::FrameHead head;
  if (!conn.recv_head(head, timeout).ok()) return;
  const wire::Call* call = head.envelope->message_as_Call();
  flatbuffers::FlatBufferBuilder fbb;
  const auto op = call != nullptr ? static_cast<remote::Op>(call->opcode()) : remote::Op::Invalid;
  if (op != remote::Op::ServerStatus && op != remote::Op::ServerReload) {
    auto a = wire::CreateAbort(fbb, wire::AbortReason_ProtocolViolation,
                               fbb.CreateString("an admin session may only ask for ServerStatus or ServerReload"));
    protocol::finish_envelope(fbb, a);
    (void)conn.send(protocol::finished_bytes(fbb), {}, timeout);
    return;
  }
  if (own != nullptr && op != remote::Op::ServerStatus) {
    auto a = wire::CreateAbort(fbb, wire::AbortReason_ProtocolViolation,
                               fbb.CreateString(fmt::format("tenant {} is not an admin tenant: it may ask "
                                                            "for its own status, not a reload", own->name)));
    protocol::finish_envelope(fbb, a);
    (void)conn.send(protocol::finished_bytes(fbb), {}, timeout);
    return;
  }
  int32_t status = 0;
  std::string text;
  if (op == remote::Op::ServerStatus) {
    reap(false);
    text = status_json(own != nullptr ? std::string_view(own->name) : std::string_view());
  } else if (!reload(text)) {
    logger().error("config reload asked by an admin session failed, nothing changed: {}", text);
    status = 1;
  }
  remote::build_reply(fbb, call->call_id(), status, call->seq(), 0, 0, {}, remote::as_bytes(text), 0);
  (void)conn.send(protocol::finished_bytes(fbb), {}, timeout);
}

std::string Supervisor::status_json(std::string_view only_tenant) {
  std::string out = "{\"backend\":" + json_string(backend_path_);
  if (!only_tenant.empty()) out += ",\"tenant\":" + json_string(only_tenant);
  // The devices the viewer may use (a tenant: its `devices` list, numbered as its sessions see
  // them; an admin: all), described from the catalog (device_catalog.h).
  std::vector<int> allowed;
  int tenant_index = kAdminView;
  if (!only_tenant.empty()) {
    for (const Tenant& t : config_.tenants) {
      if (t.name == only_tenant) allowed = t.devices;
    }
    tenant_index = tenants_.find(only_tenant);
    if (tenant_index < 0) tenant_index = kAdminView - 1;  // not accounted: no figures, nobody else's
  }
  const DeviceCatalog& catalog = pool_stats_->catalog;
  const std::vector<int> shown = visible_physical(catalog, allowed);
  if (catalog.state.load(std::memory_order_acquire) == 2) {
    out += fmt::format(",\"driver_version\":{},\"server_version\":\"0.1.0\"", catalog.driver_version);
  }
  out += ",\"devices\":" + devices_json(catalog, allowed, tenants_, tenant_index, util_);
  out += ",\"sessions\":[";
  uint64_t total = 0;
  const auto now = std::chrono::steady_clock::now();
  bool first = true;
  for (size_t i = 0; i < sessions_.size(); ++i) {
    const Session& s = sessions_[i];
    if (!only_tenant.empty() && s.tenant != only_tenant) continue;
    const SessionSlot& slot = table_.slot(s.slot);
    total += slot.bytes_held.load();
    std::string per_device;
    for (size_t d = 0; d < shown.size(); ++d) {
      per_device += fmt::format("{}{}", d ? "," : "", slot.dev_bytes[shown[d]].load());
    }
    out += fmt::format(
        "{}{{\"id\":{},\"tenant\":{},\"peer\":{},\"pid\":{},\"client_pid\":{},\"program\":{},"
        "\"bytes_held\":{},\"device_bytes\":[{}],"
        "\"allocations\":{},\"calls\":{},\"round_trips\":{},\"bytes_in\":{},\"bytes_out\":{},"
        "\"errors\":{},\"warm\":{},\"age_s\":{:.1f},\"state\":{},\"heartbeat_age_s\":{:.1f},"
        "\"kernel_s\":{:.1f}}}",
        first ? "" : ",", s.id, json_string(s.tenant), json_string(s.peer), s.pid, s.client_pid,
        json_string(s.program), slot.bytes_held.load(), per_device,
        slot.allocations.load(), slot.calls.load(), slot.replies.load(),
        slot.bytes_in.load(), slot.bytes_out.load(), slot.errors.load(), s.warm ? "true" : "false",
        std::chrono::duration<double>(now - s.started).count(),
        json_string(s.killed ? "ending" : s.client_gone ? "client_gone" : state_name(s.watch.state)),
        s.watch.heartbeat_age_s, s.watch.kernel_s);
    first = false;
  }
  out += "],\"ended\":[";
  first = true;
  for (const Ended& e : ended_) {
    if (!only_tenant.empty() && e.tenant != only_tenant) continue;
    out += fmt::format("{}{{\"id\":{},\"tenant\":{},\"pid\":{},\"reason\":{},\"ago_s\":{:.1f}}}",
                       first ? "" : ",", e.id, json_string(e.tenant), e.pid, json_string(e.reason),
                       std::chrono::duration<double>(now - e.when).count());
    first = false;
  }
  out += fmt::format("],\"bytes_held\":{},\"tenants\":{},\"pool\":{}", total,
                     tenants_json(tenants_, pool_stats_->device_count.load(), only_tenant), pool_json(*pool_stats_));
  if (!metrics_url_.empty()) out += ",\"metrics\":" + json_string(metrics_url_);
  if (only_tenant.empty()) {  // the operator's view: which libraries are public is theirs to see
    const PublicImageIndex* p = public_images_;
    const auto state = p != nullptr ? p->state() : PublicImageIndex::kOff;
    out += fmt::format(",\"public_images\":{{\"state\":\"{}\",\"files\":{},\"images\":{},\"bytes\":{}}}",
                       public_index_state_name(state), state == PublicImageIndex::kReady ? p->files() : 0,
                       state == PublicImageIndex::kReady ? p->images() : 0,
                       state == PublicImageIndex::kReady ? p->bytes() : 0);
  }
  out += "}";
  return out;
}

}  // namespace gpool::server
