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

class TlsListener final : public tcp::SocketListener {
 public:
  TlsListener(int fd, std::string url, CtxPtr ctx, const Options& options)
      : SocketListener(fd, std::move(url)), ctx_(std::move(ctx)), options_(options) {}

  Status accept(std::unique_ptr<Connection>& out, Timeout timeout) override {
    if (shut()) return shut_status();
    int cfd = -1;
    if (Status s = accept_configured(timeout, options_, cfd); !s.ok()) return s;
    std::string peer = tcp::with_scheme(tcp::peer_url(cfd), "tls");
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
  if (Status s = tcp::check_connect_port(url); !s.ok()) return s;
  CtxPtr ctx;
  if (Status s = make_client_ctx(options.tls, ctx); !s.ok()) return s;
  int fd = -1;
  std::string peer;
  if (Status s = tcp::connect_first(url, options, "tls", fd, peer); !s.ok()) return s;
  auto stream = std::make_unique<TlsStream>(fd, peer, std::move(ctx), false, options.tls, url.host,
                                            options.connect_timeout);
  stream->start();  // the ClientHello leaves now
  out = std::make_unique<StreamConnection>(std::move(stream), peer, options);
  return Status::success();
}

Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out) {
  CtxPtr ctx;
  if (Status s = make_server_ctx(options.tls, ctx); !s.ok()) return s;
  int fd = -1;
  std::string bound;
  if (Status s = tcp::listen_socket(url, fd, bound, "tls"); !s.ok()) return s;
  out = std::make_unique<TlsListener>(fd, std::move(bound), std::move(ctx), options);
  return Status::success();
}

}  // namespace gpool::transport::tls
