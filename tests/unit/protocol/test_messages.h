// Builders of one sample Envelope per Message kind, shared by the protocol tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpool/protocol/message.h"

namespace gpool::protocol::test {

// A finished Envelope holding a sample of `type` (a wire::Message value). For Call and Reply
// the message names `segments` segments (indices 0..segments-1 in reverse order).
std::vector<std::byte> sample_envelope(wire::Message type, uint32_t segments = 0);

// All message types of the union, NONE excluded.
std::vector<wire::Message> all_message_types();

inline std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace gpool::protocol::test
