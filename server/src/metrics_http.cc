#include "metrics_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("metrics"); }

struct Client {
  int fd = -1;
  std::chrono::steady_clock::time_point deadline;
  std::string in;
  std::string out;
  size_t sent = 0;
};

std::string reply(int code, const char* reason, std::string_view type, const std::string& body,
                  bool head_only) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                     code, reason, type, body.size(), head_only ? std::string() : body);
}

}  // namespace

int bind_http(const std::string& host, int port, int& bound_port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    error = fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // restarts; no SO_REUSEPORT
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) break;
    error = fmt::format("cannot listen for metrics on {}:{}: {}", host, port, std::strerror(errno));
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    if (error.empty()) error = fmt::format("cannot listen for metrics on {}:{}", host, port);
    return -1;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound_port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

std::string http_response(std::string_view head, const std::function<std::string()>& metrics_body) {
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    return reply(400, "Bad Request", "text/plain", "not an HTTP/1.x request\n", false);
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    return reply(405, "Method Not Allowed", "text/plain", "only GET /metrics\n", false);
  }
  if (target != "/metrics") return reply(404, "Not Found", "text/plain", "only /metrics is served\n", method == "HEAD");
  return reply(200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics_body(), method == "HEAD");
}

void serve_http(int listen_fd, const std::function<std::string()>& metrics_body) {
  std::deque<Client> clients;  // oldest first
  std::vector<pollfd> fds;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = clients.begin(); it != clients.end();) {
      if (now >= it->deadline) {
        ::close(it->fd);
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
    fds.clear();
    fds.push_back({listen_fd, POLLIN, 0});
    for (const Client& c : clients) fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    const int rc = ::poll(fds.data(), fds.size(), 250);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      logger().error("poll failed: {}", std::strerror(errno));
      return;
    }
    const size_t n_clients = clients.size();
    for (size_t i = 0; i < n_clients; ++i) {
      Client& c = clients[i];
      const short ev = fds[i + 1].revents;
      if (ev == 0) continue;
      bool done = false;
      if (c.out.empty()) {
        char buf[2048];
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          if (const size_t end = c.in.find("\r\n\r\n"); end != std::string::npos) {
            c.out = http_response(std::string_view(c.in).substr(0, end), metrics_body);
            c.deadline = std::chrono::steady_clock::now() + kRequestTimeout;  // to write it
          } else if (c.in.size() > kMaxRequestBytes) {
            c.out = reply(431, "Request Header Fields Too Large", "text/plain", "request too large\n", false);
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          done = true;
        }
      }
      if (!done && !c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) c.sent += static_cast<size_t>(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || c.sent == c.out.size()) done = true;
      }
      if (done) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    if ((fds[0].revents & POLLIN) != 0) {
      for (int taken = 0; taken < 64; ++taken) {
        const int cfd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) break;
        if (clients.size() >= kMaxHttpClients) {  // the oldest makes room: a scrape always gets in
          ::close(clients.front().fd);
          clients.pop_front();
        }
        clients.push_back({cfd, std::chrono::steady_clock::now() + kRequestTimeout, {}, {}, 0});
      }
    }
  }
}

}  // namespace gpool::server
