// Transport errors, sorted by what the caller does about them.
//
//   kOk               success.
//   kTimeout          a configured or per-call timeout passed. After a recv_head() timeout the
//                     connection is still usable (nothing of the next frame was consumed); after
//                     any other timeout a frame is half sent or half received and the
//                     connection is broken: close it.
//   kDisconnected     the peer closed or reset the connection, or keepalive declared it dead, or
//                     shutdown() was called: release the session; a client may reconnect.
//   kUnreachable      connect() found no listener (refused, unreachable, name not resolved):
//                     retry later or fix the URL.
//   kInvalidArgument  the caller's mistake: a malformed URL, an unknown scheme, a segment
//                     buffer of the wrong size, a frame above the protocol limits. Fix the
//                     caller; the connection is unaffected unless stated otherwise.
//   kProtocol         the peer sent bytes that are not a valid gpool frame (see
//                     gpool/protocol/error.h): log the text, send Abort if possible, close.
//   kUnavailable      the requested transport implementation cannot run here (e.g. io_uring
//                     explicitly requested but disabled by the kernel or a seccomp profile).
//   kIo               any other system error (text names the call and errno): close.
//
// Once a connection reports kDisconnected, kProtocol, kIo or a mid-frame kTimeout, every later
// call on it returns that same error again (it is sticky) without touching the socket.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace gpool::transport {

enum class Code : uint8_t {
  kOk = 0,
  kTimeout,
  kDisconnected,
  kUnreachable,
  kInvalidArgument,
  kProtocol,
  kUnavailable,
  kIo,
};

const char* code_name(Code code);

struct Status {
  Code code = Code::kOk;
  std::string text;  // lowercase, says what failed and why; empty when ok
  int sys_errno = 0; // the errno behind the error, when there is one

  bool ok() const { return code == Code::kOk; }
  static Status success() { return {}; }
  static Status make(Code code, std::string text, int sys_errno = 0) {
    return {code, std::move(text), sys_errno};
  }
};

}  // namespace gpool::transport
