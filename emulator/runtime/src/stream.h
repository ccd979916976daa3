// Streams: in-order work queues executed by one worker thread per stream,
// asynchronously from the threads that enqueue.
//
// Every operation (copy, memset, launch, host function, event record, wait)
// is a Task. A task may depend on positions in other streams (Dep); the
// worker waits for them before running it. Dependencies only ever name work
// that was submitted earlier, so waits cannot form a cycle.
//
// Legacy default-stream semantics are built from Deps at enqueue time (see
// submit()): work on the legacy stream waits for all earlier work on the
// context's blocking streams, and work on a blocking stream waits for all
// earlier work on the legacy stream. CU_STREAM_NON_BLOCKING streams take no
// part. A per-thread default stream is a regular blocking stream.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include "runtime.h"

#include "gpool/driver_abi/backend.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace gpool::emu::rt {

struct Context;
class Stream;
struct Capture;
struct GraphNode;

// "Work of `stream` up to and including position `seq`".
struct Dep {
  std::shared_ptr<Stream> stream;
  uint64_t seq = 0;
};

using Task = std::function<void()>;

class Stream final : public Object, public std::enable_shared_from_this<Stream> {
 public:
  static constexpr Kind kKind = Kind::Stream;
  enum class Role { Legacy, PerThread, User };

  Stream(Context* ctx, Role role, unsigned flags, int priority);
  ~Stream() override;  // REQUIRES: drained (shutdown() called)

  // Appends `task` after `deps`; returns its position (1, 2, ...).
  uint64_t enqueue(Task task, std::vector<Dep> deps);
  // Blocks until the work up to `seq` has run.
  void wait(uint64_t seq);
  bool done(uint64_t seq);
  void wait_idle();
  bool idle();
  uint64_t last_submitted();
  // Drains and stops the worker. Idempotent.
  void shutdown();

  Context* const ctx;
  const Role role;
  const unsigned flags;
  const int priority;
  const uint64_t id;
  // Stream attributes stored by cuStreamSetAttribute (returned by Get).
  std::mutex attr_mu;
  std::vector<std::pair<int, CUstreamAttrValue>> attrs;  // guarded by attr_mu
  // Stream capture (capture.h), guarded by graph_mu().
  std::shared_ptr<Capture> cap;
  std::vector<GraphNode*> cap_deps;

 private:
  void run();
  struct Item {
    Task task;
    std::vector<Dep> deps;
  };
  std::mutex mu_;
  std::condition_variable cv_;       // work arrived / stop
  // Blocks until completed_ >= seq. REQUIRES: `lock` holds mu_.
  void wait_locked(std::unique_lock<std::mutex>& lock, uint64_t seq);
  static constexpr uint64_t kNobody = ~uint64_t{0};
  std::condition_variable done_cv_;  // completed_ reached wake_at_
  uint64_t wake_at_ = kNobody;       // smallest position a waiter waits for; guarded by mu_
  std::deque<Item> queue_;           // guarded by mu_
  uint64_t submitted_ = 0;           // guarded by mu_
  uint64_t completed_ = 0;           // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::thread worker_;               // started lazily at the first enqueue
};

// Resolves a CUstream handle for work on the current (or handle's) context.
// nullptr / CU_STREAM_LEGACY / CU_STREAM_PER_THREAD map to the legacy or the
// calling thread's per-thread stream of the current context. Checks the
// context's sticky error. Errors: INVALID_HANDLE for a dead handle,
// INVALID_CONTEXT when no context is current.
CUresult resolve_stream(CUstream h, std::shared_ptr<Stream>* out);

// Like resolve_stream but ignores the sticky error.
CUresult resolve_stream_nosticky(CUstream h, std::shared_ptr<Stream>* out);

// Enqueues `task` on `s` with the legacy-stream dependencies described above
// plus `extra`. Returns the task's position.
uint64_t submit(const std::shared_ptr<Stream>& s, Task task, std::vector<Dep> extra = {});

// Enqueues `task` and waits for it (synchronous driver calls). Returns the
// context's sticky error after the wait, else CUDA_SUCCESS.
CUresult submit_and_wait(const std::shared_ptr<Stream>& s, Task task);

// Removes `s` from its context and shuts it down (pending work completes).
void stream_destroy(const std::shared_ptr<Stream>& s);

// The shared_ptr owning a live stream object (nullptr if not owned by a context).
std::shared_ptr<Stream> stream_ref(Stream* s);

}  // namespace gpool::emu::rt
