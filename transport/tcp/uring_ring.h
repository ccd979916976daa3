// UringRing: one io_uring instance and the transfer engine built on it (internal).
//
// Ring choice: the tcp/io_uring backend gives every connection two rings, one for the sending
// thread and one for the receiving thread (and a listener has its own). A ring's submission
// and completion queues are then used by one thread only, so no lock and no completion
// hand-off between threads is needed, and a timeout cancels only that direction's requests.
// A ring costs two small shared-memory queues (queue_depth * 2 entries); a session uses one
// connection, so per-thread rings shared by many connections would save nothing.
//
// Transfers: a gather list (send) or scatter list (receive) is cut into chunks of at most
// chunk_bytes; up to queue_depth chunks are submitted at once as one linked chain of
// IORING_OP_SENDMSG / IORING_OP_RECVMSG requests with MSG_WAITALL (links keep them in stream
// order). The kernel starts the next chunk as soon as the previous one is in the socket
// buffer, so the link stays busy; the next window is submitted when a chain completes, while
// the socket buffer still holds the end of the previous one. A short completion (which cancels
// the rest of its chain) is resumed from the exact byte where it stopped.
//
// Thread binding: rings are created with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
// (where the kernel supports them; plain rings otherwise), which lets the waiting thread run
// completions itself and measurably cuts the round-trip latency. Such a ring may only be used
// by the thread that created it, so each operation checks the calling thread (kernel tid) and, if another
// thread uses the ring now, recreates it: cheap, because no request is ever in flight between
// two calls (every operation reaps all its completions before returning).
//
// Timeouts: waits use io_uring_wait_cqe_timeout; when the deadline passes, every request of the
// ring is cancelled (IORING_OP_ASYNC_CANCEL by fd) and its completion reaped before returning
// kTimeout, so no request outlives the buffers it points to.
//
// Ownership: the ring is created by init() and destroyed with the object; the fd is borrowed.
// Thread safety: one thread at a time.
#pragma once

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

#include "../src/deadline.h"
#include "gpool/transport/status.h"

namespace gpool::transport::tcp {

class UringRing {
 public:
  UringRing() = default;
  ~UringRing();
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;

  // Creates the ring. Returns the negative errno of io_uring_queue_init on failure.
  int init(unsigned queue_depth, size_t chunk_bytes);

  // Sends every byte of `iov` on `fd` (or fails; the number sent is then unknown).
  Status send_all(int fd, std::span<const iovec> iov, const Deadline& deadline,
                  const std::string& peer);

  // Receives exactly the bytes of `iov` (chunked, pipelined).
  Status recv_exact(int fd, std::span<const iovec> iov, const Deadline& deadline,
                    const std::string& peer);

  // Receives at least `min` and at most buf.size() bytes; `got` is set also on failure.
  Status recv_some(int fd, std::span<std::byte> buf, size_t min, const Deadline& deadline,
                   const std::string& peer, size_t& got);

  // connect(2) and accept4(2) through the ring.
  Status connect(int fd, const sockaddr* addr, socklen_t len, const Deadline& deadline,
                 const std::string& peer);
  Status accept(int listen_fd, const Deadline& deadline, const std::string& where, int& out_fd);

 private:
  // Submits and waits for one request prepared by `prep`; returns its result (negative errno).
  template <typename Prep>
  Status run_one(int fd, Prep prep, const Deadline& deadline, int& result);
  // Waits for one completion; kTimeout after cancelling everything in flight on `fd`.
  Status wait(int fd, const Deadline& deadline, io_uring_cqe*& cqe, unsigned in_flight);
  Status transfer(bool send, int fd, std::span<const iovec> iov, const Deadline& deadline,
                  const std::string& peer);

  // (Re)creates the ring when the calling thread is not the one that created it.
  Status bind_to_caller();
  int create_ring();
  // Runs `prepare` (which fills SQEs) and submits; when the kernel says the ring belongs to
  // another task (EEXIST: a thread id was reused), recreates the ring and tries once more.
  template <typename Prepare>
  int prepare_and_submit(Prepare prepare, bool wait);

  io_uring ring_{};
  bool ready_ = false;
  pid_t owner_ = 0;  // kernel thread id of the creator (pthread ids are reused too soon)
  unsigned depth_ = 8;
  size_t chunk_ = size_t{2} << 20;
  std::vector<iovec> pieces_;   // chunk slices of the current window
  std::vector<msghdr> msgs_;    // one per chunk of the current window
  std::vector<size_t> lens_;    // bytes per chunk
  std::vector<int> results_;    // completion result per chunk
  std::vector<size_t> first_piece_;  // index in pieces_ of each chunk's first piece, + end
};

}  // namespace gpool::transport::tcp
