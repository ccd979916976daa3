// Shares the receiving side of one Connection between its owner thread and a side thread.
//
// The owner (a server worker's main loop, a client's sync call) receives the frames it
// processes, as before, through next(). Some frames must be seen while the owner is busy
// elsewhere (blocked in the driver, or not calling at all): host-function notifications
// (calls.toml HostFnReady/HostFnDone). Once start() has run, a side thread receives whenever
// the owner does not hold the receive side: a frame the side filter takes is consumed there;
// any other frame is handed to the owner's next next() unchanged (segments still unread), and
// the side thread waits until the owner has taken it. The filter also sees the frames the
// owner receives itself, so a notification is handled the same way whoever reads it.
//
// The owner holds the receive side from next() until done() (it reads the frame's segments in
// between); no side receive happens then. A connection error seen by either thread is returned
// by every later next() and passed once to `on_error`.
//
// Before start() there is no thread and next() is conn.recv_head() plus a mutex.
//
// Thread safety: next(), done() and frame_ready() from one owner thread at a time (a client's
// sync callers take turns under their own mutex); start() and started() from any thread;
// stop() from any thread after Connection::shutdown() (so that a blocked side receive returns). The filter and on_error run on the side thread or the owner thread, without
// the handoff's lock held; the filter must not receive on the connection.
// Ownership: the Connection must outlive the handoff; the destructor stops the side thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "gpool/transport/transport.h"

namespace gpool::transport {

class ReceiveHandoff {
 public:
  // True when it consumed the frame (which must have no segments); false: the owner's.
  using Filter = std::function<bool(const FrameHead&)>;
  using OnError = std::function<void(const Status&)>;

  explicit ReceiveHandoff(Connection& conn) : conn_(conn) {}
  ~ReceiveHandoff();
  ReceiveHandoff(const ReceiveHandoff&) = delete;
  ReceiveHandoff& operator=(const ReceiveHandoff&) = delete;

  // The next frame the filter did not take. On success the owner holds the receive side.
  Status next(FrameHead& head, Timeout timeout = std::nullopt);
  // The owner is done with the current frame's segments.
  void done();
  // True when next() will not wait: a handed-over frame is waiting, or (no side thread) the
  // connection has a whole frame buffered.
  bool frame_ready();
  // Starts the side thread with `filter` (the first call only).
  void start(Filter filter, OnError on_error = {});
  bool started();
  // Ends the side thread; call after conn.shutdown().
  void stop();

 private:
  void side_loop();
  void fail(const Status& s);  // REQUIRES: mu_ not held

  Connection& conn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool owner_holds_ = false;  // GUARDED_BY(mu_)
  bool side_holds_ = false;   // GUARDED_BY(mu_)
  bool stashed_ = false;      // GUARDED_BY(mu_): stash_ holds a head for the owner
  bool failed_ = false;       // GUARDED_BY(mu_)
  bool stop_ = false;         // GUARDED_BY(mu_)
  bool started_ = false;      // GUARDED_BY(mu_); filter_ and on_error_ are set before it, once
  Status error_;              // GUARDED_BY(mu_)
  FrameHead stash_, side_head_;
  Filter filter_;
  OnError on_error_;
  std::thread thread_;
};

}  // namespace gpool::transport
