// Bounded fuzzing of the decoders with a fixed seed: random garbage and mutated valid frames
// must be rejected or accepted without crashing (run under ASan/UBSan in the sanitizer build).
#include <gtest/gtest.h>

#include <random>

#include "gpool/protocol/frame.h"
#include "gpool/protocol/message.h"
#include "test_messages.h"

namespace gpool::protocol {
namespace {

// Decodes a whole frame and, when that works, verifies its control message on an aligned copy.
bool decode_all(std::span<const std::byte> bytes) {
  FrameView v;
  size_t consumed = 0;
  if (!decode_frame(bytes, v, consumed).ok()) return false;
  std::vector<std::byte> control(v.control.begin(), v.control.end());
  const wire::Envelope* env = nullptr;
  if (!verify_envelope(control, v.header.segment_count, env).ok()) return false;
  return env != nullptr;
}

TEST(Fuzz, RandomGarbageIsRejected) {
  std::mt19937_64 rng(0x6770'6f6f'6cull);
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> buf(rng() % 256);
    for (auto& b : buf) b = static_cast<std::byte>(rng());
    if (decode_all(buf)) ++accepted;
  }
  // Random bytes essentially never carry the magic and a valid checksum.
  EXPECT_EQ(accepted, 0u);
}

TEST(Fuzz, MutatedFramesNeverCrash) {
  std::mt19937_64 rng(42);
  const std::string seg = "segment-data";
  std::vector<std::vector<std::byte>> seeds;
  for (wire::Message t : test::all_message_types()) {
    const bool bulk = t == wire::Message_Call || t == wire::Message_Reply;
    auto control = test::sample_envelope(t, bulk ? 1 : 0);
    std::vector<std::span<const std::byte>> segs;
    if (bulk) segs.push_back(test::bytes_of(seg));
    std::vector<std::byte> frame;
    ASSERT_TRUE(encode_frame(control, segs, frame).ok());
    ASSERT_TRUE(decode_all(frame));
    seeds.push_back(std::move(frame));
  }
  size_t rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    auto f = seeds[rng() % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    // Mostly mutate the control message (the header is checksummed and would reject quickly).
    for (int k = 0; k < flips; ++k) {
      const size_t lo = (rng() % 8 == 0) ? 0 : 32;
      const size_t pos = lo + rng() % (f.size() - lo);
      f[pos] = static_cast<std::byte>(rng());
    }
    if (rng() % 8 == 0) f.resize(rng() % f.size());
    if (!decode_all(f)) ++rejected;
  }
  EXPECT_GT(rejected, 0u);  // the fuzzer does reach the rejection paths
}

}  // namespace
}  // namespace gpool::protocol
