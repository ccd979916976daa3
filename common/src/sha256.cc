#include "gpool/common/sha256.h"

#include <openssl/evp.h>

namespace gpool::hash {

std::array<uint8_t, 32> sha256(std::span<const std::byte> bytes) {
  std::array<uint8_t, 32> digest{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, EVP_sha256(), nullptr);
  return digest;
}

bool normalize_sha256_hex(std::string_view text, std::string& out) {
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    hex += c;
  }
  if (hex.size() != 64) return false;
  out = std::move(hex);
  return true;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

}  // namespace gpool::hash
