// The metrics HTTP server's answers (metrics_http.h), and that idle clients cannot hold back a
// scrape: a forked server process with more idle connections than it keeps still answers.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <vector>

#include "metrics_http.h"

namespace gpool::server {
namespace {

const std::function<std::string()> kBody = [] { return std::string("gpool_up 1\n"); };

TEST(MetricsHttpTest, Responses) {
  EXPECT_EQ(http_response("GET /metrics HTTP/1.1\r\nHost: x", kBody).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(http_response("GET /metrics?x=1 HTTP/1.0", kBody).find("\r\n\r\ngpool_up 1\n"), std::string::npos);
  EXPECT_EQ(http_response("GET / HTTP/1.1", kBody).rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(http_response("POST /metrics HTTP/1.1", kBody).rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(http_response("\x16\x03\x01 garbage", kBody).rfind("HTTP/1.1 400", 0), 0u);
  const std::string head = http_response("HEAD /metrics HTTP/1.1", kBody);
  EXPECT_NE(head.find("Content-Length: 11\r\n"), std::string::npos);
  EXPECT_EQ(head.find("gpool_up"), std::string::npos);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(MetricsHttpTest, IdleClientsDoNotBlockAScrape) {
  int port = 0;
  std::string error;
  const int lfd = bind_http("127.0.0.1", 0, port, error);
  ASSERT_GE(lfd, 0) << error;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    serve_http(lfd, kBody);
    ::_exit(1);
  }
  ::close(lfd);
  std::vector<int> idle;
  for (size_t i = 0; i < kMaxHttpClients + 16; ++i) {  // more than it keeps: the oldest go
    const int fd = connect_to(port);
    if (fd >= 0) idle.push_back(fd);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = connect_to(port);
  ASSERT_GE(fd, 0);
  const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_EQ(::send(fd, req, sizeof req - 1, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof req - 1));
  std::string got;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1500) <= 0) break;
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK", 0), 0u) << got;
  EXPECT_NE(got.find("gpool_up 1"), std::string::npos);
  EXPECT_LT(ms, 1000.0) << "a scrape behind " << idle.size() << " idle clients took " << ms << " ms";
  ::close(fd);
  for (int i : idle) ::close(i);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace gpool::server
