// Regressions found by the libFuzzer targets (fuzz/): each feeds the input that found the bug.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "gpool/protocol/message.h"

namespace gpool::protocol {
namespace {

// Found by fuzz_call: a Call whose `args` vector of 8-byte values sat at a 4-aligned offset
// passed FlatBuffers' verifier, and every read of an argument was then misaligned (undefined
// behaviour). verify_envelope now refuses it. (Input: segment count byte, then the control.)
TEST(RegressFuzzTest, MisalignedCallArgsFoundByFuzzing) {
  std::ifstream in(GPOOL_TEST_SOURCE_DIR "/fuzz/corpus/call/regress_misaligned_args.bin", std::ios::binary);
  const std::vector<char> input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(input.size(), 1u);
  std::vector<uint64_t> aligned((input.size() - 1 + 7) / 8);
  std::memcpy(aligned.data(), input.data() + 1, input.size() - 1);
  const wire::Envelope* env = nullptr;
  const Error e = verify_envelope({reinterpret_cast<const std::byte*>(aligned.data()), input.size() - 1},
                                  static_cast<uint8_t>(input[0]) % 70, env);
  EXPECT_FALSE(e.ok());
  EXPECT_NE(e.text.find("not 8-byte aligned"), std::string::npos) << e.text;
}

}  // namespace
}  // namespace gpool::protocol
