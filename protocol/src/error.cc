#include "gpool/protocol/error.h"

namespace gpool::protocol {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kOversized: return "oversized";
    case ErrorCode::kBadMagic: return "bad magic";
    case ErrorCode::kBadVersion: return "bad version";
    case ErrorCode::kBadHeader: return "bad header";
    case ErrorCode::kBadSegmentTable: return "bad segment table";
    case ErrorCode::kVerificationFailed: return "verification failed";
  }
  return "unknown";
}

}  // namespace gpool::protocol
