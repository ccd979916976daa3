// Raw TCP baselines for gpool-bench-transport: plain blocking sockets with TCP_NODELAY, no
// framing, no verification: what the link itself costs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gpool::bench {

// Round-trip times in nanoseconds of `iters` ping-pongs of `bytes` bytes each way (after
// `warmup` untimed ones), against an echo thread over 127.0.0.1.
std::vector<double> raw_ping_pong(size_t bytes, int warmup, int iters);

// Seconds to stream `bytes` to a receiver thread (recv straight into a destination buffer) and
// get a 1-byte acknowledgement back, one value per repetition.
std::vector<double> raw_stream(size_t bytes, int reps);

// Client CPU seconds to send `count` messages of `bytes` bytes each, one send() per message,
// with a thread draining the other end.
double raw_small_sends_cpu(size_t bytes, int count);

}  // namespace gpool::bench
