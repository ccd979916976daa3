#include "gpool/transport/status.h"

namespace gpool::transport {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kTimeout: return "timeout";
    case Code::kDisconnected: return "disconnected";
    case Code::kUnreachable: return "unreachable";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kProtocol: return "protocol error";
    case Code::kUnavailable: return "unavailable";
    case Code::kIo: return "i/o error";
  }
  return "unknown";
}

}  // namespace gpool::transport
