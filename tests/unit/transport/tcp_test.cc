// tcp:// specifics: a raw socket peer (not gpool's sender) writes exact bytes, so partial
// frames, garbage and byte-level interoperability can be tested against both implementations.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <thread>

#include "test_util.h"

namespace gpool::transport::test {
namespace {

using namespace std::chrono_literals;

class RawPeer : public ::testing::TestWithParam<TransportCase> {
 protected:
  void SetUp() override {
    Status s = listen(GetParam().listen_url, GetParam().options, listener_);
    if (s.code == Code::kUnavailable) GTEST_SKIP() << s.text;
    ASSERT_TRUE(s.ok()) << s.text;
    const std::string& url = listener_->url();
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_TRUE(listener_->accept(server_, 5000ms).ok());
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void write_raw(std::span<const std::byte> b) {
    ASSERT_EQ(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
  }
  void close_raw() {
    ::close(fd_);
    fd_ = -1;
  }
  std::vector<std::byte> frame(std::span<const std::byte> control, std::span<const ConstBytes> segs) {
    std::vector<std::byte> out;
    EXPECT_TRUE(protocol::encode_frame(control, segs, out).ok());
    return out;
  }

  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Connection> server_;
  int fd_ = -1;
};

TEST_P(RawPeer, FrameWrittenByteByByteIsReceived) {
  std::vector<std::byte> seg(1000);
  fill_pattern(seg, 5);
  const ConstBytes segs[] = {seg};
  auto f = frame(call(8, 1), segs);
  auto writer = std::async(std::launch::async, [&] {
    for (std::byte b : f) {
      if (::send(fd_, &b, 1, MSG_NOSIGNAL) != 1) return false;
    }
    return true;
  });
  FrameHead head;
  Status s = server_->recv_head(head);
  ASSERT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 8u);
  std::vector<std::byte> got(1000);
  ASSERT_TRUE(server_->recv_segment(got).ok());
  EXPECT_TRUE(check_pattern(got, 5));
  EXPECT_TRUE(writer.get());
}

// The stream connection knows when the next frame is whole in its read-ahead buffer: true only
// then (a partial frame behind it is not ready until its last byte arrives).
TEST_P(RawPeer, FrameReadyWhenTheWholeNextFrameIsBuffered) {
  if (std::string_view(server_->backend()).substr(0, 4) != "tcp/") {
    GTEST_SKIP() << server_->backend() << " does not report buffered frames (frame_ready() is false)";
  }
  std::vector<std::byte> seg(100);
  const ConstBytes segs[] = {seg};
  auto a = frame(ping(1), {});
  auto b = frame(call(2, 1), segs);
  std::vector<std::byte> both(a);
  both.insert(both.end(), b.begin(), b.end() - 10);  // b without its last 10 bytes
  write_raw(both);
  std::this_thread::sleep_for(50ms);
  FrameHead head;
  ASSERT_TRUE(server_->recv_head(head).ok());
  EXPECT_FALSE(server_->frame_ready()) << "the next frame is 10 bytes short";
  write_raw(std::span(b).last(10));
  std::this_thread::sleep_for(50ms);
  // Nothing reads the socket until the next receive; a partial frame stays not ready, and the
  // next recv_head() fetches the rest.
  ASSERT_TRUE(server_->recv_head(head).ok());
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 2u);
  EXPECT_FALSE(server_->frame_ready()) << "its segment is unread";
  std::vector<std::byte> got(100);
  ASSERT_TRUE(server_->recv_segment(got).ok());
  EXPECT_FALSE(server_->frame_ready());

  auto c = frame(ping(3), {});
  auto d = frame(ping(4), {});
  std::vector<std::byte> two(c);
  two.insert(two.end(), d.begin(), d.end());
  write_raw(two);
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(server_->recv_head(head).ok());
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 3u);
  EXPECT_TRUE(server_->frame_ready()) << "both frames arrived in one write";
  ASSERT_TRUE(server_->recv_head(head, 1ms).ok());
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 4u);
  EXPECT_FALSE(server_->frame_ready());
}

TEST_P(RawPeer, CloseInsideHeaderIsDisconnected) {
  auto f = frame(ping(1), {});
  write_raw(std::span(f).first(10));
  close_raw();
  FrameHead head;
  Status s = server_->recv_head(head);
  EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
  EXPECT_NE(s.text.find("middle of a frame"), std::string::npos) << s.text;
}

TEST_P(RawPeer, CloseInsideControlIsDisconnected) {
  auto f = frame(ping(1), {});
  write_raw(std::span(f).first(f.size() - 3));
  close_raw();
  FrameHead head;
  Status s = server_->recv_head(head);
  EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
}

TEST_P(RawPeer, PartialHeaderSurvivesRecvTimeout) {
  auto f = frame(ping(77), {});
  write_raw(std::span(f).first(5));
  FrameHead head;
  EXPECT_EQ(server_->recv_head(head, 50ms).code, Code::kTimeout);
  write_raw(std::span(f).subspan(5));
  Status s = server_->recv_head(head);
  ASSERT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 77u);
}

TEST_P(RawPeer, GarbageIsAProtocolError) {
  std::vector<std::byte> junk(64, std::byte{0x41});
  write_raw(junk);
  FrameHead head;
  Status s = server_->recv_head(head);
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_NE(s.text.find("bad magic"), std::string::npos) << s.text;
}

TEST_P(RawPeer, OversizedHeaderIsRejectedBeforeAllocating) {
  auto f = frame(ping(1), {});
  // Claim a control message of 1 GiB; fix the checksum so the limit check is what fires.
  const uint32_t huge = 1u << 30;
  std::memcpy(f.data() + 8, &huge, 4);
  const uint32_t crc = protocol::crc32c(std::span(f.data(), 28));
  std::memcpy(f.data() + 28, &crc, 4);
  write_raw(std::span(f).first(protocol::kFrameHeaderBytes));
  FrameHead head;
  Status s = server_->recv_head(head);
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_NE(s.text.find("oversized"), std::string::npos) << s.text;
}

INSTANTIATE_TEST_SUITE_P(Transports, RawPeer, ::testing::ValuesIn(plain_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(TcpBackend, ForcedSocketBackendIsUsedAndNamed) {
  Options o = test_options();
  o.tcp_backend = TcpBackend::kSocket;
  std::unique_ptr<Listener> l;
  ASSERT_TRUE(listen("tcp://127.0.0.1:0", o, l).ok());
  std::unique_ptr<Connection> c;
  ASSERT_TRUE(connect(l->url(), o, c).ok());
  EXPECT_STREQ(c->backend(), "tcp/socket");
}

TEST(TcpBackend, AutoPicksAnImplementation) {
  Options o = test_options();
  std::unique_ptr<Listener> l;
  ASSERT_TRUE(listen("tcp://127.0.0.1:0", o, l).ok());
  std::unique_ptr<Connection> c;
  ASSERT_TRUE(connect(l->url(), o, c).ok());
  const std::string b = c->backend();
  EXPECT_TRUE(b == "tcp/io_uring" || b == "tcp/socket") << b;
}

}  // namespace
}  // namespace gpool::transport::test
