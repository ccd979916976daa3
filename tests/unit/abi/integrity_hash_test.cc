// The integrity answer from explicit inputs: worked examples B, C and D of the facts (3.4).
#include "gpool/driver_abi/integrity_hash.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace gpool::abi {
namespace {

std::string hex(std::span<const uint8_t> d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::array<uint8_t, 16> uuid_from(std::initializer_list<int> bytes) {
  std::array<uint8_t, 16> u{};
  size_t i = 0;
  for (int b : bytes) u[i++] = static_cast<uint8_t>(b);
  return u;
}

// inner = MD2((K xor ipad) || M), recomputed to check the intermediate value too.
std::string inner_of(const std::vector<uint8_t>& m) {
  Md2 h;
  std::array<uint8_t, 16> ipad;
  for (size_t i = 0; i < 16; ++i) ipad[i] = kIntegrityKey[i] ^ 0x36;
  h.update(ipad);
  h.update(m);
  return hex(h.finish());
}

TEST(IntegrityHash, ExampleB) {
  IntegrityInputs in;
  in.driver_version = 13000;
  in.version = 13002;
  in.pid = 2116;
  in.thread = 0x9826b000;
  in.cudart_table = 0x7f8197e16460;
  in.integrity_table = 0x7f8197e16760;
  in.slot1_function = 0x7f8197dbf118;
  in.unix_secs = 1795564615;
  in.devices.push_back({uuid_from({0xfa, 0xce, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
                        0, 0x1a, 0});
  std::vector<uint8_t> m = integrity_message(in);
  ASSERT_EQ(m.size(), 76u);
  EXPECT_EQ(hex(m),
            "c8320000ca3200004408000000b02698"
            "6064e197817f00006067e197817f0000"
            "18f1db97817f00004724066b00000000"
            "facec0de0102030405060708090a0b0c000000001a00000000000000");
  EXPECT_EQ(inner_of(m), "f51ec95038068af2461f5e5e4416987f");
  Md2Digest answer = integrity_answer(in);
  EXPECT_EQ(hex(answer), "7e59826bc9c247c387d7752335325b5b");
  uint64_t out[2];
  std::memcpy(out, answer.data(), 16);
  EXPECT_EQ(out[0], 0xc347c2c96b82597eULL);
  EXPECT_EQ(out[1], 0x5b5b32352375d787ULL);
}

TEST(IntegrityHash, ExampleCTwoDevices) {
  IntegrityInputs in;
  in.driver_version = 13000;
  in.version = 13002;
  in.pid = 2165;
  in.thread = 0x1b6b2000;
  in.cudart_table = 0x7fb11b6a6460;
  in.integrity_table = 0x7fb11b6a6760;
  in.slot1_function = 0x7fb11b64f118;
  in.unix_secs = 1795564616;
  in.devices.push_back({uuid_from({0xfa, 0xce, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
                        3, 0x1a, 5});
  in.devices.push_back({uuid_from({0xfa, 0xce, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13}),
                        3, 0x1b, 5});
  std::vector<uint8_t> m = integrity_message(in);
  ASSERT_EQ(m.size(), 104u);
  EXPECT_EQ(inner_of(m), "1b26abba71526aa15993e92286f1a214");
  EXPECT_EQ(hex(integrity_answer(in)), "cce93e30d4b4b07dbceb8f4f31a9ca63");

  // Swapping the devices changes the answer (cudart rejects swapped devices).
  std::swap(in.devices[0], in.devices[1]);
  EXPECT_NE(hex(integrity_answer(in)), "cce93e30d4b4b07dbceb8f4f31a9ca63");
}

TEST(IntegrityHash, ExampleD) {
  IntegrityInputs in;
  in.driver_version = 13000;
  in.version = 13002;
  in.pid = 1234;
  in.thread = 0x89abcdef;
  in.cudart_table = 0x1000;
  in.integrity_table = 0x2000;
  in.slot1_function = 0x3000;
  in.unix_secs = 1700000000;
  in.devices.push_back(
      {uuid_from({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}), 0, 1, 0});
  std::vector<uint8_t> m = integrity_message(in);
  EXPECT_EQ(hex(m),
            "c8320000ca320000d2040000efcdab89"
            "00100000000000000020000000000000"
            "003000000000000000f1536500000000"
            "000102030405060708090a0b0c0d0e0f000000000100000000000000");
  EXPECT_EQ(inner_of(m), "fbe8a9cd8cb4d8716e61a1ffe4eb3bd1");
  EXPECT_EQ(hex(integrity_answer(in)), "8009a01ddcf1a826a043d0877f922cb0");
}

TEST(IntegrityHash, EveryFieldChangesTheAnswer) {
  IntegrityInputs base;
  base.driver_version = 13000;
  base.version = 13002;
  base.devices.resize(1);
  const std::string reference = hex(integrity_answer(base));
  auto flipped = [&](auto mutate) {
    IntegrityInputs in = base;
    mutate(in);
    return hex(integrity_answer(in));
  };
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.driver_version ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.version ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.pid ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.thread ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.cudart_table ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.integrity_table ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.slot1_function ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.unix_secs ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.devices[0].uuid[15] ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.devices[0].pci_domain ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.devices[0].pci_bus ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.devices[0].pci_device ^= 1; }), reference);
  EXPECT_NE(flipped([](IntegrityInputs& i) { i.devices.clear(); }), reference);
}

}  // namespace
}  // namespace gpool::abi
