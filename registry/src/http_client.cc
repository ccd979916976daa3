#include "gpool/registry/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace gpool::registry {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on `fd` until `deadline`; false with `error` on timeout or failure.
bool wait_for(int fd, short events, Clock::time_point deadline, const char* what, std::string& error) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) {
      error = fmt::format("timed out {}", what);
      return false;
    }
    if (errno != EINTR) {
      error = fmt::format("poll failed {}: {}", what, std::strerror(errno));
      return false;
    }
  }
}

bool connect_to(const std::string& host, int port, Clock::time_point deadline, Fd& sock,
                std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    error = fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc));
    return false;
  }
  std::string last = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    Fd s;
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s.fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = std::strerror(errno);
        continue;
      }
      if (!wait_for(s.fd, POLLOUT, deadline, "connecting", last)) continue;
      int soerr = 0;
      socklen_t len = sizeof soerr;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) {
        last = std::strerror(soerr);
        continue;
      }
    }
    sock.fd = s.fd;
    s.fd = -1;
    ::freeaddrinfo(res);
    return true;
  }
  ::freeaddrinfo(res);
  error = fmt::format("connect to {}:{}: {}", host, port, last);
  return false;
}

bool send_all(int fd, const std::string& data, Clock::time_point deadline, std::string& error) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline, "sending the request", error)) return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      error = fmt::format("send failed: {}", std::strerror(errno));
      return false;
    }
  }
  return true;
}

// Reads until the peer closes (the request said Connection: close) or the size limit.
bool read_all(int fd, Clock::time_point deadline, std::string& out, std::string& error) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > kMaxResponse) {
        error = fmt::format("answer larger than {} bytes", kMaxResponse);
        return false;
      }
    } else if (n == 0) {
      return true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd, POLLIN, deadline, "waiting for the answer", error)) return false;
    } else if (errno != EINTR) {
      error = fmt::format("receive failed: {}", std::strerror(errno));
      return false;
    }
  }
}

bool iequals_prefix(const std::string& line, const char* name) {
  const size_t n = std::strlen(name);
  if (line.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

}  // namespace

bool decode_chunked(const std::string& in, std::string& out) {
  size_t pos = 0;
  out.clear();
  for (;;) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    size_t size = 0;
    size_t i = pos;
    for (; i < eol && std::isxdigit(static_cast<unsigned char>(in[i])); ++i) {
      if (size > (kMaxResponse >> 4)) return false;
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(in[i])));
      size = size * 16 + static_cast<size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (i == pos) return false;  // no size digits (extensions after ';' are ignored)
    pos = eol + 2;
    if (size == 0) return true;  // trailers, if any, are ignored
    if (in.size() < pos + size + 2 || in.compare(pos + size, 2, "\r\n") != 0) return false;
    out.append(in, pos, size);
    pos += size + 2;
  }
}

bool http_post(const std::string& host, int port, const std::string& path, const std::string& body,
               std::chrono::milliseconds timeout, HttpResponse& out, std::string& error) {
  const auto deadline = Clock::now() + timeout;
  const std::string where = fmt::format("http://{}:{}{}", host, port, path);
  Fd sock;
  if (!connect_to(host, port, deadline, sock, error)) return false;
  const std::string host_header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const std::string request = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nAccept: "
      "application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      path, host_header, port, body.size(), body);
  std::string raw;
  if (!send_all(sock.fd, request, deadline, error) || !read_all(sock.fd, deadline, raw, error)) {
    error = fmt::format("{}: {} (after {} ms at most)", where, error, timeout.count());
    return false;
  }
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    error = fmt::format("{}: the answer ended before its headers did ({} bytes)", where, raw.size());
    return false;
  }
  // Status line: HTTP/1.x NNN reason
  if (raw.compare(0, 7, "HTTP/1.") != 0 || raw.size() < 12 || raw[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(raw[9]))) {
    error = fmt::format("{}: malformed status line", where);
    return false;
  }
  out.status = std::atoi(raw.c_str() + 9);
  bool chunked = false;
  long long length = -1;
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    if (iequals_prefix(line, "transfer-encoding:") && line.find("chunked") != std::string::npos) {
      chunked = true;
    } else if (iequals_prefix(line, "content-length:")) {
      length = std::atoll(line.c_str() + std::strlen("content-length:"));
    }
    pos = eol + 2;
  }
  std::string rest = raw.substr(head_end + 4);
  if (chunked) {
    if (!decode_chunked(rest, out.body)) {
      error = fmt::format("{}: malformed or truncated chunked answer", where);
      return false;
    }
  } else if (length >= 0) {
    if (rest.size() < static_cast<size_t>(length)) {
      error = fmt::format("{}: answer truncated ({} of {} bytes)", where, rest.size(), length);
      return false;
    }
    out.body = rest.substr(0, static_cast<size_t>(length));
  } else {
    out.body = std::move(rest);
  }
  return true;
}

}  // namespace gpool::registry
