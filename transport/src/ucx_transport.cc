#include "ucx_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "deadline.h"
#include "tcp/socket_util.h"
#include "ucx_connection.h"

namespace gpool::transport::ucx {
namespace {

// "tcp://a:p" -> "ucx://a:p".
std::string as_ucx(std::string url) {
  if (url.rfind("tcp://", 0) == 0) url.replace(0, 3, "ucx");
  return url;
}

Status sys_error(const char* what, const std::string& where) {
  const int err = errno;
  return Status::make(Code::kIo, fmt::format("{} for {} failed: {}", what, where, std::strerror(err)), err);
}

// Non-blocking connect bounded by `deadline`; the socket stays non-blocking (UcxConnection
// polls it).
Status connect_socket(int fd, const sockaddr* addr, socklen_t len, const Deadline& deadline,
                      const std::string& peer) {
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno != EINPROGRESS) return tcp::errno_status("connect to", errno, peer);
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    for (;;) {
      rc = ::poll(&p, 1, deadline.poll_ms());
      if (rc < 0 && errno == EINTR) continue;
      break;
    }
    if (rc == 0) return Status::make(Code::kTimeout, fmt::format("connect to {} timed out", peer));
    if (rc < 0) return tcp::errno_status("poll for connect to", errno, peer);
    int err = 0;
    socklen_t elen = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return tcp::errno_status("connect to", err, peer);
  }
  return Status::success();
}

class UcxListener final : public Listener {
 public:
  UcxListener(int fd, std::string url, const Options& options)
      : fd_(fd), url_(std::move(url)), options_(options) {}
  ~UcxListener() override { ::close(fd_); }

  Status accept(std::unique_ptr<Connection>& out, Timeout timeout) override {
    const Deadline deadline = Deadline::after(timeout.value_or(std::chrono::milliseconds(0)));
    for (;;) {
      if (shut_.load()) return shut_status();
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, deadline.poll_ms());
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return sys_error("poll", url_);
      if (shut_.load()) return shut_status();
      if (rc == 0) return Status::make(Code::kTimeout, fmt::format("no connection on {} before the timeout", url_));
      const int cfd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (cfd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
        if (shut_.load() || errno == EINVAL) return shut_status();
        return sys_error("accept", url_);
      }
      if (Status s = tcp::configure_socket(cfd, options_); !s.ok()) {
        ::close(cfd);
        return s;
      }
      out = std::make_unique<UcxConnection>(cfd, as_ucx(tcp::peer_url(cfd)), UcxConnection::Role::kServer, options_);
      return Status::success();
    }
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
  const Options options_;
  std::atomic<bool> shut_{false};
};

}  // namespace

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out) {
  if (url.port == 0) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("cannot connect to {}: port 0 is only valid for listening", url.to_string()));
  }
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = tcp::resolve(url, false, addrs, lens); !s.ok()) return s;
  const Deadline deadline = Deadline::after(options.connect_timeout);
  Status last;
  for (size_t i = 0; i < addrs.size(); ++i) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[i]);
    const std::string peer = as_ucx(tcp::address_url(addr, lens[i]));
    const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last = sys_error("socket", peer);
      continue;
    }
    if (Status s = tcp::configure_socket(fd, options); !s.ok()) {
      ::close(fd);
      return s;
    }
    if (Status s = connect_socket(fd, addr, lens[i], deadline, peer); !s.ok()) {
      ::close(fd);
      last = s;
      if (s.code == Code::kTimeout) break;
      continue;
    }
    out = std::make_unique<UcxConnection>(fd, peer, UcxConnection::Role::kClient, options);
    return Status::success();
  }
  return last;
}

Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out) {
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = tcp::resolve(url, true, addrs, lens); !s.ok()) {
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
  out = std::make_unique<UcxListener>(fd, as_ucx(tcp::address_url(reinterpret_cast<sockaddr*>(&bound), blen)), options);
  return Status::success();
}

Status adopt(int fd, const Options& options, std::unique_ptr<Connection>& out) {
  if (fd < 0) return Status::make(Code::kInvalidArgument, "adopt: no socket (fd < 0)");
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  out = std::make_unique<UcxConnection>(fd, as_ucx(tcp::peer_url(fd)), UcxConnection::Role::kServer, options);
  return Status::success();
}

}  // namespace gpool::transport::ucx
