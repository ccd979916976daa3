// TCP socket helpers shared by the io_uring and the blocking-socket backends (internal).
//
// Thread safety: pure functions on file descriptors the caller owns.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "gpool/transport/options.h"
#include "gpool/transport/status.h"
#include "gpool/transport/url.h"

namespace gpool::transport::tcp {

// Resolves url.host/url.port (numeric or by name; `passive` for listening).
// Errors: kUnreachable when the name does not resolve.
Status resolve(const Url& url, bool passive, std::vector<sockaddr_storage>& out,
               std::vector<socklen_t>& lengths);

// TCP_NODELAY, SO_KEEPALIVE with options' idle/interval/count, TCP_USER_TIMEOUT to match.
Status configure_socket(int fd, const Options& options);

// "tcp://addr:port" of a socket address.
std::string address_url(const sockaddr* addr, socklen_t len);

// The peer's URL of a connected socket ("tcp://?" when unknown).
std::string peer_url(int fd);

// Maps an errno of `what` (a system call name) to a Status: peer gone -> kDisconnected,
// refused/unreachable -> kUnreachable, timed out -> kTimeout, otherwise kIo.
Status errno_status(const char* what, int err, const std::string& peer);

}  // namespace gpool::transport::tcp
