// ucx:// internals: the process-wide UCP context and one UCP worker per connection, with a
// wait loop that spins briefly and then sleeps (internal).
//
// Context: created on first use in each process (UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP). UCX is
// not fork-safe, so a context inherited from a parent process (the pid differs) is abandoned,
// never used or destroyed, and the child creates its own. The UCX transport selection (shared
// memory, RDMA, TCP) is UCX's own, steered by the UCX_* variables (docs/operations.md).
//
// Worker: UCS_THREAD_MODE_SERIALIZED; every UCP call on it or on its endpoints happens with
// mu() held. wait() progresses the worker until a predicate holds: it busy-polls for
// GPOOL_UCX_SPIN_US microseconds (default 20), then arms the worker (ucp_worker_arm) and sleeps
// in poll() on the worker's event fd, the connection's bootstrap socket and an eventfd that
// wake() writes. A thread whose progress may have completed another thread's request wakes the
// sleepers, so a sender and a receiver can wait on one worker at once. A background thread
// (asleep on the armed worker while nothing arrives) also progresses it, so a peer's sends
// complete while this side's threads are busy elsewhere, as TCP's socket buffers allow.
//
// Ownership: Worker owns its ucp_worker and eventfd; endpoints belong to the connection.
// Thread safety: wait()/wake() from any thread; the rest with mu() held.
#pragma once

#include <ucp/api/ucp.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "deadline.h"
#include "gpool/transport/status.h"

namespace gpool::transport::ucx {

// The UCP context of this process. Errors: kUnavailable (ucp_init failed; text says why).
Status context(ucp_context_h& out);

// "ucs_status_string (code)" for messages.
std::string status_text(ucs_status_t status);

class Worker {
 public:
  // Errors: kUnavailable (no context), kIo (worker or eventfd creation failed).
  static Status create(std::unique_ptr<Worker>& out);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ucp_worker_h get() const { return worker_; }
  std::mutex& mu() { return mu_; }

  // This worker's address, for the peer's ucp_ep_create. REQUIRES: mu() held.
  Status address(std::vector<std::byte>& out);

  // Progresses until done() is true. done() and check() run with mu() held; check() returning a
  // non-ok Status ends the wait with it. `watch_fd` (may be -1) is polled for hangup/readability
  // while sleeping; when it fires, *watch_fired is set and the fd is no longer polled.
  // Returns ok, check()'s error, or kTimeout when `deadline` passes.
  Status wait(const std::function<bool()>& done, const std::function<Status()>& check,
              const Deadline& deadline, int watch_fd, std::atomic<bool>* watch_fired);

  // Wakes every thread sleeping in wait() (they re-run check()). Any thread.
  void wake();

 private:
  Worker() = default;
  void background();  // the background progress thread

  ucp_worker_h worker_ = nullptr;
  int efd_ = -1;   // the worker's event fd (owned by UCX)
  int wake_fd_ = -1;
  std::mutex mu_;
  int sleepers_ = 0;  // GUARDED_BY(mu_)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace gpool::transport::ucx
