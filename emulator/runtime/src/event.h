// Events: a recorded position in a stream plus the time the stream reached it.
// Thread safety: all members may be used from any thread; `rec` needs `mu`.
#pragma once

#include "stream.h"

#include <atomic>
#include <memory>
#include <mutex>

namespace gpool::emu::rt {

struct EventRecord {
  std::shared_ptr<Stream> stream;
  uint64_t seq = 0;
  std::atomic<int64_t> time_ns{0};  // set by the stream worker when it reaches the record
};

struct Event final : Object {
  static constexpr Kind kKind = Kind::Event;
  Event() : Object(Kind::Event) {}
  Context* ctx = nullptr;
  unsigned flags = 0;
  std::mutex mu;
  std::shared_ptr<EventRecord> rec;  // guarded by mu; nullptr until first record
};

// Unregisters and deletes `e`. REQUIRES: `e` is no longer in its context's set.
void event_delete(Event* e);

}  // namespace gpool::emu::rt
