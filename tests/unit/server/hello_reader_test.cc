// HelloReader (hello_reader.h): a Hello arriving in any pieces completes; garbage, oversized
// frames, segments and bytes after the Hello fail as early as they can be seen.
#include <gtest/gtest.h>

#include <vector>

#include "gpool/protocol/frame.h"
#include "hello_reader.h"

namespace gpool::server {
namespace {

namespace wire = protocol::wire;

std::vector<std::byte> hello_frame(const std::string& token) {
  flatbuffers::FlatBufferBuilder fbb;
  auto info = wire::CreateClientInfo(fbb, fbb.CreateString("host"), 42, fbb.CreateString("prog"),
                                     fbb.CreateString("0.1.0"));
  auto h = wire::CreateHello(fbb, protocol::kProtocolVersion, fbb.CreateString(token), info);
  protocol::finish_envelope(fbb, h);
  std::vector<std::byte> out;
  EXPECT_TRUE(protocol::encode_frame(protocol::finished_bytes(fbb), {}, out).ok());
  return out;
}

TEST(HelloReaderTest, CompletesFromSingleBytes) {
  const std::vector<std::byte> f = hello_frame("tok");
  HelloReader r;
  for (size_t i = 0; i + 1 < f.size(); ++i) {
    ASSERT_EQ(r.feed(std::span(f).subspan(i, 1)), HelloReader::State::need_more) << i;
  }
  ASSERT_EQ(r.feed(std::span(f).subspan(f.size() - 1)), HelloReader::State::done) << r.error();
  ASSERT_NE(r.hello(), nullptr);
  EXPECT_EQ(r.hello()->token()->str(), "tok");
  EXPECT_EQ(r.hello()->client()->pid(), 42u);
}

TEST(HelloReaderTest, GarbageFailsAfterTheHeader) {
  std::vector<std::byte> junk(32, std::byte{'A'});
  HelloReader r;
  EXPECT_EQ(r.feed(std::span(junk).first(31)), HelloReader::State::need_more);
  EXPECT_EQ(r.feed(std::span(junk).subspan(31)), HelloReader::State::failed);
  EXPECT_NE(r.error().find("bad frame header"), std::string::npos) << r.error();
}

TEST(HelloReaderTest, BytesAfterTheHelloFail) {
  std::vector<std::byte> f = hello_frame("tok");
  f.push_back(std::byte{0});
  HelloReader r;
  EXPECT_EQ(r.feed(f), HelloReader::State::failed);
  EXPECT_NE(r.error().find("bytes after the first frame"), std::string::npos) << r.error();
  HelloReader r2;
  const std::vector<std::byte> g = hello_frame("tok");
  ASSERT_EQ(r2.feed(g), HelloReader::State::done);
  EXPECT_EQ(r2.feed(std::span(f).first(1)), HelloReader::State::failed);
}

TEST(HelloReaderTest, OversizedFrameFailsFromItsHeader) {
  // A header claiming a large control message: refused before the rest arrives.
  protocol::FrameHeader header;
  const std::vector<uint64_t> none;
  ASSERT_TRUE(protocol::make_header(64 * 1024, none, header).ok());
  const auto bytes = protocol::encode_header(header);
  HelloReader r;
  EXPECT_EQ(r.feed(std::as_bytes(std::span(bytes))), HelloReader::State::failed);
  EXPECT_NE(r.error().find("at most"), std::string::npos) << r.error();
}

TEST(HelloReaderTest, FrameWithSegmentsFails) {
  flatbuffers::FlatBufferBuilder fbb;
  auto h = wire::CreateHello(fbb, 1, fbb.CreateString("t"), 0);
  protocol::finish_envelope(fbb, h);
  std::vector<std::byte> seg(8, std::byte{1});
  const std::span<const std::byte> segs[] = {seg};
  std::vector<std::byte> out;
  ASSERT_TRUE(protocol::encode_frame(protocol::finished_bytes(fbb), segs, out).ok());
  HelloReader r;
  EXPECT_EQ(r.feed(out), HelloReader::State::failed);
  EXPECT_NE(r.error().find("segments"), std::string::npos) << r.error();
}

TEST(HelloReaderTest, OtherFirstMessageIsDoneWithoutHello) {
  flatbuffers::FlatBufferBuilder fbb;
  auto a = wire::CreateAbort(fbb, wire::AbortReason_ProtocolViolation, fbb.CreateString("x"));
  protocol::finish_envelope(fbb, a);
  std::vector<std::byte> out;
  ASSERT_TRUE(protocol::encode_frame(protocol::finished_bytes(fbb), {}, out).ok());
  HelloReader r;
  ASSERT_EQ(r.feed(out), HelloReader::State::done) << r.error();
  EXPECT_EQ(r.hello(), nullptr);
  EXPECT_EQ(r.envelope()->message_type(), wire::Message_Abort);
}

TEST(HelloReaderTest, TooManyBytesFail) {
  std::vector<std::byte> lots(HelloReader::kMaxHelloBytes + 1, std::byte{0});
  HelloReader r;
  EXPECT_EQ(r.feed(lots), HelloReader::State::failed);
}

}  // namespace
}  // namespace gpool::server
