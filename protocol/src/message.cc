#include "gpool/protocol/message.h"

#include <fmt/format.h>

#include <vector>

#include "gpool/protocol/limits.h"

namespace gpool::protocol {
namespace {

Error fail(std::string text) { return Error::make(ErrorCode::kVerificationFailed, std::move(text)); }

Error oversized(std::string text) { return Error::make(ErrorCode::kOversized, std::move(text)); }

Error check_string(const flatbuffers::String* s, const char* what) {
  if (s != nullptr && s->size() > kMaxStringBytes) {
    return oversized(fmt::format("{} of {} bytes exceeds the limit of {} bytes", what, s->size(),
                                 kMaxStringBytes));
  }
  return Error::success();
}

template <typename V>
Error check_count(const V* v, size_t limit, const char* what) {
  if (v != nullptr && v->size() > limit) {
    return oversized(fmt::format("{} has {} entries, above the limit of {}", what, v->size(), limit));
  }
  return Error::success();
}

// A Call or Reply must name each of the frame's segments exactly once.
Error check_segment_refs(const flatbuffers::Vector<uint32_t>* refs, uint32_t segment_count,
                         const char* what) {
  const uint32_t n = refs == nullptr ? 0 : refs->size();
  if (n != segment_count) {
    return fail(fmt::format("{} names {} segments but the frame has {}", what, n, segment_count));
  }
  std::vector<bool> seen(segment_count, false);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t idx = refs->Get(i);
    if (idx >= segment_count) {
      return fail(fmt::format("{} names segment {} but the frame has {}", what, idx, segment_count));
    }
    if (seen[idx]) return fail(fmt::format("{} names segment {} twice", what, idx));
    seen[idx] = true;
  }
  return Error::success();
}

Error check_no_segments(uint32_t segment_count, const char* what) {
  if (segment_count != 0) {
    return fail(fmt::format("{} carries no bulk data but the frame has {} segments", what,
                            segment_count));
  }
  return Error::success();
}

#define GPOOL_TRY(expr)                 \
  do {                                  \
    if (Error e_ = (expr); !e_.ok()) return e_; \
  } while (0)

// FlatBuffers' verifier checks a vector's length field alignment, not its elements': a vector
// of 8-byte values at a 4-aligned offset passes it and each read is then misaligned (undefined
// behaviour; found by fuzz_call). Builders always align them (the buffer itself is 8-aligned).
template <typename V>
Error check_aligned8(const V* v, const char* what) {
  if (v == nullptr || v->size() == 0 || reinterpret_cast<uintptr_t>(v->Data()) % 8 == 0) {
    return Error::success();
  }
  return fail(fmt::format("{} are not 8-byte aligned", what));
}

Error check_client(const wire::ClientInfo* c) {
  if (c == nullptr) return Error::success();
  GPOOL_TRY(check_string(c->hostname(), "client hostname"));
  GPOOL_TRY(check_string(c->program(), "client program"));
  return check_string(c->shim_version(), "client shim version");
}

Error check_message(const wire::Envelope& env, uint32_t segment_count) {
  switch (env.message_type()) {
    case wire::Message_NONE:
      return fail("envelope holds no message");
    default:
      break;
  }
  // The verifier accepts a union type without its table; gpool does not.
  if (env.message() == nullptr) {
    return fail(fmt::format("envelope says {} but holds no message table",
                            message_type_name(env.message_type())));
  }
  switch (env.message_type()) {
    case wire::Message_NONE:
      break;
    case wire::Message_Hello: {
      const auto* m = env.message_as_Hello();
      GPOOL_TRY(check_string(m->token(), "hello token"));
      GPOOL_TRY(check_client(m->client()));
      return check_no_segments(segment_count, "hello");
    }
    case wire::Message_Welcome: {
      const auto* m = env.message_as_Welcome();
      if (const auto* s = m->server()) {
        GPOOL_TRY(check_string(s->hostname(), "server hostname"));
        GPOOL_TRY(check_string(s->server_version(), "server version"));
        GPOOL_TRY(check_string(s->backend(), "server backend"));
      }
      return check_no_segments(segment_count, "welcome");
    }
    case wire::Message_Refusal:
      GPOOL_TRY(check_string(env.message_as_Refusal()->text(), "refusal text"));
      return check_no_segments(segment_count, "refusal");
    case wire::Message_Abort:
      GPOOL_TRY(check_string(env.message_as_Abort()->text(), "abort text"));
      return check_no_segments(segment_count, "abort");
    case wire::Message_Unimplemented:
      return check_no_segments(segment_count, "unimplemented");
    case wire::Message_Ping:
      return check_no_segments(segment_count, "ping");
    case wire::Message_Pong:
      return check_no_segments(segment_count, "pong");
    case wire::Message_Call: {
      const auto* m = env.message_as_Call();
      GPOOL_TRY(check_count(m->args(), kMaxCallArgs, "call args"));
      GPOOL_TRY(check_count(m->handles(), kMaxCallArgs, "call handles"));
      GPOOL_TRY(check_aligned8(m->args(), "call args"));
      GPOOL_TRY(check_aligned8(m->handles(), "call handles"));
      GPOOL_TRY(check_count(m->inline_data(), kMaxInlineBytes, "call inline data"));
      return check_segment_refs(m->segments(), segment_count, "call");
    }
    case wire::Message_Reply: {
      const auto* m = env.message_as_Reply();
      GPOOL_TRY(check_count(m->results(), kMaxCallArgs, "reply results"));
      GPOOL_TRY(check_aligned8(m->results(), "reply results"));
      GPOOL_TRY(check_count(m->inline_data(), kMaxInlineBytes, "reply inline data"));
      return check_segment_refs(m->segments(), segment_count, "reply");
    }
  }
  // A member added by a newer peer: the verifier could not look inside it, the receiver
  // answers Unimplemented. Its segments (if any) are skipped by the receiver.
  return Error::success();
}

#undef GPOOL_TRY

}  // namespace

Error verify_envelope(std::span<const std::byte> control, uint32_t segment_count,
                      const wire::Envelope*& out) {
  const auto* data = reinterpret_cast<const uint8_t*>(control.data());
  if (control.size() < sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength) {
    return fail(fmt::format("control message of {} bytes is too short for an envelope",
                            control.size()));
  }
  if (control.size() > kMaxControlBytes) {
    return oversized(fmt::format("control message of {} bytes exceeds the limit of {} bytes",
                                 control.size(), kMaxControlBytes));
  }
  if (!wire::EnvelopeBufferHasIdentifier(data)) {
    return fail("control message does not carry the gpool envelope identifier");
  }
  flatbuffers::Verifier verifier(data, control.size(), kMaxVerifierDepth, kMaxVerifierTables);
  if (!wire::VerifyEnvelopeBuffer(verifier)) {
    return fail(fmt::format("control message of {} bytes is not a valid envelope",
                            control.size()));
  }
  const wire::Envelope* env = wire::GetEnvelope(data);
  if (Error e = check_message(*env, segment_count); !e.ok()) return e;
  out = env;
  return Error::success();
}

std::string message_type_name(uint8_t type) {
  if (type <= wire::Message_MAX) return wire::EnumNameMessage(static_cast<wire::Message>(type));
  return fmt::format("unknown({})", type);
}

}  // namespace gpool::protocol
