// Connection::recv_segment_part(): a segment consumed in pieces (the server's pipelined copies),
// against every transport case of the conformance suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "test_util.h"

namespace gpool::transport::test {
namespace {

namespace wire = protocol::wire;

class SegmentParts : public ::testing::TestWithParam<TransportCase> {
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

// Receives `seg` of `total` bytes in pieces of `piece` bytes and checks the pattern.
void receive_in_pieces(Connection& c, size_t total, size_t piece, uint64_t seed) {
  std::vector<std::byte> dest(total);
  size_t off = 0;
  while (off < total) {
    ASSERT_EQ(c.segment_part_left(), total - off);
    const size_t n = std::min(piece, total - off);
    Status s = c.recv_segment_part(std::span(dest.data() + off, n));
    ASSERT_TRUE(s.ok()) << s.text;
    off += n;
  }
  EXPECT_TRUE(check_pattern(dest, seed));
}

TEST_P(SegmentParts, LargeAndSmallSegmentsArriveIntactInPieces) {
  std::vector<std::byte> big(size_t{9} << 20 | 12345), small(300);
  fill_pattern(big, 5);
  fill_pattern(small, 6);
  const ConstBytes segs[] = {big, small};
  auto sent = std::async(std::launch::async, [&] { return client().send(call(1, 2), segs); });
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  receive_in_pieces(server(), big.size(), size_t{2} << 20, 5);
  EXPECT_EQ(server().segments_left(), 1u);  // the first segment is complete
  receive_in_pieces(server(), small.size(), 7, 6);
  EXPECT_EQ(server().segments_left(), 0u);
  EXPECT_EQ(server().segment_part_left(), 0u);
  ASSERT_TRUE(sent.get().ok());
}

TEST_P(SegmentParts, RestAfterPartsIsSkippedOrReceived) {
  std::vector<std::byte> a(size_t{3} << 20), b(size_t{1} << 20);
  fill_pattern(a, 7);
  fill_pattern(b, 8);
  const ConstBytes segs[] = {a, b};
  auto sent = std::async(std::launch::async, [&] {
    Status s = client().send(call(1, 2), segs);
    if (s.ok()) s = client().send(call(2, 2), segs);
    return s.ok() ? client().send(ping(42)) : s;
  });
  FrameHead head;
  // Frame 1: part of segment 0, then recv_segment() takes exactly the rest.
  ASSERT_TRUE(server().recv_head(head).ok());
  std::vector<std::byte> got(a.size());
  ASSERT_TRUE(server().recv_segment_part(std::span(got.data(), 1000)).ok());
  std::vector<std::byte> too_small(10);
  EXPECT_EQ(server().recv_segment(too_small).code, Code::kInvalidArgument);  // not the rest
  ASSERT_TRUE(server().recv_segment(std::span(got.data() + 1000, got.size() - 1000)).ok());
  EXPECT_TRUE(check_pattern(got, 7));
  // Frame 2: part of segment 0 only; the next recv_head() skips the rest and segment 1.
  ASSERT_TRUE(server().recv_head(head).ok());
  EXPECT_EQ(head.envelope->message_as_Call()->call_id(), 2u);
  ASSERT_TRUE(server().recv_segment_part(std::span(got.data(), 5000)).ok());
  ASSERT_TRUE(server().recv_head(head).ok());
  ASSERT_EQ(head.envelope->message_type(), wire::Message_Ping);
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 42u);
  ASSERT_TRUE(sent.get().ok());
}

TEST_P(SegmentParts, OversizedOrEmptyPartIsRejectedAndConnectionStaysUsable) {
  std::vector<std::byte> a(4096);
  fill_pattern(a, 9);
  const ConstBytes segs[] = {a};
  ASSERT_TRUE(client().send(call(1, 1), segs).ok());
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  std::vector<std::byte> got(a.size() + 1);
  EXPECT_EQ(server().recv_segment_part(got).code, Code::kInvalidArgument);
  EXPECT_EQ(server().recv_segment_part(std::span(got.data(), 0)).code, Code::kInvalidArgument);
  ASSERT_TRUE(server().recv_segment_part(std::span(got.data(), a.size())).ok());
  EXPECT_TRUE(check_pattern(std::span(got.data(), a.size()), 9));
  EXPECT_EQ(server().recv_segment_part(std::span(got.data(), 1)).code, Code::kInvalidArgument);
  ASSERT_TRUE(client().send(ping(3)).ok());
  ASSERT_TRUE(server().recv_head(head).ok());
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 3u);
}

TEST_P(SegmentParts, PeerGoneAfterSomePartsIsDisconnectedAtTheNextHead) {
  std::vector<std::byte> a(size_t{4} << 20);
  fill_pattern(a, 10);
  const ConstBytes segs[] = {a};
  auto control = call(1, 1);
  auto sent = std::async(std::launch::async, [&] { return client().send(control, segs); });
  FrameHead head;
  ASSERT_TRUE(server().recv_head(head).ok());
  // Everything but the last 64 KiB, so the sender can finish whatever the socket buffers hold.
  const size_t tail = 64 << 10;
  std::vector<std::byte> got(a.size());
  ASSERT_TRUE(server().recv_segment_part(std::span(got.data(), a.size() - tail)).ok());
  ASSERT_TRUE(sent.get().ok());
  pair_.client.reset();  // the bytes already sent stay readable
  ASSERT_TRUE(server().recv_segment_part(std::span(got.data() + a.size() - tail, tail / 2)).ok());
  FrameHead next;
  Status s = server().recv_head(next);  // skips the last 32 KiB, then finds the peer gone
  EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
}

INSTANTIATE_TEST_SUITE_P(Transports, SegmentParts, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace gpool::transport::test
