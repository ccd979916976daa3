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
#include "tcp/socket_listener.h"
#include "tcp/socket_util.h"
#include "ucx_connection.h"

namespace gpool::transport::ucx {
namespace {

// "tcp://a:p" -> "ucx://a:p".
std::string as_ucx(std::string url) {
  if (url.rfind("tcp://", 0) == 0) url.replace(0, 3, "ucx");
  return url;
}

class UcxListener final : public tcp::SocketListener {
 public:
  UcxListener(int fd, std::string url, const Options& options)
      : SocketListener(fd, std::move(url)), options_(options) {}

  Status accept(std::unique_ptr<Connection>& out, Timeout timeout) override {
    const Deadline deadline = Deadline::after(timeout.value_or(std::chrono::milliseconds(0)));
    int cfd = -1;
    if (Status s = poll_accept(deadline, SOCK_CLOEXEC | SOCK_NONBLOCK, cfd); !s.ok()) return s;
    if (Status s = tcp::configure_socket(cfd, options_); !s.ok()) {
      ::close(cfd);
      return s;
    }
    out = std::make_unique<UcxConnection>(cfd, as_ucx(tcp::peer_url(cfd)), UcxConnection::Role::kServer, options_);
    return Status::success();
  }

 private:
  const Options options_;
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
      last = tcp::sys_error("socket", peer);
      continue;
    }
    if (Status s = tcp::configure_socket(fd, options); !s.ok()) {
      ::close(fd);
      return s;
    }
    if (Status s = tcp::connect_nonblocking(fd, addr, lens[i], deadline, peer); !s.ok()) {
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
  int fd = -1;
  std::string bound;
  if (Status s = tcp::listen_socket(url, fd, bound); !s.ok()) return s;
  out = std::make_unique<UcxListener>(fd, as_ucx(std::move(bound)), options);
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
