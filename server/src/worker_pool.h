// The warm pool: worker processes started before any session, so that attaching a client takes
// milliseconds instead of a backend start (ARCHITECTURE.md decision 7; serverless clients).
//
// The supervisor keeps `target` (Config::warm_workers, GPOOL_WARM_WORKERS) pool workers alive.
// Each is forked with one end of a unix SOCK_SEQPACKET socketpair, does the expensive part of a
// worker's start before any session is known (attach_backend(): dlopen of the backend, cuInit,
// the primary context of every device retained), writes one byte "R" (ready), and waits. For
// an authenticated tcp:// session the supervisor sends the connection's socket and the session
// parameters (handoff.h) to the oldest live pool worker (ready ones first), which adopts the
// socket (transport::adopt) and serves the session exactly as a cold worker would; the pool is
// then refilled by the supervisor's loop. An empty pool, a non-tcp connection, or a failed
// hand-off falls back to a cold fork.
//
// A pool worker that exits before it was given a session (its backend failed to attach, it was
// killed) is logged and replaced after a backoff of kRefillBackoff, so a broken backend does not
// turn into a fork loop.
//
// Ownership: the supervisor owns the pool; the pool owns its end of each socketpair.
// Thread safety: supervisor thread only (the supervisor is single-threaded so forking is safe).
// PoolStats lives in shared memory and is read by the metrics process.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "device_catalog.h"
#include "handoff.h"
#include "session_table.h"
#include "tenant_table.h"
#include "worker.h"

namespace gpool::server {

// Pool and server figures shared with the metrics process (MAP_SHARED | MAP_ANONYMOUS).
struct PoolStats {
  std::atomic<uint32_t> target{0};           // warm workers wanted
  std::atomic<uint32_t> alive{0};            // pool workers not yet given a session
  std::atomic<uint32_t> ready{0};            // of those, attached and waiting
  std::atomic<uint64_t> warm_sessions{0};    // sessions handed to a pool worker
  std::atomic<uint64_t> cold_sessions{0};    // sessions served by a freshly forked worker
  std::atomic<uint64_t> pool_failures{0};    // pool workers that died unused
  std::atomic<uint32_t> device_count{0};     // devices the backend reports (0 = not known yet)
  DeviceCatalog catalog;                      // their descriptions, for status-only clients

  // A zeroed shared mapping; throws std::bad_alloc when it cannot be made. Never unmapped.
  static PoolStats* create_shared();
};

// What a pool worker needs to serve the session it is handed (all inherited across fork).
class PublicImageIndex;

struct WarmContext {
  std::string backend_path;
  std::string image_cache_dir;
  uint64_t image_cache_max_bytes = uint64_t{4} << 30;
  SessionTable* sessions = nullptr;
  TenantTable* tenants = nullptr;
  PoolStats* stats = nullptr;
  Scheduler* scheduler = nullptr;  // compute shares and device masks (scheduler.h)
  const PublicImageIndex* public_images = nullptr;  // shared index (public_images.h), or none
};

// The member side of the pool protocol, after the member attached: write the ready byte on
// `sock`, then wait for one hand-off (recv_handoff). The supervisor may hand a session to a
// member that is still attaching and close its end at once (hand_off() prefers ready members
// but takes any live one rather than fork a cold worker); the ready byte then fails with EPIPE,
// but the hand-off is already queued and is still read. Returns 0 with `fd`/`h` filled,
// -ECONNRESET when the supervisor closed the socket without a session, another -errno else.
int member_await_session(int sock, int& fd, Handoff& h);

// The body of a pool worker: attach, say ready on `sock`, wait for one session, serve it.
// Returns the process exit code (0 also when the supervisor closed the socket unused).
int run_warm_worker(int sock, const WarmContext& ctx);

class WorkerPool {
 public:
  static constexpr std::chrono::seconds kRefillBackoff{5};

  WorkerPool(unsigned target, PoolStats* stats);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Forks pool workers until `target` are alive (unless within the backoff after a failure).
  // In each child: `child_setup()` (close what the child must not keep), then `child_main(sock)`,
  // then _exit with its result. Logs a failed fork and stops filling until the next call.
  void fill(const std::function<void()>& child_setup, const std::function<int(int)>& child_main);

  // Reads the ready bytes that arrived (non-blocking).
  void poll_ready();

  // Hands the session to a pool worker. Returns its pid, or -1 (the pool is empty or every
  // try failed: the caller forks a cold worker). A pool worker that cannot take the message
  // is killed and dropped. `fd` stays the caller's.
  pid_t hand_off(int fd, const Handoff& h);

  // To be called for every reaped child: true if `pid` was an unused pool worker (then it is
  // dropped and the backoff starts).
  bool on_exit(pid_t pid, int wait_status);

  // Sends SIGTERM to every unused pool worker (the supervisor reaps them).
  void terminate();

  // The supervisor-side socket fds, for children that must close them.
  std::vector<int> fds() const;
  size_t size() const { return workers_.size(); }

 private:
  struct Member {
    pid_t pid;
    int sock;
    bool ready;
  };
  void drop(size_t i);
  void publish();

  unsigned target_;
  PoolStats* stats_;
  std::vector<Member> workers_;  // oldest first
  std::chrono::steady_clock::time_point backoff_until_{};
  bool stopping_ = false;  // after terminate(): exits are expected, no refill
};

}  // namespace gpool::server
