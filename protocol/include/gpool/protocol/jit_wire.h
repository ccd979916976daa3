// JIT options and JIT logs on the wire: the optional tail of ModuleLoad / LibraryLoad and the
// options of LinkRun (protocol/calls/calls.toml). Header-only; the numbers are CUjit_option's
// (cuda.h), repeated here because protocol does not depend on cuda.h.
//
// Request: args [count, (option, value) x count]. Only options whose value is a plain number
// travel. The pointer-valued ones (the info/error log buffers) stay in the client: the server
// gives the backend log buffers of its own, sized by the *_SIZE_BYTES values the client sends
// (at most kMaxLogBytes each). Options that bind device symbols to host addresses (17-19) and
// the referenced-kernel/variable lists (25-28) cannot travel: the shim refuses them.
// Answer: after the call's own results, [info_used, error_used, wall_time (float bits),
// threads_per_block out]; inline data: info_used bytes of info log then error_used bytes of
// error log (each NUL-terminated when non-empty, as the driver writes them).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpool::protocol::jit {

inline constexpr uint64_t kMaxOptions = 64;
inline constexpr uint64_t kMaxLogBytes = 16 * 1024;

inline constexpr int kMaxRegisters = 0, kThreadsPerBlock = 1, kWallTime = 2, kInfoLogBuffer = 3,
                     kInfoLogSize = 4, kErrorLogBuffer = 5, kErrorLogSize = 6;
inline constexpr int kNumOptions = 35;  // CU_JIT_NUM_OPTIONS of CUDA 13.0

// An option whose value may be sent as a number (not a pointer, not an output-only slot).
inline bool sendable_option(int o) {
  if (o < 0 || o >= kNumOptions) return false;
  if (o == kInfoLogBuffer || o == kErrorLogBuffer) return false;
  if (o >= 17 && o <= 19) return false;  // CU_JIT_GLOBAL_SYMBOL_NAMES/ADDRESSES/COUNT
  if (o >= 25 && o <= 28) return false;  // CU_JIT_REFERENCED_KERNEL/VARIABLE_NAMES/COUNT
  return true;
}

}  // namespace gpool::protocol::jit
