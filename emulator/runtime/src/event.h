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
  // Last recorded in a capturing stream (capture.h), guarded by graph_mu():
  // the capture and the recording stream's dependencies at that point.
  std::shared_ptr<Capture> cap;
  std::vector<GraphNode*> cap_nodes;
};

// Records `e` at the current end of `s` (no capture checks).
void event_record_on(Event* e, const std::shared_ptr<Stream>& s);
// Makes later work of `s` wait for `e`'s last record (no capture checks).
void event_wait_on(const std::shared_ptr<Stream>& s, Event* e);

// Unregisters and deletes `e`. REQUIRES: `e` is no longer in its context's set.
void event_delete(Event* e);

}  // namespace gpool::emu::rt
