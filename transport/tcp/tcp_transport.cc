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
#include "socket_listener.h"
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
  Status s = connect_nonblocking(fd, addr, len, deadline, peer);
  ::fcntl(fd, F_SETFL, flags);
  return s;
}

class TcpListener final : public SocketListener {
 public:
  TcpListener(int fd, std::string url, Impl impl, const Options& options)
      : SocketListener(fd, std::move(url)), impl_(impl), options_(options) {}

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
    if (shut()) return shut_status();
    const Deadline deadline = Deadline::after(timeout.value_or(std::chrono::milliseconds(0)));
    int cfd = -1;
    if (impl_ == Impl::kUring) {
      Status s = ring_.accept(fd_, deadline, url_, cfd);
      if (!s.ok()) return shut() ? shut_status() : s;
    } else if (Status s = poll_accept(deadline, SOCK_CLOEXEC, cfd); !s.ok()) {
      return s;
    }
    if (Status s = configure_socket(cfd, options_); !s.ok()) {
      ::close(cfd);
      return s;
    }
    std::string peer = peer_url(cfd);
    out = wrap(cfd, std::move(peer), impl_, options_);
    return Status::success();
  }

 private:
  Impl impl_;  // constant after init_ring()
  const Options options_;
  UringRing ring_;  // accepting thread only
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
  if (Status s = check_connect_port(url); !s.ok()) return s;
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
  int fd = -1;
  std::string bound;
  if (Status s = listen_socket(url, fd, bound); !s.ok()) return s;
  auto listener = std::make_unique<TcpListener>(fd, std::move(bound), impl, options);
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
