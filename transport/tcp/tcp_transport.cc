#include "tcp_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#include "../src/stream_connection.h"
#include "gpool/common/log.h"
#include "socket_stream.h"
#include "socket_util.h"
#include "uring_ring.h"
#include "uring_stream.h"

namespace gpool::transport::tcp {
namespace {

enum class Impl { kUring, kSocket };

spdlog::logger& logger() { return log::logger("transport"); }

// Decides the implementation for `options`; logs the choice once per process.
Status choose(const Options& options, Impl& out) {
  if (options.tcp_backend == TcpBackend::kSocket) {
    static std::once_flag once;
    std::call_once(once, [] { logger().info("tcp transport uses blocking sockets (requested)"); });
    out = Impl::kSocket;
    return Status::success();
  }
  int err = 0;
  if (uring_available(&err)) {
    static std::once_flag once;
    std::call_once(once, [] { logger().info("tcp transport uses io_uring"); });
    out = Impl::kUring;
    return Status::success();
  }
  if (options.tcp_backend == TcpBackend::kUring) {
    return Status::make(Code::kUnavailable,
                        fmt::format("io_uring was requested for tcp:// but io_uring_queue_init "
                                    "failed: {}; unset GPOOL_TCP_BACKEND to fall back to sockets",
                                    ::strerror(-err)),
                        -err);
  }
  out = Impl::kSocket;
  return Status::success();
}

Status sys_error(const char* what, const std::string& where) {
  const int err = errno;
  return Status::make(Code::kIo, fmt::format("{} for {} failed: {}", what, where, ::strerror(err)), err);
}

// Wraps a connected, configured socket in a StreamConnection of implementation `impl`. Takes
// ownership of `fd` in every case.
std::unique_ptr<Connection> wrap(int fd, std::string peer, Impl impl, const Options& options,
                                 std::unique_ptr<UringStream> uring = nullptr) {
  std::unique_ptr<ByteStream> stream;
  if (uring) {
    stream = std::move(uring);
  } else if (impl == Impl::kUring) {
    int err = 0;
    auto u = UringStream::create(fd, peer, options, err);
    if (u) {
      stream = std::move(u);
    } else {
      logger().warn("io_uring setup for connection {} failed: {}; using a blocking socket for it",
                    peer, ::strerror(-err));
    }
  }
  if (!stream) stream = std::make_unique<SocketStream>(fd, peer);
  return std::make_unique<StreamConnection>(std::move(stream), std::move(peer), options);
}

// Non-blocking connect + poll for the socket backend; the socket is blocking again after.
Status socket_connect(int fd, const sockaddr* addr, socklen_t len, const Deadline& deadline,
                      const std::string& peer) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    return errno_status("connect to", err, peer);
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    for (;;) {
      rc = ::poll(&p, 1, deadline.poll_ms());
      if (rc < 0 && errno == EINTR) continue;
      break;
    }
    if (rc == 0) return Status::make(Code::kTimeout, fmt::format("connect to {} timed out", peer));
    if (rc < 0) return errno_status("poll for connect to", errno, peer);
    int err = 0;
    socklen_t elen = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return errno_status("connect to", err, peer);
  }
  ::fcntl(fd, F_SETFL, flags);
  return Status::success();
}

class TcpListener final : public Listener {
 public:
  TcpListener(int fd, std::string url, Impl impl, const Options& options)
      : fd_(fd), url_(std::move(url)), impl_(impl), options_(options) {}
  ~TcpListener() override { ::close(fd_); }

  Status init_ring() {
    if (impl_ != Impl::kUring) return Status::success();
    if (int err = ring_.init(2, 4096); err != 0) {
      logger().warn("io_uring setup for listener {} failed: {}; accepting with poll/accept",
                    url_, ::strerror(-err));
      impl_ = Impl::kSocket;
    }
    return Status::success();
  }

  Status accept(std::unique_ptr<Connection>& out, Timeout timeout) override {
    if (shut_.load()) return shut_status();
    const Deadline deadline = Deadline::after(timeout.value_or(std::chrono::milliseconds(0)));
    int cfd = -1;
    if (impl_ == Impl::kUring) {
      Status s = ring_.accept(fd_, deadline, url_, cfd);
      if (!s.ok()) return shut_.load() ? shut_status() : s;
    } else {
      pollfd p{fd_, POLLIN, 0};
      for (;;) {
        const int rc = ::poll(&p, 1, deadline.poll_ms());
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return sys_error("poll", url_);
        if (rc == 0) {
          return Status::make(Code::kTimeout, fmt::format("no connection on {} before the timeout", url_));
        }
        if (shut_.load()) return shut_status();
        cfd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (cfd >= 0) break;
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
        if (shut_.load() || errno == EINVAL) return shut_status();
        return sys_error("accept", url_);
      }
    }
    if (Status s = configure_socket(cfd, options_); !s.ok()) {
      ::close(cfd);
      return s;
    }
    std::string peer = peer_url(cfd);
    out = wrap(cfd, std::move(peer), impl_, options_);
    return Status::success();
  }

  const std::string& url() const override { return url_; }

  void shutdown() override {
    shut_.store(true);
    ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  Status shut_status() const {
    return Status::make(Code::kDisconnected, fmt::format("listener {} was shut down", url_));
  }

  const int fd_;
  const std::string url_;
  Impl impl_;  // constant after init_ring()
  const Options options_;
  UringRing ring_;  // accepting thread only
  std::atomic<bool> shut_{false};
};

}  // namespace

bool uring_available(int* neg_errno) {
  static const int probe = [] {
    UringRing r;
    const int rc = r.init(2, 4096);
    if (rc != 0) {
      logger().warn("io_uring is unavailable (io_uring_queue_init: {}); tcp transport falls back "
                    "to blocking sockets",
                    ::strerror(-rc));
    }
    return rc;
  }();
  if (neg_errno != nullptr) *neg_errno = probe;
  return probe == 0;
}

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out) {
  if (url.port == 0) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("cannot connect to {}: port 0 is only valid for listening",
                                    url.to_string()));
  }
  Impl impl;
  if (Status s = choose(options, impl); !s.ok()) return s;
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = resolve(url, false, addrs, lens); !s.ok()) return s;
  const Deadline deadline = Deadline::after(options.connect_timeout);
  Status last;
  for (size_t i = 0; i < addrs.size(); ++i) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[i]);
    const std::string peer = address_url(addr, lens[i]);
    const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = sys_error("socket", peer);
      continue;
    }
    if (Status s = configure_socket(fd, options); !s.ok()) {
      ::close(fd);
      return s;
    }
    std::unique_ptr<UringStream> uring;
    if (impl == Impl::kUring) {
      int err = 0;
      uring = UringStream::create(fd, peer, options, err);
      if (!uring) {
        logger().warn("io_uring setup for connection {} failed: {}; using a blocking socket for it",
                      peer, ::strerror(-err));
      }
    }
    Status s = uring ? uring->connect(addr, lens[i], deadline)
                     : socket_connect(fd, addr, lens[i], deadline, peer);
    if (!s.ok()) {
      if (!uring) ::close(fd);  // a UringStream closes its own fd
      last = s;
      if (s.code == Code::kTimeout) break;
      continue;
    }
    out = wrap(fd, peer, impl, options, std::move(uring));
    return Status::success();
  }
  return last;
}

Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out) {
  Impl impl;
  if (Status s = choose(options, impl); !s.ok()) return s;
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = resolve(url, true, addrs, lens); !s.ok()) {
    s.code = Code::kInvalidArgument;
    return s;
  }
  const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[0]);
  const std::string where = url.to_string();
  const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket", where);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, addr, lens[0]) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    Status s = sys_error("bind/listen", where);
    ::close(fd);
    return s;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  auto listener = std::make_unique<TcpListener>(fd, address_url(reinterpret_cast<sockaddr*>(&bound), blen),
                                                impl, options);
  if (Status s = listener->init_ring(); !s.ok()) return s;
  out = std::move(listener);
  return Status::success();
}

Status adopt(int fd, const Options& options, std::unique_ptr<Connection>& out) {
  if (fd < 0) return Status::make(Code::kInvalidArgument, "adopt: no socket (fd < 0)");
  Impl impl;
  if (Status s = choose(options, impl); !s.ok()) {
    ::close(fd);
    return s;
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::string peer = peer_url(fd);
  out = wrap(fd, std::move(peer), impl, options);
  return Status::success();
}

}  // namespace gpool::transport::tcp
