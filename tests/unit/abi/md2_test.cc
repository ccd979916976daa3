// MD2 against RFC 1319 A.5 and HMAC-MD2 against the facts' extra vector (section 3).
#include "gpool/driver_abi/md2.h"

#include <gtest/gtest.h>

#include <string>

#include "gpool/driver_abi/integrity_hash.h"

namespace gpool::abi {
namespace {

std::string hex(const Md2Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Md2, Rfc1319Vectors) {
  EXPECT_EQ(hex(md2(bytes(""))), "8350e5a3e24c153df2275c9f80692773");
  EXPECT_EQ(hex(md2(bytes("abc"))), "da853b0d3f88d99b30283a69e6ded6bb");
  EXPECT_EQ(hex(md2(bytes("message digest"))), "ab4f496bfb2a530b219ff33031fe06b0");
  std::string digits;
  for (int i = 0; i < 8; ++i) digits += "1234567890";
  EXPECT_EQ(hex(md2(bytes(digits))), "d5976f79d83d3a0dc9806c3c66f3efd8");
}

TEST(Md2, IncrementalUpdatesMatchOneShot) {
  std::string text = "the quick brown fox jumps over the lazy dog, 0123456789";
  for (size_t split = 0; split <= text.size(); split += 7) {
    Md2 h;
    h.update(bytes(text.substr(0, split)));
    h.update(bytes(text.substr(split)));
    EXPECT_EQ(h.finish(), md2(bytes(text))) << "split at " << split;
  }
}

TEST(HmacMd2, EmptyMessageWithIntegrityKey) {
  EXPECT_EQ(hex(hmac_md2(kIntegrityKey, {})), "f66b07aba4a875ea140c2cc013a41c6a");
}

TEST(HmacMd2, LongKeysAreHashedFirst) {
  std::string long_key(40, 'k');
  Md2Digest hashed = md2(bytes(long_key));
  EXPECT_EQ(hmac_md2(bytes(long_key), bytes("m")), hmac_md2(hashed, bytes("m")));
  EXPECT_NE(hmac_md2(bytes(long_key), bytes("m")), hmac_md2(kIntegrityKey, bytes("m")));
}

}  // namespace
}  // namespace gpool::abi
