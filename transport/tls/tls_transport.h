// tls:// — TLS 1.3 over TCP (internal entry points, called through the scheme table of
// transport.cc). Both ends are StreamConnections over a TlsStream (tls_stream.h); the plain
// tcp:// paths (io_uring, sockets) are not involved beyond the shared socket helpers.
//
// connect() opens the TCP connection within connect_timeout and sends the ClientHello;
// accept() answers a ClientHello that has already arrived, without waiting for one. The rest
// of the handshake runs in the first send or receive (transport.h). A listener can load its
// certificate again (Listener::reload_tls).
//
// Thread safety: connect()/listen() may be called from any thread.
#pragma once

#include <memory>

#include "gpool/transport/transport.h"
#include "gpool/transport/url.h"

namespace gpool::transport::tls {

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out);
Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out);

}  // namespace gpool::transport::tls
