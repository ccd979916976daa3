// The transport conformance suite: every transport (see test_util.cc all_cases()) must pass
// every test here. Loopback only; each test is bounded by the timeouts of test_options().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "test_util.h"

namespace gpool::transport::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace wire = protocol::wire;

class Conformance : public ::testing::TestWithParam<TransportCase> {
 protected:
  void SetUp() override {
    std::string skip;
    Status s = make_pair(GetParam(), pair_, skip);
    if (!skip.empty()) GTEST_SKIP() << GetParam().name << " cannot run here: " << skip;
    ASSERT_TRUE(s.ok()) << code_name(s.code) << ": " << s.text;
  }
  Connection& client() { return *pair_.client; }
  Connection& server() { return *pair_.server; }

  Pair pair_;
};

uint64_t expect_ping(Connection& c, FrameHead& head) {
  Status s = c.recv_head(head);
  EXPECT_TRUE(s.ok()) << s.text;
  if (!s.ok()) return 0;
  EXPECT_EQ(head.envelope->message_type(), wire::Message_Ping);
  const auto* p = head.envelope->message_as_Ping();
  return p != nullptr ? p->nonce() : ~uint64_t{0};
}

TEST_P(Conformance, ConnectAndAccept) {
  EXPECT_NE(client().peer().find("127.0.0.1"), std::string::npos) << client().peer();
  EXPECT_NE(server().peer().find("127.0.0.1"), std::string::npos) << server().peer();
  EXPECT_NE(pair_.listener->url(), GetParam().listen_url);  // port 0 replaced by the real one
  if (GetParam().options.tcp_backend == TcpBackend::kUring) {
    EXPECT_STREQ(client().backend(), "tcp/io_uring");
    EXPECT_STREQ(server().backend(), "tcp/io_uring");
  } else if (GetParam().options.tcp_backend == TcpBackend::kSocket) {
    EXPECT_STREQ(client().backend(), "tcp/socket");
  }
  if (!GetParam().backend.empty()) {
    EXPECT_EQ(client().backend(), GetParam().backend);
    EXPECT_EQ(server().backend(), GetParam().backend);
  }
}

TEST_P(Conformance, ListenerOnPortZeroReportsItsUrl) {
  const std::string& url = pair_.listener->url();
  const std::string prefix = GetParam().listen_url.substr(0, GetParam().listen_url.rfind(':') + 1);
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
  const int port = std::stoi(url.substr(prefix.size()));
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

TEST_P(Conformance, PingPong) {
  FrameHead head;
  for (uint64_t i = 1; i <= 500; ++i) {
    ASSERT_TRUE(client().send(ping(i)).ok());
    ASSERT_EQ(expect_ping(server(), head), i);
    ASSERT_TRUE(server().send(pong(i)).ok());
    ASSERT_TRUE(client().recv_head(head).ok());
    ASSERT_EQ(head.envelope->message_type(), wire::Message_Pong);
    ASSERT_EQ(head.envelope->message_as_Pong()->nonce(), i);
  }
}

// Regression: io_uring rings bound to their creating thread must follow a connection handed
// from thread to thread (pthread ids of exited threads are reused, kernel tids differ).
TEST_P(Conformance, SendersAndReceiversOnSuccessiveThreads) {
  for (uint64_t i = 0; i < 20; ++i) {
    Status sent, got;
    uint64_t nonce = 0;
    std::thread([&] { sent = client().send(ping(i)); }).join();
    std::thread([&] {
      FrameHead head;
      got = server().recv_head(head);
      if (got.ok()) nonce = head.envelope->message_as_Ping()->nonce();
    }).join();
    ASSERT_TRUE(sent.ok()) << sent.text;
    ASSERT_TRUE(got.ok()) << got.text;
    ASSERT_EQ(nonce, i);
  }
}

TEST_P(Conformance, FramesWithZeroToManySegments) {
  // Sizes around the read-ahead buffer (64 KiB) and the direct-read threshold (16 KiB).
  const std::vector<size_t> sizes{0, 1, 7, 4096, 16383, 16384, 65535, 65536, 65537, 300000};
  std::vector<uint32_t> counts{0, 1, 2, 5, 10, static_cast<uint32_t>(protocol::kMaxSegments)};
  for (uint32_t n : counts) {
    std::vector<std::vector<std::byte>> bufs(n);
    std::vector<ConstBytes> segs;
    for (uint32_t i = 0; i < n; ++i) {
      bufs[i].resize(sizes[(i + n) % sizes.size()]);
      fill_pattern(bufs[i], n * 100 + i);
      segs.push_back(bufs[i]);
    }
    auto control = call(n, n);
    auto sent = std::async(std::launch::async, [&] { return client().send(control, segs); });
    FrameHead head;
    Status s = server().recv_head(head);
    ASSERT_TRUE(s.ok()) << "frame with " << n << " segments: " << s.text;
    ASSERT_EQ(head.segment_count(), n);
    EXPECT_EQ(head.envelope->message_as_Call()->call_id(), n);
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_EQ(head.segment_lengths[i], bufs[i].size());
      EXPECT_EQ(server().segments_left(), n - i);
      std::vector<std::byte> dest(head.segment_lengths[i]);
      s = server().recv_segment(dest);
      ASSERT_TRUE(s.ok()) << s.text;
      EXPECT_TRUE(check_pattern(dest, n * 100 + i)) << "frame " << n << " segment " << i;
    }
    EXPECT_EQ(server().segments_left(), 0u);
    ASSERT_TRUE(sent.get().ok());
  }
}

TEST_P(Conformance, UnreadSegmentsAreSkipped) {
  std::vector<std::byte> a(100000), b(10);
  fill_pattern(a, 1);
  fill_pattern(b, 2);
  const ConstBytes segs[] = {a, b};
  auto control = call(1, 2);
  auto sent = std::async(std::launch::async, [&] {
    Status s = client().send(control, segs);
    return s.ok() ? client().send(ping(9)) : s;
  });
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  ASSERT_TRUE(server().skip_segment().ok());
  std::vector<std::byte> got(10);
  ASSERT_TRUE(server().recv_segment(got).ok());
  EXPECT_TRUE(check_pattern(got, 2));
  // A frame whose segments are not read at all is skipped by the next recv_head().
  ASSERT_TRUE(sent.get().ok());  // one sender at a time
  auto sent2 = std::async(std::launch::async, [&] { return client().send(call(2, 2), segs); });
  ASSERT_EQ(expect_ping(server(), head), 9u);
  ASSERT_TRUE(server().recv_head(head).ok());
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 2u);
  ASSERT_TRUE(sent2.get().ok());
  ASSERT_TRUE(client().send(ping(10)).ok());
  EXPECT_EQ(expect_ping(server(), head), 10u);
}

TEST_P(Conformance, LargeSegmentLandsInDestination) {
  const size_t size = size_t{256} << 20;
  std::vector<std::byte> src(size);
  fill_pattern(src, 256);
  const ConstBytes segs[] = {src};
  auto control = call(77, 1);
  auto sent = std::async(std::launch::async, [&] { return client().send(control, segs); });
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  ASSERT_EQ(head.segment_lengths.at(0), size);
  std::vector<std::byte> dest(size);
  Status s = server().recv_segment(dest);
  ASSERT_TRUE(s.ok()) << s.text;
  Status ss = sent.get();
  ASSERT_TRUE(ss.ok()) << ss.text;
  EXPECT_TRUE(check_pattern(dest, 256));
}

TEST_P(Conformance, BurstOfSmallFrames) {
  constexpr uint64_t kFrames = 20000;
  auto sent = std::async(std::launch::async, [&] {
    std::byte one[1] = {std::byte{0x5a}};
    for (uint64_t i = 0; i < kFrames; ++i) {
      Status s = (i % 2 == 0) ? client().send(ping(i)) : client().send(call(i, 1), std::span<const ConstBytes>(std::array<ConstBytes, 1>{ConstBytes(one)}));
      if (!s.ok()) return s;
    }
    return Status::success();
  });
  FrameHead head;
  for (uint64_t i = 0; i < kFrames; ++i) {
    Status s = server().recv_head(head);
    ASSERT_TRUE(s.ok()) << "frame " << i << ": " << s.text;
    if (i % 2 == 0) {
      ASSERT_EQ(head.envelope->message_as_Ping()->nonce(), i);
    } else {
      ASSERT_EQ(head.envelope->message_as_Call()->call_id(), i);
      std::byte got[1];
      ASSERT_TRUE(server().recv_segment(got).ok());
      ASSERT_EQ(got[0], std::byte{0x5a});
    }
  }
  ASSERT_TRUE(sent.get().ok());
}

TEST_P(Conformance, BothDirectionsConcurrently) {
  constexpr uint64_t kFrames = 3000;
  auto pump = [](Connection& c, uint64_t seed) {
    std::vector<std::byte> payload(3000 + seed);
    for (uint64_t i = 0; i < kFrames; ++i) {
      fill_pattern(payload, seed * 1'000'000 + i);
      const ConstBytes segs[] = {payload};
      if (Status s = c.send(call(i, 1), segs); !s.ok()) return s;
    }
    return Status::success();
  };
  auto drain = [](Connection& c, uint64_t seed) {
    FrameHead head;
    std::vector<std::byte> payload(3000 + seed);
    for (uint64_t i = 0; i < kFrames; ++i) {
      if (Status s = c.recv_head(head); !s.ok()) return s;
      if (head.envelope->message_as_Call()->call_id() != i) return Status::make(Code::kIo, "out of order");
      if (Status s = c.recv_segment(payload); !s.ok()) return s;
      if (!check_pattern(payload, seed * 1'000'000 + i)) return Status::make(Code::kIo, "corrupt payload");
    }
    return Status::success();
  };
  auto a = std::async(std::launch::async, pump, std::ref(client()), 1);
  auto b = std::async(std::launch::async, pump, std::ref(server()), 2);
  auto c = std::async(std::launch::async, drain, std::ref(server()), 1);
  auto d = std::async(std::launch::async, drain, std::ref(client()), 2);
  for (auto* f : {&a, &b, &c, &d}) {
    Status s = f->get();
    EXPECT_TRUE(s.ok()) << s.text;
  }
}

TEST_P(Conformance, PeerClosingMidSegmentIsDisconnected) {
  std::vector<std::byte> big(size_t{64} << 20);
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<std::byte>(i / 4096 * 7 + 1);
  const ConstBytes segs[] = {big};
  auto control = call(5, 1);
  auto sent = std::async(std::launch::async, [&] { return client().send(control, segs); });
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  std::this_thread::sleep_for(50ms);  // a TCP sender is now blocked on a full socket buffer
  pair_.client->shutdown();
  Status ss = sent.get();
  std::vector<std::byte> dest(big.size());
  const auto t0 = Clock::now();
  Status s = server().recv_segment(dest);
  EXPECT_LT(Clock::now() - t0, 5s);
  // UCX's shared-memory lanes can move all 64 MiB into the receiver's buffers within the 50 ms,
  // before the close lands (seen about one run in three): the segment then legitimately
  // arrives whole. It must be exactly the bytes sent, and the close is seen right after it. A
  // TCP peer cannot get that far (its socket buffers hold far less than 64 MiB).
  const bool ucx = GetParam().listen_url.rfind("ucx://", 0) == 0;
  if (ucx && s.ok()) {
    EXPECT_TRUE(dest == big) << "a segment reported whole holds other bytes than were sent";
  } else {
    EXPECT_EQ(ss.code, Code::kDisconnected) << ss.text;
    EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
  }
  // Sticky: the next call reports the same error without blocking.
  EXPECT_EQ(server().recv_head(head).code, Code::kDisconnected);
}

TEST_P(Conformance, PeerClosingBetweenFramesIsDisconnected) {
  pair_.client.reset();
  FrameHead head;
  Status s = server().recv_head(head);
  EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
  EXPECT_NE(s.text.find("closed"), std::string::npos) << s.text;
}

TEST_P(Conformance, ShutdownWakesBlockedReceiver) {
  auto waiting = std::async(std::launch::async, [&] {
    FrameHead head;
    return server().recv_head(head, 0ms);  // no timeout: only shutdown ends it
  });
  std::this_thread::sleep_for(50ms);
  const auto t0 = Clock::now();
  server().shutdown();
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiting.get().code, Code::kDisconnected);
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_EQ(server().send(ping(1)).code, Code::kDisconnected);
}

TEST_P(Conformance, RecvTimeoutLeavesConnectionUsable) {
  FrameHead head;
  const auto t0 = Clock::now();
  Status s = server().recv_head(head, 100ms);
  const auto took = Clock::now() - t0;
  EXPECT_EQ(s.code, Code::kTimeout) << s.text;
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 3s);
  ASSERT_TRUE(client().send(ping(3)).ok());
  EXPECT_EQ(expect_ping(server(), head), 3u);
}

TEST_P(Conformance, ConnectToClosedPortFailsWithinTimeout) {
  std::string url = pair_.listener->url();
  pair_.listener.reset();  // nobody listens there any more
  Options o = GetParam().options;
  o.connect_timeout = 1000ms;
  std::unique_ptr<Connection> c;
  const auto t0 = Clock::now();
  Status s = connect(url, o, c);
  EXPECT_EQ(s.code, Code::kUnreachable) << s.text;
  EXPECT_LT(Clock::now() - t0, 1500ms);
  EXPECT_EQ(c, nullptr);
}

TEST_P(Conformance, ConnectToSilentAddressTimesOut) {
  // TEST-NET-1 (RFC 5737) is never routed: either the SYN goes nowhere (timeout) or the
  // network says unreachable at once; both must come back within the timeout.
  Options o = GetParam().options;
  o.connect_timeout = 300ms;
  std::unique_ptr<Connection> c;
  const auto t0 = Clock::now();
  Status s = connect("tcp://192.0.2.1:9", o, c);
  EXPECT_TRUE(s.code == Code::kTimeout || s.code == Code::kUnreachable) << code_name(s.code) << ": " << s.text;
  EXPECT_LT(Clock::now() - t0, 1500ms);
}

TEST_P(Conformance, BadUrlsAreRejectedClearly) {
  const char* bad[] = {"", "tcp", "tcp://", "tcp://127.0.0.1", "tcp://:80", "tcp://host:", "tcp://host:x1",
                       "tcp://host:70000", "tcp://::1:80", "tcp://[::1]80", "TCP://host:1", "tcp://a b:1"};
  for (const char* url : bad) {
    std::unique_ptr<Connection> c;
    Status s = connect(url, GetParam().options, c);
    EXPECT_EQ(s.code, Code::kInvalidArgument) << url << ": " << s.text;
    EXPECT_NE(s.text.find("expected scheme://host:port"), std::string::npos) << s.text;
    std::unique_ptr<Listener> l;
    EXPECT_EQ(listen(url, GetParam().options, l).code, Code::kInvalidArgument) << url;
  }
  std::unique_ptr<Connection> c;
  Status s = connect("foo://127.0.0.1:1", GetParam().options, c);
  EXPECT_EQ(s.code, Code::kInvalidArgument);
  EXPECT_NE(s.text.find("unknown scheme 'foo'"), std::string::npos) << s.text;
  s = connect("tcp://127.0.0.1:0", GetParam().options, c);
  EXPECT_EQ(s.code, Code::kInvalidArgument);
  EXPECT_NE(s.text.find("port 0"), std::string::npos) << s.text;
}

TEST_P(Conformance, CallerMistakesLeaveConnectionUsable) {
  // Too many segments: rejected before anything is sent.
  std::vector<ConstBytes> segs(protocol::kMaxSegments + 1);
  Status s = client().send(call(1, 0), segs);
  EXPECT_EQ(s.code, Code::kInvalidArgument) << s.text;
  // A control message above the limit.
  std::vector<std::byte> huge(protocol::kMaxControlBytes + 1);
  EXPECT_EQ(client().send(huge).code, Code::kInvalidArgument);
  // Destination of the wrong size, and no segment left.
  std::byte four[4] = {};
  const ConstBytes one_seg[] = {four};
  ASSERT_TRUE(client().send(call(2, 1), one_seg).ok());
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  std::byte three[3];
  EXPECT_EQ(server().recv_segment(three).code, Code::kInvalidArgument);
  std::byte got[4];
  EXPECT_TRUE(server().recv_segment(got).ok());
  EXPECT_EQ(server().recv_segment(got).code, Code::kInvalidArgument);
  EXPECT_EQ(server().skip_segment().code, Code::kInvalidArgument);
  ASSERT_TRUE(client().send(ping(4)).ok());
  EXPECT_EQ(expect_ping(server(), head), 4u);
}

TEST_P(Conformance, InvalidControlMessageIsAProtocolError) {
  const std::string junk = "not an envelope, just bytes";
  ASSERT_TRUE(client().send(ConstBytes(reinterpret_cast<const std::byte*>(junk.data()), junk.size())).ok());
  FrameHead head;
  Status s = server().recv_head(head);
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_NE(s.text.find("verification failed"), std::string::npos) << s.text;
  EXPECT_EQ(head.envelope, nullptr);
  EXPECT_EQ(server().recv_head(head).code, Code::kProtocol);  // sticky
  // The server can still send (an Abort) on that connection.
  EXPECT_TRUE(server().send(pong(0)).ok());
}

TEST_P(Conformance, AcceptTimesOutAndShutdownWakesIt) {
  std::unique_ptr<Connection> c;
  const auto t0 = Clock::now();
  Status s = pair_.listener->accept(c, 100ms);
  EXPECT_EQ(s.code, Code::kTimeout) << s.text;
  EXPECT_LT(Clock::now() - t0, 3s);
  auto waiting = std::async(std::launch::async, [&] {
    std::unique_ptr<Connection> c2;
    return pair_.listener->accept(c2);
  });
  std::this_thread::sleep_for(50ms);
  pair_.listener->shutdown();
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiting.get().code, Code::kDisconnected);
}

TEST_P(Conformance, QueuedFramesLeaveInOrderWithTheNextSendOrFlush) {
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(client().queue(ping(i)).ok());
  EXPECT_GT(client().queued_bytes(), 0u);
  FrameHead head;
  EXPECT_EQ(server().recv_head(head, 50ms).code, Code::kTimeout);  // nothing written yet
  ASSERT_TRUE(client().flush().ok());
  EXPECT_EQ(client().queued_bytes(), 0u);
  for (uint64_t i = 0; i < 5; ++i) ASSERT_EQ(expect_ping(server(), head), i);

  // Queued frames (one with a segment) go out before the frame of the next send().
  std::byte seg[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
  const ConstBytes segs[] = {seg};
  ASSERT_TRUE(client().queue(ping(10)).ok());
  ASSERT_TRUE(client().queue(call(11, 1), segs).ok());
  ASSERT_TRUE(client().send(ping(12)).ok());
  EXPECT_EQ(client().queued_bytes(), 0u);
  ASSERT_EQ(expect_ping(server(), head), 10u);
  ASSERT_TRUE(server().recv_head(head).ok());
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 11u);
  std::byte got[3];
  ASSERT_TRUE(server().recv_segment(got).ok());
  EXPECT_EQ(got[2], std::byte{3});
  ASSERT_EQ(expect_ping(server(), head), 12u);

  // A large frame passed to queue() is sent at once, after what was queued before it.
  std::vector<std::byte> big(1 << 20);
  fill_pattern(big, 3);
  const ConstBytes big_segs[] = {big};
  ASSERT_TRUE(client().queue(ping(20)).ok());
  auto sent = std::async(std::launch::async, [&] { return client().queue(call(21, 1), big_segs); });
  ASSERT_EQ(expect_ping(server(), head), 20u);
  ASSERT_TRUE(server().recv_head(head).ok());
  std::vector<std::byte> dest(big.size());
  ASSERT_TRUE(server().recv_segment(dest).ok());
  EXPECT_TRUE(check_pattern(dest, 3));
  ASSERT_TRUE(sent.get().ok());
  EXPECT_EQ(client().queued_bytes(), 0u);
}

// frame_ready() may say false when it does not know, but a true must be right: the next frame
// is then received without waiting. It is never true once every frame has been taken, nor while
// a segment of the current frame is unread.
TEST_P(Conformance, FrameReadyNeverClaimsAFrameThatIsNotThere) {
  FrameHead head;
  EXPECT_FALSE(server().frame_ready());  // nothing sent
  std::byte seg[5] = {};
  const ConstBytes segs[] = {seg};
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(client().queue(ping(i)).ok());
  ASSERT_TRUE(client().queue(call(3, 1), segs).ok());
  ASSERT_TRUE(client().flush().ok());
  ASSERT_EQ(expect_ping(server(), head), 0u);  // the others arrive with it or right after
  std::this_thread::sleep_for(50ms);
  for (uint64_t i = 1; i < 3; ++i) {
    if (server().frame_ready()) {
      ASSERT_TRUE(server().recv_head(head, 1ms).ok()) << "frame_ready() was true, frame " << i;
      EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), i);
    } else {
      ASSERT_EQ(expect_ping(server(), head), i);
    }
  }
  ASSERT_TRUE(server().recv_head(head).ok());
  EXPECT_FALSE(server().frame_ready()) << "a segment of the current frame is unread";
  std::byte got[5];
  ASSERT_TRUE(server().recv_segment(got).ok());
  EXPECT_FALSE(server().frame_ready()) << "every frame was taken";
  EXPECT_EQ(server().recv_head(head, 20ms).code, Code::kTimeout);
}

TEST_P(Conformance, QueueFlushesByItselfWhenTheBufferFills) {
  auto sink = std::async(std::launch::async, [&] {
    FrameHead head;
    for (uint64_t i = 0; i < 5000; ++i) {
      Status s = server().recv_head(head, 5000ms);
      if (!s.ok()) return s;
      if (head.envelope->message_as_Ping()->nonce() != i) return Status::make(Code::kIo, "out of order");
    }
    return Status::success();
  });
  for (uint64_t i = 0; i < 5000; ++i) ASSERT_TRUE(client().queue(ping(i)).ok());
  EXPECT_LT(client().queued_bytes(), 256u * 1024);
  ASSERT_TRUE(client().flush().ok());
  Status s = sink.get();
  EXPECT_TRUE(s.ok()) << s.text;
}

INSTANTIATE_TEST_SUITE_P(Transports, Conformance, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace gpool::transport::test
