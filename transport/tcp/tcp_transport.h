// tcp:// — the TCP transport (internal entry points, called through the scheme table of
// transport.cc).
//
// Implementation choice: io_uring (uring_stream.h) when the kernel allows it, otherwise
// blocking sockets (socket_stream.h), both behind StreamConnection. The first use probes
// io_uring once per process and logs which implementation is in use (info), or why io_uring
// is unavailable (warn, e.g. "io_uring_queue_init: Operation not permitted" under a seccomp
// profile that blocks it). Options::tcp_backend forces one (kUring fails with kUnavailable
// instead of falling back).
//
// Thread safety: connect()/listen() may be called from any thread.
#pragma once

#include <memory>

#include "gpool/transport/transport.h"
#include "gpool/transport/url.h"

namespace gpool::transport::tcp {

Status connect(const Url& url, const Options& options, std::unique_ptr<Connection>& out);
Status listen(const Url& url, const Options& options, std::unique_ptr<Listener>& out);
// Wraps a connected TCP socket received from another process; owns `fd` in every case.
Status adopt(int fd, const Options& options, std::unique_ptr<Connection>& out);

// Whether io_uring works in this process (probed once), and why not: the negative errno of
// io_uring_queue_init (0 when it works).
bool uring_available(int* neg_errno = nullptr);

}  // namespace gpool::transport::tcp
