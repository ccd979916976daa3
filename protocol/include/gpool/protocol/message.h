// Control messages: verification of received Envelopes and helpers to build them.
//
// The generated FlatBuffers API (namespace gpool::protocol::wire, from protocol/schema/gpool.fbs, built
// into the build tree as gpool_generated.h) is included from here; code outside protocol/
// includes this header, never the generated one directly.
//
// Errors: verify_envelope() returns a non-ok Error (error.h) for anything a receiver must not
// use. A verified Envelope may still hold a Message type this build does not know (a newer
// peer): `message_type()` is then above wire::Message_MAX and the receiver answers
// Unimplemented (see gpool.fbs).
//
// Thread safety: pure functions; a FlatBufferBuilder is used by one thread at a time.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "gpool/protocol/error.h"
#include "gpool_generated.h"

namespace gpool::protocol {

// Verifies that `control` is a valid Envelope of a frame with `segment_count` segments, then
// checks gpool's own rules: strings, vectors and inline data within limits.h, the union set,
// and segment references (a Call or Reply must name each of the frame's segments exactly once;
// other messages must come without segments).
// On success `out` points into `control`.
// REQUIRES: `control` is 8-byte aligned (any heap buffer is; FlatBuffers checks alignment).
Error verify_envelope(std::span<const std::byte> control, uint32_t segment_count,
                      const wire::Envelope*& out);

// Finishes `fbb` with an Envelope holding `message` (any table of the Message union).
template <typename T>
void finish_envelope(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<T> message) {
  auto env = wire::CreateEnvelope(fbb, wire::MessageTraits<T>::enum_value, message.Union());
  wire::FinishEnvelopeBuffer(fbb, env);
}

// The finished bytes of `fbb`.
inline std::span<const std::byte> finished_bytes(const flatbuffers::FlatBufferBuilder& fbb) {
  return {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()};
}

// Human-readable name of a Message type ("Hello", ..., or "unknown(42)").
std::string message_type_name(uint8_t type);

}  // namespace gpool::protocol
