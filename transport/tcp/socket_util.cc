#include "socket_util.h"

#include <arpa/inet.h>
#include <poll.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <string.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace gpool::transport::tcp {

Status resolve(const Url& url, bool passive, std::vector<sockaddr_storage>& out,
               std::vector<socklen_t>& lengths) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::make(Code::kUnreachable,
                        fmt::format("cannot resolve host '{}' of {}: {}", url.host,
                                    url.to_string(), ::gai_strerror(rc)));
  }
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    sockaddr_storage ss{};
    std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
    addrs.push_back(ss);
    lens.push_back(a->ai_addrlen);
  }
  ::freeaddrinfo(res);
  if (addrs.empty()) {
    return Status::make(Code::kUnreachable, fmt::format("host '{}' has no address", url.host));
  }
  out = std::move(addrs);
  lengths = std::move(lens);
  return Status::success();
}

Status configure_socket(int fd, const Options& options) {
  const int one = 1;
  const int idle = static_cast<int>(options.keepalive_idle.count());
  const int intvl = static_cast<int>(options.keepalive_interval.count());
  const int count = options.keepalive_count;
  const unsigned user_timeout = static_cast<unsigned>((idle + intvl * count) * 1000);
  struct {
    int level, name;
    const void* value;
    socklen_t len;
    const char* what;
  } const opts[] = {
      {IPPROTO_TCP, TCP_NODELAY, &one, sizeof one, "TCP_NODELAY"},
      {SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one, "SO_KEEPALIVE"},
      {IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle, "TCP_KEEPIDLE"},
      {IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl, "TCP_KEEPINTVL"},
      {IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count, "TCP_KEEPCNT"},
      {IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout, "TCP_USER_TIMEOUT"},
  };
  for (const auto& o : opts) {
    if (::setsockopt(fd, o.level, o.name, o.value, o.len) != 0) {
      const int err = errno;
      return Status::make(Code::kIo, fmt::format("setsockopt {} failed: {}", o.what, ::strerror(err)),
                          err);
    }
  }
  return Status::success();
}

std::string address_url(const sockaddr* addr, socklen_t len) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return fmt::format("tcp://{}:{}", host, port);
  }
  if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return fmt::format("tcp://[{}]:{}", host, port);
  }
  return "tcp://?";
}

std::string peer_url(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "tcp://?";
  return address_url(reinterpret_cast<sockaddr*>(&ss), len);
}

Status errno_status(const char* what, int err, const std::string& peer) {
  Code code = Code::kIo;
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ECONNABORTED:
    case ESHUTDOWN:
    case ETIMEDOUT:  // keepalive or TCP_USER_TIMEOUT declared the peer dead
      code = Code::kDisconnected;
      break;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL:
      code = Code::kUnreachable;
      break;
    default:
      break;
  }
  return Status::make(code, fmt::format("{} {} failed: {}", what, peer, ::strerror(err)), err);
}

Status sys_error(const char* what, const std::string& where) {
  const int err = errno;
  return Status::make(Code::kIo, fmt::format("{} for {} failed: {}", what, where, ::strerror(err)), err);
}

Status connect_nonblocking(int fd, const sockaddr* addr, socklen_t len, const Deadline& deadline,
                           const std::string& peer) {
  int rc = ::connect(fd, addr, len);
  if (rc == 0) return Status::success();
  if (errno != EINPROGRESS) return errno_status("connect to", errno, peer);
  pollfd p{fd, POLLOUT, 0};
  do {
    rc = ::poll(&p, 1, deadline.poll_ms());
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return Status::make(Code::kTimeout, fmt::format("connect to {} timed out", peer));
  if (rc < 0) return errno_status("poll for connect to", errno, peer);
  int err = 0;
  socklen_t elen = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) return errno_status("connect to", err, peer);
  return Status::success();
}

Status listen_socket(const Url& url, int& fd_out, std::string& bound_url, std::string_view scheme) {
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = resolve(url, true, addrs, lens); !s.ok()) {
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
  bound_url = with_scheme(address_url(reinterpret_cast<sockaddr*>(&bound), blen), scheme);
  fd_out = fd;
  return Status::success();
}

std::string with_scheme(std::string url, std::string_view scheme) {
  if (url.rfind("tcp://", 0) == 0) url.replace(0, 3, scheme);
  return url;
}

Status check_connect_port(const Url& url) {
  if (url.port != 0) return Status::success();
  return Status::make(Code::kInvalidArgument,
                      fmt::format("cannot connect to {}: port 0 is only valid for listening", url.to_string()));
}

Status connect_first(const Url& url, const Options& options, std::string_view scheme, int& fd_out,
                     std::string& peer_out) {
  std::vector<sockaddr_storage> addrs;
  std::vector<socklen_t> lens;
  if (Status s = resolve(url, false, addrs, lens); !s.ok()) return s;
  const Deadline deadline = Deadline::after(options.connect_timeout);
  Status last;
  for (size_t i = 0; i < addrs.size(); ++i) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[i]);
    std::string peer = with_scheme(address_url(addr, lens[i]), scheme);
    const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last = sys_error("socket", peer);
      continue;
    }
    if (Status s = configure_socket(fd, options); !s.ok()) {
      ::close(fd);
      return s;
    }
    if (Status s = connect_nonblocking(fd, addr, lens[i], deadline, peer); !s.ok()) {
      ::close(fd);
      last = s;
      if (s.code == Code::kTimeout) break;
      continue;
    }
    fd_out = fd;
    peer_out = std::move(peer);
    return Status::success();
  }
  return last;
}

}  // namespace gpool::transport::tcp
