// MD2 (RFC 1319) and HMAC-MD2 (RFC 2104 over MD2, block size 16), as used by the
// INTEGRITY_CHECK export table (section 3 of cuda-driver-facts.md). Not for security: MD2 is
// broken; it is here only because cudart checks this exact keyed hash.
//
// Thread safety: Md2 objects are not shared; the free functions are pure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace gpool::abi {

using Md2Digest = std::array<uint8_t, 16>;

// Incremental MD2. update() any number of times, then finish() once.
class Md2 {
 public:
  void update(std::span<const uint8_t> data);
  // Pads, folds in the checksum and returns the digest. The object must not be used afterwards.
  Md2Digest finish();

 private:
  void process_block(const uint8_t* block);

  std::array<uint8_t, 48> x_{};         // work buffer X
  std::array<uint8_t, 16> checksum_{};  // C
  std::array<uint8_t, 16> pending_{};   // bytes not yet forming a whole block
  size_t pending_len_ = 0;
  uint8_t last_ = 0;                    // L, the last checksum byte
};

Md2Digest md2(std::span<const uint8_t> data);

// HMAC-MD2 with a key of at most 16 bytes (longer keys are hashed first, as RFC 2104 says).
Md2Digest hmac_md2(std::span<const uint8_t> key, std::span<const uint8_t> message);

}  // namespace gpool::abi
