// The gpool-server supervisor: listens, authenticates, and hands each session to a worker
// process of its own (worker.h).
//
// Every accepted connection is a pending handshake until its Hello has arrived: the supervisor
// polls the listeners and all pending connections together and reads each Hello a piece at a
// time as its bytes come (hello_reader.h), so an idle, slow or garbage-sending peer never
// blocks anyone else. Pending handshakes are limited per source address and in total (over a
// limit the oldest is closed to admit the new one), end at the pre-auth deadline
// (handshake_timeout_ms), and unknown tokens are rate-limited per source
// (preauth.h; counters in /metrics). A complete Hello gets its protocol version and tenant
// token (auth.h) checked and is answered Refusal or Welcome. A session tenant's connection is then given to a forked worker process
// (the child owns the connection; the parent closes its copy), which dies with the supervisor
// (PR_SET_PDEATHSIG). An admin tenant's connection stays in the supervisor for one ServerStatus
// call (the status endpoint): the reply is JSON listing every session, its tenant, peer, pid,
// device memory held and calls served, read from the shared SessionTable.
//
// The supervisor is single-threaded (so forking is safe): poll listeners and pending
// handshakes, accept, advance handshakes, expire overdue ones, reap exited workers, refill the
// warm pool, repeat until stop() (async-signal-safe) is called. A connection without a pollable
// socket (Connection::handoff_fd() -1) but with a descriptor to poll (tls://: Connection::
// poll_fd()) is polled the same way, its TLS handshake and Hello read by the connection itself
// without waiting (recv_head with a negative timeout); one without either is handshaken the
// blocking way, within the same deadline. A tls:// Hello is authenticated by its token and by
// the client certificate the connection verified (auth.h); a tls:// session is always served
// by a forked (cold) worker, which inherits the connection's TLS state, since TLS state cannot
// be handed to a warm worker. SIGHUP also reloads the tls:// listeners' certificates.
//
// Warm pool (worker_pool.h): with warm_workers > 0 (GPOOL_WARM_WORKERS overrides the config)
// the supervisor keeps that many pre-attached workers and hands each tcp:// session's socket to
// one of them; otherwise, or when none is left, it forks a worker for the session (cold).
// Metrics (metrics.h): with metrics_listen set (GPOOL_METRICS_LISTEN overrides) a forked child
// process serves Prometheus text on http://HOST:PORT/metrics from the shared tables, so the
// supervisor itself never runs a thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config.h"
#include "hello_reader.h"
#include "preauth.h"
#include "gpool/transport/transport.h"
#include "session_table.h"
#include "scheduler.h"
#include "tenant_table.h"
#include "worker_pool.h"
#include "worker_watch.h"

namespace gpool::server {

class Supervisor {
 public:
  explicit Supervisor(Config config);
  ~Supervisor();

  // Binds every listen URL. Returns false with `error` when one cannot be bound.
  bool start(std::string& error);
  // The bound URLs (real ports), after start().
  std::vector<std::string> urls() const;
  // Serves until stop(); then terminates the workers and waits for them. Returns 0.
  int run();
  // Async-signal-safe: makes run() return soon.
  static void stop();

 private:
  struct Session {
    uint64_t id;
    pid_t pid;
    int slot;
    std::string tenant;
    std::string peer;
    std::chrono::steady_clock::time_point started;
    bool warm = false;
    uint32_t client_pid = 0;  // the client's own pid and program name, as its Hello says
    std::string program;
    // Watching (worker_watch.h): the supervisor's own copy of the client's socket, polled for
    // the peer's hang-up only (POLLRDHUP: never reads), -1 when the transport has none.
    int watch_fd = -1;
    std::optional<std::chrono::steady_clock::time_point> client_gone;  // hang-up seen
    bool killed = false;        // SIGKILL sent by the supervisor
    std::string end_reason;     // why the supervisor ended it (status "ended", the log)
    bool abort_client = false;  // send the client an Abort with end_reason once the worker is gone
    WatchVerdict watch;         // last judgement, for the status
  };
  // A session the supervisor ended (client gone, stuck, over max_kernel_ms), for the status.
  struct Ended {
    uint64_t id;
    std::string tenant;
    pid_t pid;
    std::string reason;
    std::chrono::steady_clock::time_point when;
  };

  struct Pending {
    std::unique_ptr<transport::Connection> conn;
    int fd = -1;
    std::string source;
    std::chrono::steady_clock::time_point deadline;
    HelloReader reader;
    bool framed = false;  // tls://: the connection itself reads the Hello (no raw socket bytes)
    bool finished = false;
    bool released = false;  // its place in gate_ was already given back (evicted)
  };

  // A new connection: admitted as a pending handshake, or closed over a limit (preauth.h).
  void on_accept(std::unique_ptr<transport::Connection> conn);
  // Reads what `p` has sent; answers it once its Hello is complete; marks it finished when done.
  void advance(Pending& p);
  // Ends pending handshakes past their deadline; returns the milliseconds to the next deadline.
  int expire_pending(std::chrono::steady_clock::time_point now);
  // The blocking handshake, for a connection that cannot be polled.
  void serve(std::unique_ptr<transport::Connection> conn);
  // Answers a complete first message (Hello or not): Refusal, Abort, or Welcome and the session.
  void answer(std::unique_ptr<transport::Connection> conn, const protocol::wire::Envelope* env,
              const std::string& source);
  // A rate-limited warning about a pre-auth event (preauth.h).
  template <typename... Args>
  void preauth_warn(fmt::format_string<Args...> format, Args&&... args);
  // An admin tenant's session, or any tenant's status_only Hello: one ServerStatus or
  // ServerReload call, answered here. `own` null: an admin (everything, reload allowed); else the
  // tenant whose own status alone is shown (reload refused).
  void serve_admin(transport::Connection& conn, const Tenant* own);
  void start_worker(std::unique_ptr<transport::Connection> conn, const Tenant& tenant,
                    uint64_t session_id, int slot, uint32_t client_pid, const std::string& program);
  void reap(bool block);
  // Ends the workers of sessions whose client hung up (after kClientGoneGrace, in which a worker
  // that saw the end itself exits), whose heartbeat stopped for watchdog_ms, or whose wait for
  // device work passed the tenant's max_kernel_ms. True while a killed worker is not reaped yet.
  bool watch_sessions();
  void end_session(Session& s, std::string reason, bool tell_client);
  static constexpr std::chrono::milliseconds kClientGoneGrace{250};
  std::string status_json(std::string_view only_tenant = {});  // only_tenant: a tenant's own view
  void close_in_child();  // what a forked child must not keep (listeners, pool sockets)
  bool start_metrics(std::string& error);
  // The registrar process (registrar.h) when config_.registry is set; false with `error` for a
  // bad registry URL or a failed fork.
  bool start_registrar(std::string& error);
  // The metrics process on `listen` (host:port); -1 with `error`. `bound` is the address taken.
  pid_t spawn_metrics(const std::string& listen, std::string& bound, std::string& error);
  // Transport options of the listeners: the environment's, with the config's tls_* settings.
  transport::Options listen_options() const;
  // Re-reads the config's tenants and republishes what derives from them (the scheduler's
  // shares), for SIGHUP and for an admin's ServerReload alike. False with the reason, nothing
  // changed; true with a one-line summary.
  bool reload(std::string& outcome);
  // A metrics process that died while the server runs is started again on the address it had,
  // after kMetricsRestartDelay (and again after each failed try), so a scraper's URL stays.
  void restart_metrics_if_due();
  // Forks a one-off child that attaches the backend, publishes the device catalog
  // (device_catalog.h) and exits, so status-only clients see the devices before any session.
  void spawn_catalog();
  // Forks a one-off child that builds the public image index (public_images.h) and exits; at a
  // lower CPU priority, so sessions are not slowed by the hashing.
  void spawn_indexer();

  std::unique_ptr<WorkerPool> pool_;
  PoolStats* pool_stats_ = nullptr;  // shared mapping, never unmapped
  PublicImageIndex* public_images_ = nullptr;  // shared mapping, never unmapped; null: none
  std::vector<std::string> public_image_files_;  // what public_images names, listed at start
  pid_t metrics_pid_ = -1;
  pid_t registrar_pid_ = -1;  // -1: none (no registry, or it ended)
  std::string metrics_url_;
  std::string metrics_bound_;  // host:port the metrics process serves (restarts reuse it)
  std::optional<std::chrono::steady_clock::time_point> metrics_restart_at_;
  static constexpr std::chrono::seconds kMetricsRestartDelay{1};

  Config config_;
  std::string backend_path_;
  std::vector<std::unique_ptr<transport::Listener>> listeners_;
  SessionTable table_;
  TenantTable tenants_;  // shared with workers and the metrics process
  std::unique_ptr<Scheduler> sched_;  // compute shares and device masks (scheduler.h)
  UtilisationSampler util_;           // per-device busy share from the metered device time
  std::vector<Session> sessions_;
  std::deque<Ended> ended_;  // the last kEndedKept sessions the supervisor ended
  static constexpr size_t kEndedKept = 16;
  std::vector<std::unique_ptr<Pending>> pending_;  // handshakes in progress
  PreauthGate gate_;
  PreauthStats* preauth_stats_ = nullptr;  // shared mapping (metrics), never unmapped
  LogLimiter preauth_log_{10};
  uint64_t next_session_ = 1;
  pid_t self_ = 0;
  static volatile std::sig_atomic_t stop_;
};

}  // namespace gpool::server
