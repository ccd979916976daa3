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
  };

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
  // Records the slot's event on `stream` after the copy just enqueued there.
  CUresult release(Slot& slot, CUstream stream);
  // Waits for one slot's copy (D2H: before its bytes are sent).
  CUresult wait(Slot& slot);
  // Waits for every slot still in use; returns the first error.
  CUresult drain();
  // Waits for and frees everything; the next ensure() allocates again in the context current
  // then (the worker calls it when the session switches devices: events belong to a context).
  void reset();

 private:

  const Driver& drv_;
  std::vector<Slot> slots_;
  size_t next_ = 0;
  size_t chunk_ = 0;
  bool pinned_ = false;
  void* pinned_base_ = nullptr;        // cuMemHostAlloc'd, when pinned_
  std::unique_ptr<std::byte[]> heap_;  // otherwise
};

}  // namespace gpool::server
