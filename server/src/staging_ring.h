// StagingRing: the worker's pinned host buffers through which copies flow in chunks
// (issue 3: copies pipelined so the link stays full).
//
//   H2D: network -> slot k -> cuMemcpyHtoDAsync, while the next chunk is received into slot k+1
//   D2H: cuMemcpyDtoHAsync -> slot k -> network, while the device fills slots k+1, k+2, ...
//
// The ring has `slots` buffers of `chunk` bytes, allocated together with cuMemHostAlloc (page
// locked, so the driver copies asynchronously by DMA); when the backend cannot pin memory, plain
// heap memory is used (correct, but the driver then copies synchronously). Each slot has an
// event recorded after the device copy that reads or fills it; acquire() hands out slots in
// turn and waits for that event first, so a slot is never overwritten while the device still
// reads it, and an async H2D may leave its last chunks in flight after the call returns (the
// next use of the slot, or drain(), waits for them).
//
// Held streams (docs/architecture.md "Copies into a held stream"): each slot keeps the hold tag
// the worker gave release() (worker_hostfn.h, HostFnHub::tag; 0 when no host function was
// armed). peek() shows the next slot so that the worker can tell whether acquire() would wait
// for a stream held at a host function; if so it spills the copy's rest instead, into the spill
// arena: `budget` bytes allocated at the first spill (pinned when the backend can pin, so that
// the device copy from it never waits in the driver) and kept until reset(), because freeing
// pinned memory synchronizes the device, which would wait for the held stream. The arena is used
// first in, first out: spill() hands out the next `bytes` (in one or two pieces, where it wraps),
// spill_release() records the spill's event, and the oldest spills give their room back once
// their copies have finished. Spills under a hold tag that is still held are always the newest,
// so make_room() may wait for the older ones (the `held` test says which) without waiting for
// the client.
//
// Configuration (read once, at the first copy; docs/operations.md):
//   GPOOL_COPY_CHUNK   chunk bytes   (default 1m; 64k .. 64m; docs/performance.md has the
//                      measurements behind the default)
//   GPOOL_COPY_SLOTS   slot count    (default 4; 2 .. 16)
//
// Ownership: owned by one Worker; the buffers and events belong to the worker's context and
// are released in the destructor (or with the process). Thread safety: worker thread only.
// Errors: CUresults of the backend (an event wait reports an earlier async failure).
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.h"

namespace gpool::server {

class StagingRing {
 public:
  struct Slot {
    std::byte* data = nullptr;
    CUevent done = nullptr;  // recorded after the device copy that uses the slot
    bool pending = false;    // `done` recorded and not yet waited for
    uint64_t tag = 0;        // hold tag of the copy that last used it
  };
  using Held = bool (*)(void* ctx, uint64_t tag);

  explicit StagingRing(const Driver& drv) : drv_(drv) {}
  ~StagingRing();
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  // Allocates the slots and events on first use. REQUIRES: the worker's context is current.
  CUresult ensure();
  size_t chunk() const { return chunk_; }
  size_t slots() const { return slots_.size(); }
  bool pinned() const { return pinned_; }

  // The next slot in turn, once the device copy that last used it has finished.
  // REQUIRES: ensure() succeeded.
  CUresult acquire(Slot*& out);
  // The slot acquire() hands out next (no wait). REQUIRES: ensure() succeeded.
  Slot& peek() { return slots_[next_]; }
  // Whether the slot's last copy has finished (no wait; a failure counts as finished: acquire()
  // reports it).
  bool idle(Slot& slot);
  // Records the slot's event on `stream` after the copy just enqueued there.
  CUresult release(Slot& slot, CUstream stream, uint64_t tag = 0);
  // Room for `need` more spilled bytes in an arena of `budget` bytes: gives back the room of
  // the oldest spills whose copies have finished, waiting for those `held` says are not held.
  // False when that is not enough (the spills still held take the room).
  bool make_room(uint64_t need, uint64_t budget, Held held, void* ctx);
  // The next `bytes` of the arena (after make_room(bytes, budget) succeeded), as up to two pieces;
  // nullptr first piece: the arena could not be allocated.
  struct Pieces {
    std::byte* first = nullptr;
    uint64_t first_bytes = 0;
    std::byte* second = nullptr;  // the arena's start, when the spill wraps
  };
  Pieces spill(uint64_t bytes, uint64_t tag, uint64_t budget);
  // Records the last spill's event on `stream` after its copies (a failure leaves the spill
  // counted as finished: only a broken context fails here).
  CUresult spill_release(CUstream stream);
  // Waits for one slot's copy (D2H: before its bytes are sent).
  CUresult wait(Slot& slot);
  // Waits for every slot still in use; returns the first error.
  CUresult drain();
  // Waits for and frees everything; the next ensure() allocates again in the context current
  // then (the worker calls it when the session switches devices: events belong to a context).
  void reset();

 private:

  struct Spill {
    uint64_t bytes = 0;
    uint64_t tag = 0;
    CUevent done = nullptr;  // recorded after its copies; nullptr: counted as finished
  };
  void give_back_oldest(bool wait);

  const Driver& drv_;
  std::vector<Spill> spills_;   // oldest first
  std::byte* arena_ = nullptr;  // pinned_arena_ or heap_arena_
  void* pinned_arena_ = nullptr;
  std::unique_ptr<std::byte[]> heap_arena_;
  uint64_t arena_bytes_ = 0;
  uint64_t arena_head_ = 0;     // where the next spill starts
  uint64_t arena_used_ = 0;     // bytes of spills_ (they end at arena_head_)
  std::vector<Slot> slots_;
  size_t next_ = 0;
  size_t chunk_ = 0;
  bool pinned_ = false;
  void* pinned_base_ = nullptr;        // cuMemHostAlloc'd, when pinned_
  std::unique_ptr<std::byte[]> heap_;  // otherwise
};

}  // namespace gpool::server
