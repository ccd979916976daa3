// SHA-256 and lower-case hex, for content hashes of device-code images and hashes of tenant
// tokens (used by protocol/, server/ and client-shim/; library gpool_common_hash).
//
// Errors: none (OpenSSL's one-shot digest cannot fail for in-memory input).
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace gpool::hash {

// SHA-256 of `bytes`.
std::array<uint8_t, 32> sha256(std::span<const std::byte> bytes);
// `bytes` as lower-case hex digits, two per byte.
std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace gpool::hash
