// TCP socket helpers shared by the io_uring and the blocking-socket backends (internal).
//
// Thread safety: pure functions on file descriptors the caller owns.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "../src/deadline.h"
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

// kIo naming `what` (a system call) and `where` (a URL), with the current errno.
Status sys_error(const char* what, const std::string& where);

// Connects the non-blocking socket `fd` to `addr`, polling for completion until `deadline`;
// `fd` stays non-blocking. Errors: as errno_status, kTimeout when the deadline passes.
Status connect_nonblocking(int fd, const sockaddr* addr, socklen_t len, const Deadline& deadline,
                           const std::string& peer);

// A listening socket for `url` (SO_REUSEADDR, backlog SOMAXCONN, close-on-exec); `bound_url`
// is "<scheme>://addr:port" with the port really bound. Errors: kInvalidArgument when the address
// does not resolve, kIo when socket/bind/listen fail (e.g. the port is taken).
Status listen_socket(const Url& url, int& fd, std::string& bound_url, std::string_view scheme = "tcp");

// "tcp://a:p" (address_url's and peer_url's form) as "<scheme>://a:p": how the transports that
// run over a TCP socket (tls://, ucx://) name their peers. Other URLs are returned unchanged.
std::string with_scheme(std::string url, std::string_view scheme);

// kInvalidArgument naming `url` when its port is 0 (valid only for listening).
Status check_connect_port(const Url& url);

// The non-blocking connect of tls:// and ucx:// (the tcp:// backends have their own, for
// io_uring): tries each address `url` resolves to in turn, with a non-blocking close-on-exec
// socket configured by configure_socket, until one connects before options.connect_timeout.
// On success `fd` is the connected socket (still non-blocking; the caller owns it) and `peer` its
// "<scheme>://addr:port". Errors: resolve's; configure_socket's at once; else the last address's
// (a timeout ends the tries). The port is not checked (check_connect_port).
Status connect_first(const Url& url, const Options& options, std::string_view scheme, int& fd,
                     std::string& peer);

}  // namespace gpool::transport::tcp
