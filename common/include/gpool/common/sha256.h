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
#include <string_view>

namespace gpool::hash {

// SHA-256 of `bytes`.
std::array<uint8_t, 32> sha256(std::span<const std::byte> bytes);
// `bytes` as lower-case hex digits, two per byte.
std::string to_hex(std::span<const uint8_t> bytes);
// A SHA-256 as people write it ("AB:cd:..." as openssl prints a fingerprint, or "abcd...": 64
// hex digits in either case, colons anywhere) as 64 lower-case hex digits in `out`; false (out
// untouched) when `text` is not that. Used for certificate fingerprints (the server's
// client_cert_sha256, a tls:// client's pinned fingerprint).
bool normalize_sha256_hex(std::string_view text, std::string& out);

}  // namespace gpool::hash
