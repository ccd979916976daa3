// ReceiveHandoff (gpool/transport/receive_handoff.h): a side thread takes the frames its filter
// wants, also while the owner does not receive at all, and hands every other frame to the owner
// whole (segments unread); a broken connection reaches the owner and on_error once.
#include "gpool/transport/receive_handoff.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.h"

namespace gpool::transport::test {
namespace {

using namespace std::chrono_literals;

class ReceiveHandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    ASSERT_TRUE(make_pair(plain_cases().front(), pair_, skip).ok()) << skip;
  }

  // The filter: takes Pings, records their nonces.
  ReceiveHandoff::Filter pings() {
    return [this](const FrameHead& head) {
      const auto* p = head.envelope->message_as_Ping();
      if (p == nullptr) return false;
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(p->nonce());
      return true;
    };
  }
  std::vector<uint64_t> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  Pair pair_;
  std::mutex mu_;
  std::vector<uint64_t> seen_;
};

TEST_F(ReceiveHandoffTest, SideTakesFilteredFramesOwnerGetsTheRestWhole) {
  ReceiveHandoff rx(*pair_.server);
  rx.start(pings());
  std::vector<std::byte> payload(100000);
  fill_pattern(payload, 7);
  const ConstBytes seg{payload};
  ASSERT_TRUE(pair_.client->send(ping(1)).ok());
  ASSERT_TRUE(pair_.client->send(call(7, 1), {&seg, 1}).ok());
  ASSERT_TRUE(pair_.client->send(ping(3)).ok());
  ASSERT_TRUE(pair_.client->send(call(8, 0)).ok());
  FrameHead head;
  ASSERT_TRUE(rx.next(head).ok());
  ASSERT_NE(head.envelope->message_as_Call(), nullptr);
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 7u);
  ASSERT_EQ(head.segment_count(), 1u);
  std::vector<std::byte> got(payload.size());
  ASSERT_TRUE(pair_.server->recv_segment(got).ok());
  EXPECT_TRUE(check_pattern(got, 7));
  rx.done();
  ASSERT_TRUE(rx.next(head).ok());
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 8u);
  rx.done();
  EXPECT_EQ(seen(), (std::vector<uint64_t>{1, 3}));
  pair_.server->shutdown();
  rx.stop();
}

TEST_F(ReceiveHandoffTest, SideReceivesWhileTheOwnerDoesNot) {
  ReceiveHandoff rx(*pair_.server);
  rx.start(pings());
  ASSERT_TRUE(pair_.client->send(ping(5)).ok());
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (seen().empty() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(seen(), (std::vector<uint64_t>{5}));
  // A frame for the owner waits for it, and frame_ready() says so.
  ASSERT_TRUE(pair_.client->send(call(9, 0)).ok());
  while (!rx.frame_ready() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(rx.frame_ready());
  FrameHead head;
  ASSERT_TRUE(rx.next(head).ok());
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 9u);
  rx.done();
  pair_.server->shutdown();
  rx.stop();
}

TEST_F(ReceiveHandoffTest, ALostConnectionReachesTheOwnerAndOnErrorOnce) {
  ReceiveHandoff rx(*pair_.server);
  std::atomic<int> errors{0};
  rx.start(pings(), [&](const Status&) { errors++; });
  pair_.client.reset();  // the peer goes away
  FrameHead head;
  EXPECT_EQ(rx.next(head).code, Code::kDisconnected);
  EXPECT_EQ(rx.next(head).code, Code::kDisconnected);
  EXPECT_EQ(errors.load(), 1);
  pair_.server->shutdown();
  rx.stop();
}

}  // namespace
}  // namespace gpool::transport::test
