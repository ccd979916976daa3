#include "raw_tcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace gpool::bench {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A connected loopback pair (client, server).
void socket_pair(int& client, int& server) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0) die("bind/listen");
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  client = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  server = ::accept(l, nullptr, nullptr);
  if (server < 0) die("accept");
  ::close(l);
  nodelay(client);
  nodelay(server);
}

bool read_full(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, MSG_WAITALL);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_full(int fd, const void* buf, size_t n) {
  const auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

std::vector<double> raw_ping_pong(size_t bytes, int warmup, int iters) {
  int c = -1, s = -1;
  socket_pair(c, s);
  std::thread echo([&] {
    std::vector<char> buf(bytes);
    while (read_full(s, buf.data(), bytes) && write_full(s, buf.data(), bytes)) {
    }
  });
  std::vector<char> buf(bytes, 'x');
  std::vector<double> rtt;
  rtt.reserve(iters);
  for (int i = 0; i < warmup + iters; ++i) {
    const auto t0 = Clock::now();
    if (!write_full(c, buf.data(), bytes) || !read_full(c, buf.data(), bytes)) die("raw ping-pong");
    const auto t1 = Clock::now();
    if (i >= warmup) rtt.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  ::shutdown(c, SHUT_RDWR);
  echo.join();
  ::close(c);
  ::close(s);
  return rtt;
}

std::vector<double> raw_stream(size_t bytes, int reps) {
  int c = -1, s = -1;
  socket_pair(c, s);
  std::vector<char> src(bytes, 'a');
  std::thread sink([&] {
    std::vector<char> dest(bytes);
    char ack = 1;
    for (int r = 0; r < reps; ++r) {
      if (!read_full(s, dest.data(), bytes) || !write_full(s, &ack, 1)) die("raw sink");
    }
  });
  std::vector<double> secs;
  for (int r = 0; r < reps; ++r) {
    char ack = 0;
    const auto t0 = Clock::now();
    if (!write_full(c, src.data(), bytes) || !read_full(c, &ack, 1)) die("raw stream");
    secs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  sink.join();
  ::close(c);
  ::close(s);
  return secs;
}

double raw_small_sends_cpu(size_t bytes, int count) {
  int c = -1, s = -1;
  socket_pair(c, s);
  std::thread sink([&] {
    std::vector<char> dest(1 << 20);
    size_t left = bytes * static_cast<size_t>(count);
    while (left > 0) {
      const ssize_t r = ::recv(s, dest.data(), std::min(dest.size(), left), 0);
      if (r <= 0) die("raw small sink");
      left -= static_cast<size_t>(r);
    }
  });
  std::vector<char> msg(bytes, 'm');
  const double t0 = thread_cpu_seconds();
  for (int i = 0; i < count; ++i) {
    if (!write_full(c, msg.data(), bytes)) die("raw small send");
  }
  const double cpu = thread_cpu_seconds() - t0;
  sink.join();
  ::close(c);
  ::close(s);
  return cpu;
}

}  // namespace gpool::bench
