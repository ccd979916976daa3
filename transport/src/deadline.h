// A point in time by which a transport operation must finish (internal).
//
// Thread safety: plain value.
#pragma once

#include <chrono>
#include <optional>

#include <time.h>

namespace gpool::transport {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // No deadline.
  Deadline() = default;

  // `timeout` of zero means no deadline.
  static Deadline after(std::chrono::milliseconds timeout) {
    Deadline d;
    if (timeout.count() > 0) d.at_ = Clock::now() + timeout;
    return d;
  }

  // Already passed: an operation takes what is there without waiting.
  static Deadline expired() {
    Deadline d;
    d.at_ = Clock::now();
    return d;
  }

  bool infinite() const { return !at_.has_value(); }
  bool passed() const { return at_ && Clock::now() >= *at_; }

  // Time left, at least zero. REQUIRES: !infinite().
  std::chrono::nanoseconds remaining() const {
    auto left = *at_ - Clock::now();
    return left.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
                            : std::chrono::nanoseconds(0);
  }

  // Milliseconds left for poll(): -1 when infinite, at least 1 while not passed.
  int poll_ms() const {
    if (!at_) return -1;
    auto ns = remaining().count();
    if (ns <= 0) return 0;
    return static_cast<int>((ns + 999'999) / 1'000'000);
  }

  // Time left as a timespec (for io_uring waits). REQUIRES: !infinite().
  timespec remaining_timespec() const {
    auto ns = remaining().count();
    return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  }

 private:
  std::optional<Clock::time_point> at_;
};

}  // namespace gpool::transport
