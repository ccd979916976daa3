// The HTTP client against a scripted loopback peer: one accepted connection per test, which
// reads the request and answers with the given bytes (or stays silent).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "gpool/registry/http_client.h"

namespace gpool::registry {
namespace {

class Peer {
 public:
  Peer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Peer() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  // Accepts one connection, reads the request, sends `answer`, then holds it `hold` and closes.
  void serve(std::string answer, std::chrono::milliseconds hold = std::chrono::milliseconds(0)) {
    thread_ = std::thread([this, answer, hold] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      request_ = req;
      if (!answer.empty()) (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      std::this_thread::sleep_for(hold);
      ::close(c);
    });
  }
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(HttpClient, SizedAnswer) {
  Peer p;
  p.serve("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: application/json\r\n\r\n{\"a\":1}");
  HttpResponse r;
  std::string error;
  ASSERT_TRUE(http_post("127.0.0.1", p.port(), "/v3/kv/range", "{\"key\":\"eA==\"}",
                        std::chrono::milliseconds(2000), r, error)) << error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1}");
  const std::string req = p.request();
  EXPECT_EQ(req.rfind("POST /v3/kv/range HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Content-Length: 14\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("Connection: close\r\n"), std::string::npos) << req;
}

TEST(HttpClient, ChunkedAnswerAndErrorStatus) {
  Peer p;
  p.serve("HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=1\r\n:1}\r\n0\r\n\r\n");
  HttpResponse r;
  std::string error;
  ASSERT_TRUE(http_post("127.0.0.1", p.port(), "/", "{}", std::chrono::milliseconds(2000), r, error)) << error;
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"a\":1}");
}

TEST(HttpClient, SilentPeerTimesOut) {
  Peer p;
  p.serve("", std::chrono::milliseconds(800));
  HttpResponse r;
  std::string error;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(http_post("127.0.0.1", p.port(), "/", "{}", std::chrono::milliseconds(300), r, error));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(750));
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(p.port())), std::string::npos) << error;
}

TEST(HttpClient, TruncatedAndMalformedAnswers) {
  {
    Peer p;
    p.serve("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort");
    HttpResponse r;
    std::string error;
    EXPECT_FALSE(http_post("127.0.0.1", p.port(), "/", "{}", std::chrono::milliseconds(2000), r, error));
    EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  }
  {
    Peer p;
    p.serve("SSH-2.0-OpenSSH\r\n\r\n");
    HttpResponse r;
    std::string error;
    EXPECT_FALSE(http_post("127.0.0.1", p.port(), "/", "{}", std::chrono::milliseconds(2000), r, error));
    EXPECT_NE(error.find("malformed status line"), std::string::npos) << error;
  }
}

TEST(HttpClient, RefusedConnectionNamesTheAddress) {
  int port = 0;
  {
    Peer p;  // bound and closed again: nothing listens there afterwards
    port = p.port();
  }
  HttpResponse r;
  std::string error;
  EXPECT_FALSE(http_post("127.0.0.1", port, "/", "{}", std::chrono::milliseconds(1000), r, error));
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << error;
}

TEST(HttpClient, DecodeChunked) {
  std::string out;
  EXPECT_TRUE(decode_chunked("3\r\nabc\r\n0\r\n\r\n", out));
  EXPECT_EQ(out, "abc");
  EXPECT_FALSE(decode_chunked("5\r\nabc\r\n0\r\n\r\n", out));  // shorter than announced
  EXPECT_FALSE(decode_chunked("3\r\nabc\r\n", out));          // no last chunk
  EXPECT_FALSE(decode_chunked("zz\r\nabc\r\n0\r\n\r\n", out));
}

}  // namespace
}  // namespace gpool::registry
