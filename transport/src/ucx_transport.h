// ucx:// — the UCX transport (internal entry points, called through the scheme table of
// transport.cc).
//
// A ucx://host:port URL names a TCP address: the listener is a TCP socket, and each connection
// keeps its TCP socket as a bootstrap and liveness channel. The frames themselves move to UCP
// (tag API, one worker per connection) once the client has received its first frame; see
// ucx_connection.h for the switch-over. Keeping UCX out of the process until then lets
// gpool-server's supervisor accept and authenticate on plain TCP and fork (or hand the socket
// to) the session worker, which alone creates UCX resources: UCX state does not survive fork().
// If UCX cannot start on one side, the connection stays on TCP and says so in the log.
//
// Built only when pkg-config finds ucx; otherwise ucx_unavailable.cc answers every call with
// kUnavailable.
//
// Thread safety: connect()/listen()/adopt() may be called from any thread.
#pragma once

#include <memory>

#include "gpool/transport/transport.h"
#include "gpool/transport/url.h"

namespace gpool::transport::ucx {

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out);
Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out);
// Wraps a connected bootstrap socket received from another process (Connection::handoff_fd()
// of a ucx connection that is still on TCP); owns `fd` in every case.
Status adopt(int fd, const Options& options, std::unique_ptr<Connection>& out);

}  // namespace gpool::transport::ucx
