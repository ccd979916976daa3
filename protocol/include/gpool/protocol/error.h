// Errors of the wire format (frame decoding and control message verification).
//
// Every error means the same thing to the caller: the peer sent bytes that are not a valid
// gpool frame, so the connection (and only that session) must be closed, after logging
// `text` and, when possible, sending an Abort { MalformedFrame }. The code says which check
// failed, for logs, metrics and tests; none is retryable.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace gpool::protocol {

enum class ErrorCode : uint8_t {
  kOk = 0,
  kTruncated,           // fewer bytes than the header or the header's lengths require
  kOversized,           // a length or count above a limit of limits.h
  kBadMagic,            // not a gpool frame (or the stream lost synchronisation)
  kBadVersion,          // a framing version this build does not speak
  kBadHeader,           // checksum mismatch, unknown flag bits, non-zero reserved field
  kBadSegmentTable,     // segment lengths disagree with the header's total
  kVerificationFailed,  // the control message is not a valid Envelope, or refers to
                        // segments the frame does not have
};

// Short stable name of a code ("truncated", "bad magic", ...).
const char* error_code_name(ErrorCode code);

// An error code plus a lowercase human-readable explanation (empty when ok).
struct Error {
  ErrorCode code = ErrorCode::kOk;
  std::string text;

  bool ok() const { return code == ErrorCode::kOk; }
  static Error success() { return {}; }
  static Error make(ErrorCode code, std::string text) { return {code, std::move(text)}; }
};

}  // namespace gpool::protocol
