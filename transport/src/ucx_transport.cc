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
std::string as_ucx(std::string url) { return tcp::with_scheme(std::move(url), "ucx"); }

class UcxListener final : public tcp::SocketListener {
 public:
  UcxListener(int fd, std::string url, const Options& options)
      : SocketListener(fd, std::move(url)), options_(options) {}

  Status accept(std::unique_ptr<Connection>& out, Timeout timeout) override {
    int cfd = -1;
    if (Status s = accept_configured(timeout, options_, cfd); !s.ok()) return s;
    out = std::make_unique<UcxConnection>(cfd, as_ucx(tcp::peer_url(cfd)), UcxConnection::Role::kServer, options_);
    return Status::success();
  }

 private:
  const Options options_;
};

}  // namespace

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out) {
  if (Status s = tcp::check_connect_port(url); !s.ok()) return s;
  int fd = -1;
  std::string peer;
  if (Status s = tcp::connect_first(url, options, "ucx", fd, peer); !s.ok()) return s;
  out = std::make_unique<UcxConnection>(fd, peer, UcxConnection::Role::kClient, options);
  return Status::success();
}

Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out) {
  int fd = -1;
  std::string bound;
  if (Status s = tcp::listen_socket(url, fd, bound, "ucx"); !s.ok()) return s;
  out = std::make_unique<UcxListener>(fd, std::move(bound), options);
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
