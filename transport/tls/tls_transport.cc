#include "tls_transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <mutex>

#include "../src/stream_connection.h"
#include "../tcp/socket_listener.h"
#include "../tcp/socket_util.h"
#include "tls_context.h"
#include "tls_stream.h"

namespace gpool::transport::tls {
namespace {

// "tcp://a:p" (socket_util's form) as "tls://a:p".
std::string as_tls(std::string url) {
  if (url.rfind("tcp://", 0) == 0) url.replace(0, 3, "tls");
  return url;
}

class TlsListener final : public tcp::SocketListener {
 public:
  TlsListener(int fd, std::string url, CtxPtr ctx, const Options& options)
      : SocketListener(fd, std::move(url)), ctx_(std::move(ctx)), options_(options) {}

  Status accept(std::unique_ptr<Connection>& out, Timeout timeout) override {
    if (shut()) return shut_status();
    const Deadline deadline = Deadline::after(timeout.value_or(std::chrono::milliseconds(0)));
    int cfd = -1;
    if (Status s = poll_accept(deadline, SOCK_CLOEXEC | SOCK_NONBLOCK, cfd); !s.ok()) return s;
    if (Status s = tcp::configure_socket(cfd, options_); !s.ok()) {
      ::close(cfd);
      return s;
    }
    std::string peer = as_tls(tcp::peer_url(cfd));
    CtxPtr ctx;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ctx = ctx_;
    }
    auto stream = std::make_unique<TlsStream>(cfd, peer, std::move(ctx), true, options_.tls, "");
    stream->start();
    out = std::make_unique<StreamConnection>(std::move(stream), std::move(peer), options_);
    return Status::success();
  }

  Status reload_tls(const TlsOptions& tls) override {
    CtxPtr ctx;
    if (Status s = make_server_ctx(tls, ctx); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    ctx_ = std::move(ctx);
    options_.tls = tls;
    return Status::success();
  }

 private:
  std::mutex mu_;  // ctx_ (reload_tls may run beside accept on another thread)
  CtxPtr ctx_;
  Options options_;
};

}  // namespace

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out) {
  if (url.port == 0) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("cannot connect to {}: port 0 is only valid for listening",
                                    url.to_string()));
  }
  CtxPtr ctx;
  if (Status s = make_client_ctx(options.tls, ctx); !s.ok()) return s;
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = tcp::resolve(url, false, addrs, lens); !s.ok()) return s;
  const Deadline deadline = Deadline::after(options.connect_timeout);
  Status last;
  for (size_t i = 0; i < addrs.size(); ++i) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[i]);
    const std::string peer = as_tls(tcp::address_url(addr, lens[i]));
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
    auto stream = std::make_unique<TlsStream>(fd, peer, ctx, false, options.tls, url.host,
                                              options.connect_timeout);
    stream->start();  // the ClientHello leaves now
    out = std::make_unique<StreamConnection>(std::move(stream), peer, options);
    return Status::success();
  }
  return last;
}

Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out) {
  CtxPtr ctx;
  if (Status s = make_server_ctx(options.tls, ctx); !s.ok()) return s;
  int fd = -1;
  std::string bound;
  Url tcp_url = url;
  tcp_url.scheme = "tcp";
  if (Status s = tcp::listen_socket(tcp_url, fd, bound); !s.ok()) return s;
  out = std::make_unique<TlsListener>(fd, as_tls(std::move(bound)), std::move(ctx), options);
  return Status::success();
}

}  // namespace gpool::transport::tls
