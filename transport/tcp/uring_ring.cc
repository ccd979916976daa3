#include "uring_ring.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

#include "socket_util.h"

namespace gpool::transport::tcp {
namespace {

constexpr uint64_t kCancelTag = ~uint64_t{0};

// The calling thread's kernel id, cached per thread: gettid() is a system call, and every
// transfer checks the ring's owner (one fewer system call per send and per receive). A forked
// child's thread inherits its parent's cached id, so the cache is cleared in the child.
thread_local pid_t t_tid = 0;

pid_t current_tid() {
  if (t_tid == 0) {
    static std::once_flag once;
    std::call_once(once, [] { ::pthread_atfork(nullptr, nullptr, [] { t_tid = 0; }); });
    t_tid = ::gettid();
  }
  return t_tid;
}

Status ring_error(const char* what, int neg_errno) {
  return Status::make(Code::kIo, fmt::format("io_uring {} failed: {}", what, ::strerror(-neg_errno)),
                      -neg_errno);
}

}  // namespace

UringRing::~UringRing() {
  if (ready_) io_uring_queue_exit(&ring_);
}

int UringRing::init(unsigned queue_depth, size_t chunk_bytes) {
  depth_ = std::clamp(queue_depth, 1u, 64u);
  chunk_ = std::max<size_t>(chunk_bytes, 4096);
  msgs_.resize(depth_);
  lens_.resize(depth_);
  results_.resize(depth_);
  return create_ring();
}

int UringRing::create_ring() {
  if (ready_) {
    io_uring_queue_exit(&ring_);
    ready_ = false;
  }
  const unsigned entries = depth_ * 2 + 2;
  // Kernels before 6.1 reject these flags with EINVAL: remember and use a plain ring.
  static std::atomic<bool> bound_rings_work{true};
  int rc = -EINVAL;
  if (bound_rings_work.load(std::memory_order_relaxed)) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    rc = io_uring_queue_init_params(entries, &ring_, &p);
    if (rc == -EINVAL) bound_rings_work.store(false, std::memory_order_relaxed);
  }
  if (rc == -EINVAL) rc = io_uring_queue_init(entries, &ring_, 0);
  if (rc < 0) return rc;
  ready_ = true;
  owner_ = current_tid();
  return 0;
}

Status UringRing::bind_to_caller() {
  if (ready_ && owner_ == current_tid()) return Status::success();
  if (const int rc = create_ring(); rc < 0) return ring_error("queue_init", rc);
  return Status::success();
}

template <typename Prepare>
int UringRing::prepare_and_submit(Prepare prepare, bool wait) {
  for (int attempt = 0;; ++attempt) {
    if (const int rc = prepare(); rc < 0) return rc;
    // Without a deadline, submit and wait in one system call.
    const int rc = wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit(&ring_);
    if (rc != -EEXIST || attempt > 0) return rc == -EINTR ? 0 : rc;
    if (const int c = create_ring(); c < 0) return c;
  }
}

// Cancels every request on `fd` and reaps the completions of the `in_flight` requests still
// outstanding, passing each (user_data, res) to `on_done`.
template <typename OnDone>
static void cancel_and_drain(io_uring* ring, int fd, unsigned in_flight, OnDone on_done) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  bool cancel_pending = false;
  if (sqe != nullptr) {
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, kCancelTag);
    cancel_pending = io_uring_submit(ring) == 1;
  }
  while (in_flight > 0 || cancel_pending) {
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(ring, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) break;  // cannot happen with requests outstanding; do not spin
    const uint64_t tag = io_uring_cqe_get_data64(cqe);
    const int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (tag == kCancelTag) {
      cancel_pending = false;
    } else {
      --in_flight;
      on_done(tag, res);
    }
  }
}

Status UringRing::wait(int fd, const Deadline& deadline, io_uring_cqe*& cqe, unsigned in_flight) {
  for (;;) {
    int rc;
    if (deadline.infinite()) {
      rc = io_uring_wait_cqe(&ring_, &cqe);
    } else {
      const timespec ts = deadline.remaining_timespec();
      __kernel_timespec kts{ts.tv_sec, ts.tv_nsec};
      rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &kts);
    }
    if (rc == 0) return Status::success();
    if (rc == -EINTR) continue;
    if (rc == -ETIME) return Status::make(Code::kTimeout, "timed out");
    return ring_error("wait", rc);
  }
}

template <typename Prep>
Status UringRing::run_one(int fd, Prep prep, const Deadline& deadline, int& result) {
  const int rc = prepare_and_submit(
      [&] {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) return -EBUSY;
        prep(sqe);
        io_uring_sqe_set_data64(sqe, 1);
        return 0;
      },
      deadline.infinite());
  if (rc < 0) return ring_error("submit", rc);
  io_uring_cqe* cqe = nullptr;
  Status s = wait(fd, deadline, cqe, 1);
  if (!s.ok()) {
    bool done = false;
    cancel_and_drain(&ring_, fd, 1, [&](uint64_t, int res) {
      result = res;
      done = res != -ECANCELED;
    });
    // A request that completed while being cancelled still counts.
    if (s.code == Code::kTimeout && done) return Status::success();
    return s;
  }
  result = cqe->res;
  io_uring_cqe_seen(&ring_, cqe);
  return Status::success();
}

Status UringRing::recv_some(int fd, std::span<std::byte> buf, size_t min, const Deadline& deadline,
                            const std::string& peer, size_t& got) {
  got = 0;
  if (Status s = bind_to_caller(); !s.ok()) return s;
  while (got < min) {
    int res = 0;
    Status s = run_one(
        fd, [&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd, buf.data() + got, buf.size() - got, 0); },
        deadline, res);
    if (!s.ok()) {
      if (s.code == Code::kTimeout) s.text = fmt::format("receive from {} timed out", peer);
      return s;
    }
    if (res > 0) {
      got += static_cast<size_t>(res);
    } else if (res == 0) {
      return Status::make(Code::kDisconnected, fmt::format("{} closed the connection", peer));
    } else if (res != -EINTR && res != -EAGAIN) {
      return errno_status("receive from", -res, peer);
    }
  }
  return Status::success();
}

Status UringRing::transfer(bool send, int fd, std::span<const iovec> iov, const Deadline& deadline,
                           const std::string& peer) {
  if (Status s = bind_to_caller(); !s.ok()) return s;
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  size_t done = 0;
  const char* verb = send ? "send to" : "receive from";
  while (done < total) {
    // Find the byte `done` in the gather list.
    size_t idx = 0;
    size_t off = done;
    while (off >= iov[idx].iov_len) {
      off -= iov[idx].iov_len;
      ++idx;
    }
    // Cut the next window into chunks of at most chunk_ bytes.
    pieces_.clear();
    std::vector<size_t>& first_piece = first_piece_;  // kept: no allocation per transfer
    first_piece.clear();
    unsigned n = 0;
    while (n < depth_ && idx < iov.size()) {
      first_piece.push_back(pieces_.size());
      size_t room = chunk_;
      size_t len = 0;
      while (room > 0 && idx < iov.size()) {
        const size_t take = std::min(room, iov[idx].iov_len - off);
        if (take > 0) pieces_.push_back({static_cast<char*>(iov[idx].iov_base) + off, take});
        room -= take;
        len += take;
        off += take;
        if (off == iov[idx].iov_len) {
          ++idx;
          off = 0;
        }
      }
      lens_[n++] = len;
    }
    first_piece.push_back(pieces_.size());
    const int rc = prepare_and_submit(
        [&] {
          for (unsigned i = 0; i < n; ++i) {
            msghdr& m = msgs_[i];
            m = msghdr{};
            m.msg_iov = pieces_.data() + first_piece[i];
            m.msg_iovlen = first_piece[i + 1] - first_piece[i];
            io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
            if (sqe == nullptr) return -EBUSY;  // cannot happen: the ring holds 2 * depth
            if (send) {
              io_uring_prep_sendmsg(sqe, fd, &m, MSG_WAITALL | MSG_NOSIGNAL);
            } else {
              io_uring_prep_recvmsg(sqe, fd, &m, MSG_WAITALL);
            }
            io_uring_sqe_set_data64(sqe, i);
            if (i + 1 < n) sqe->flags |= IOSQE_IO_LINK;
            results_[i] = -ECANCELED;
          }
          return 0;
        },
        deadline.infinite());
    if (rc < 0) return ring_error("submit", rc);
    unsigned in_flight = n;
    while (in_flight > 0) {
      io_uring_cqe* cqe = nullptr;
      Status s = wait(fd, deadline, cqe, in_flight);
      if (!s.ok()) {
        cancel_and_drain(&ring_, fd, in_flight, [](uint64_t, int) {});
        if (s.code == Code::kTimeout) s.text = fmt::format("{} {} timed out", send ? "send to" : "receive from", peer);
        return s;
      }
      results_[io_uring_cqe_get_data64(cqe)] = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      --in_flight;
    }
    // Chunks complete in order; a short one cancels the rest of the chain.
    for (unsigned i = 0; i < n; ++i) {
      const int res = results_[i];
      if (res >= 0 && static_cast<size_t>(res) == lens_[i]) {
        done += lens_[i];
        continue;
      }
      if (res > 0) {
        done += static_cast<size_t>(res);
        break;
      }
      if (res == 0) {
        if (!send) return Status::make(Code::kDisconnected, fmt::format("{} closed the connection", peer));
        break;  // nothing sent: retry from here
      }
      if (res == -ECANCELED || res == -EINTR || res == -EAGAIN) break;
      return errno_status(verb, -res, peer);
    }
  }
  return Status::success();
}

Status UringRing::send_all(int fd, std::span<const iovec> iov, const Deadline& deadline,
                           const std::string& peer) {
  return transfer(true, fd, iov, deadline, peer);
}

Status UringRing::recv_exact(int fd, std::span<const iovec> iov, const Deadline& deadline,
                             const std::string& peer) {
  return transfer(false, fd, iov, deadline, peer);
}

Status UringRing::connect(int fd, const sockaddr* addr, socklen_t len, const Deadline& deadline,
                          const std::string& peer) {
  if (Status s = bind_to_caller(); !s.ok()) return s;
  int res = 0;
  Status s = run_one(fd, [&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, addr, len); },
                     deadline, res);
  if (!s.ok()) {
    if (s.code == Code::kTimeout) s.text = fmt::format("connect to {} timed out", peer);
    return s;
  }
  if (res < 0) {
    if (res == -ETIMEDOUT || res == -ECANCELED) {
      return Status::make(Code::kTimeout, fmt::format("connect to {} timed out", peer), -res);
    }
    return errno_status("connect to", -res, peer);
  }
  return Status::success();
}

Status UringRing::accept(int listen_fd, const Deadline& deadline, const std::string& where,
                         int& out_fd) {
  if (Status s = bind_to_caller(); !s.ok()) return s;
  int res = 0;
  Status s = run_one(
      listen_fd,
      [&](io_uring_sqe* sqe) { io_uring_prep_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC); },
      deadline, res);
  if (!s.ok()) {
    if (s.code == Code::kTimeout) {
      s.text = fmt::format("no connection on {} before the timeout", where);
    }
    return s;
  }
  if (res < 0) {
    if (res == -EINVAL || res == -ECANCELED) {
      return Status::make(Code::kDisconnected, fmt::format("listener {} was shut down", where), -res);
    }
    return errno_status("accept on", -res, where);
  }
  out_fd = res;
  return Status::success();
}

}  // namespace gpool::transport::tcp
