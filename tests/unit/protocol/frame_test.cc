// Framing: header encoding, limits, every malformed-header class, truncation at every byte.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "gpool/protocol/frame.h"
#include "test_messages.h"

namespace gpool::protocol {
namespace {

using test::bytes_of;

std::vector<std::byte> sample_frame(size_t segments) {
  static const std::string control = "control-bytes";
  std::vector<std::string> payloads;
  for (size_t i = 0; i < segments; ++i) payloads.push_back(std::string(i * 3 + 1, static_cast<char>('a' + i)));
  std::vector<std::span<const std::byte>> segs;
  for (auto& p : payloads) segs.push_back(bytes_of(p));
  std::vector<std::byte> out;
  EXPECT_TRUE(encode_frame(bytes_of(control), segs, out).ok());
  return out;
}

// Rewrites the checksum after a test has modified header bytes, so later checks are reached.
void refresh_crc(std::vector<std::byte>& f) {
  const uint32_t crc = crc32c(std::span(f.data(), 28));
  for (int i = 0; i < 4; ++i) f[28 + i] = static_cast<std::byte>((crc >> (8 * i)) & 0xFF);
}

TEST(Crc32c, KnownVector) {
  // The standard check value of CRC-32C.
  EXPECT_EQ(crc32c(bytes_of("123456789")), 0xE3069283u);
}

TEST(FrameHeader, RoundTrip) {
  std::vector<uint64_t> lengths{10, 0, 1 << 20};
  FrameHeader h;
  ASSERT_TRUE(make_header(123, lengths, h).ok());
  EXPECT_EQ(h.segment_count, 3u);
  EXPECT_EQ(h.segment_bytes, 10u + (1 << 20));
  const HeaderBytes b = encode_header(h);
  EXPECT_EQ(std::memcmp(b.data(), "GPOL", 4), 0);
  FrameHeader d;
  ASSERT_TRUE(decode_header(b, d).ok());
  EXPECT_EQ(d.control_bytes, 123u);
  EXPECT_EQ(d.segment_count, 3u);
  EXPECT_EQ(d.segment_bytes, h.segment_bytes);
  EXPECT_EQ(d.frame_bytes(), 32u + 24u + 123u + h.segment_bytes);
}

TEST(FrameHeader, SenderLimits) {
  FrameHeader h;
  EXPECT_EQ(make_header(kMaxControlBytes + 1, {}, h).code, ErrorCode::kOversized);
  std::vector<uint64_t> many(kMaxSegments + 1, 1);
  EXPECT_EQ(make_header(10, many, h).code, ErrorCode::kOversized);
  std::vector<uint64_t> huge{kMaxSegmentBytes + 1};
  EXPECT_EQ(make_header(10, huge, h).code, ErrorCode::kOversized);
  std::vector<uint64_t> total(5, kMaxSegmentBytes);  // 20 GiB > frame limit
  Error e = make_header(10, total, h);
  EXPECT_EQ(e.code, ErrorCode::kOversized);
  EXPECT_NE(e.text.find("frame limit"), std::string::npos) << e.text;
  EXPECT_TRUE(make_header(kMaxControlBytes, std::vector<uint64_t>(kMaxSegments, kMaxFrameBytes / (2 * kMaxSegments)), h).ok());
}

TEST(FrameHeader, ReceiverLimits) {
  FrameHeader h;
  auto f = sample_frame(0);
  auto put32 = [&](size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) f[off + i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
  };
  put32(8, kMaxControlBytes + 1);
  refresh_crc(f);
  Error e = decode_header(f, h);
  EXPECT_EQ(e.code, ErrorCode::kOversized);
  EXPECT_NE(e.text.find("control message"), std::string::npos) << e.text;

  f = sample_frame(0);
  put32(12, kMaxSegments + 1);
  refresh_crc(f);
  EXPECT_EQ(decode_header(f, h).code, ErrorCode::kOversized);

  f = sample_frame(0);
  put32(12, 1);
  for (int i = 0; i < 8; ++i) f[16 + i] = std::byte{0xFF};  // segment bytes ~ 2^64
  refresh_crc(f);
  EXPECT_EQ(decode_header(f, h).code, ErrorCode::kOversized);
}

TEST(FrameHeader, BadMagicVersionChecksumFlagsReserved) {
  FrameHeader h;
  auto f = sample_frame(1);
  f[0] = std::byte{'X'};
  EXPECT_EQ(decode_header(f, h).code, ErrorCode::kBadMagic);

  f = sample_frame(1);
  f[4] = std::byte{2};
  refresh_crc(f);
  Error e = decode_header(f, h);
  EXPECT_EQ(e.code, ErrorCode::kBadVersion);
  EXPECT_NE(e.text.find("framing version 2"), std::string::npos) << e.text;

  f = sample_frame(1);
  f[9] ^= std::byte{1};  // control length changed, checksum not updated
  EXPECT_EQ(decode_header(f, h).code, ErrorCode::kBadHeader);

  f = sample_frame(1);
  f[6] = std::byte{1};
  refresh_crc(f);
  EXPECT_EQ(decode_header(f, h).code, ErrorCode::kBadHeader);

  f = sample_frame(1);
  f[24] = std::byte{1};
  refresh_crc(f);
  EXPECT_EQ(decode_header(f, h).code, ErrorCode::kBadHeader);
}

TEST(SegmentTable, LengthsMustAddUpAndStayWithinLimits) {
  auto f = sample_frame(2);  // segments of 1 and 4 bytes
  FrameHeader h;
  ASSERT_TRUE(decode_header(f, h).ok());
  std::vector<uint64_t> lengths;
  ASSERT_TRUE(decode_segment_table(h, std::span(f).subspan(32), lengths).ok());
  EXPECT_EQ(lengths, (std::vector<uint64_t>{1, 4}));

  f[32] = std::byte{2};  // first segment now 2 bytes: sum 6 != 5
  EXPECT_EQ(decode_segment_table(h, std::span(f).subspan(32), lengths).code, ErrorCode::kBadSegmentTable);
  for (int i = 0; i < 8; ++i) f[32 + i] = std::byte{0xFF};
  EXPECT_EQ(decode_segment_table(h, std::span(f).subspan(32), lengths).code, ErrorCode::kOversized);
  EXPECT_EQ(decode_segment_table(h, std::span(f).subspan(32, 15), lengths).code, ErrorCode::kTruncated);

  // No segments but a non-zero total.
  auto g = sample_frame(0);
  g[16] = std::byte{1};
  refresh_crc(g);
  EXPECT_EQ(decode_header(g, h).code, ErrorCode::kBadSegmentTable);
}

class FrameRoundTrip : public ::testing::TestWithParam<size_t> {};

TEST_P(FrameRoundTrip, SegmentsComeBackIntact) {
  const size_t n = GetParam();
  auto f = sample_frame(n);
  FrameView v;
  size_t consumed = 0;
  ASSERT_TRUE(decode_frame(f, v, consumed).ok());
  EXPECT_EQ(consumed, f.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.control.data()), v.control.size()), "control-bytes");
  ASSERT_EQ(v.segments.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.segments[i].data()), v.segments[i].size()),
              std::string(i * 3 + 1, static_cast<char>('a' + i)));
  }
}

INSTANTIATE_TEST_SUITE_P(Counts, FrameRoundTrip, ::testing::Values(0, 1, 2, 7, kMaxSegments));

TEST(Frame, TruncatedAtEveryByteBoundary) {
  auto f = sample_frame(3);
  for (size_t cut = 0; cut < f.size(); ++cut) {
    FrameView v;
    size_t consumed = 0;
    Error e = decode_frame(std::span(f.data(), cut), v, consumed);
    EXPECT_EQ(e.code, ErrorCode::kTruncated) << "cut at " << cut << ": " << e.text;
  }
  // Trailing bytes belong to the next frame.
  f.push_back(std::byte{0});
  FrameView v;
  size_t consumed = 0;
  ASSERT_TRUE(decode_frame(f, v, consumed).ok());
  EXPECT_EQ(consumed, f.size() - 1);
}

TEST(Frame, ErrorNamesAreStable) {
  EXPECT_STREQ(error_code_name(ErrorCode::kTruncated), "truncated");
  EXPECT_STREQ(error_code_name(ErrorCode::kOversized), "oversized");
  EXPECT_STREQ(error_code_name(ErrorCode::kBadMagic), "bad magic");
  EXPECT_STREQ(error_code_name(ErrorCode::kBadVersion), "bad version");
  EXPECT_STREQ(error_code_name(ErrorCode::kVerificationFailed), "verification failed");
}

}  // namespace
}  // namespace gpool::protocol
