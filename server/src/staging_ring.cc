#include "staging_ring.h"

#include <algorithm>
#include <new>

#include "gpool/common/env.h"
#include "gpool/common/log.h"

namespace gpool::server {

StagingRing::~StagingRing() { reset(); }

void StagingRing::give_back_oldest(bool wait) {
  Spill& s = spills_.front();
  if (s.done != nullptr) {
    if (wait) (void)drv_.cuEventSynchronize(s.done);
    (void)drv_.cuEventDestroy_v2(s.done);
  }
  arena_used_ -= s.bytes;
  spills_.erase(spills_.begin());
  if (arena_used_ == 0) arena_head_ = 0;
}

void StagingRing::reset() {
  while (!spills_.empty()) give_back_oldest(true);
  if (pinned_arena_ != nullptr) (void)drv_.cuMemFreeHost(pinned_arena_);
  pinned_arena_ = nullptr;
  heap_arena_.reset();
  arena_ = nullptr;
  arena_bytes_ = arena_head_ = arena_used_ = 0;
  for (Slot& s : slots_) {
    if (s.pending) (void)drv_.cuEventSynchronize(s.done);
    if (s.done != nullptr) (void)drv_.cuEventDestroy_v2(s.done);
  }
  slots_.clear();
  next_ = 0;
  if (pinned_base_ != nullptr) (void)drv_.cuMemFreeHost(pinned_base_);
  pinned_base_ = nullptr;
  pinned_ = false;
  heap_.reset();
}

CUresult StagingRing::ensure() {
  if (!slots_.empty()) return CUDA_SUCCESS;
  const uint64_t chunk = env::get_size("GPOOL_COPY_CHUNK", uint64_t{1} << 20);
  const int64_t count = env::get_int("GPOOL_COPY_SLOTS", 4);
  chunk_ = static_cast<size_t>(std::clamp<uint64_t>(chunk, uint64_t{64} << 10, uint64_t{64} << 20));
  const size_t n = static_cast<size_t>(std::clamp<int64_t>(count, 2, 16));
  const size_t total = chunk_ * n;
  std::byte* base = nullptr;
  if (drv_.cuMemHostAlloc(&pinned_base_, total, 0) == CUDA_SUCCESS && pinned_base_ != nullptr) {
    pinned_ = true;
    base = static_cast<std::byte*>(pinned_base_);
  } else {
    pinned_base_ = nullptr;
    log::logger("worker").warn(
        "the driver backend cannot pin {} bytes of staging memory; copies go through pageable "
        "memory and the device copies are not overlapped with the network",
        total);
    heap_ = std::make_unique<std::byte[]>(total);
    base = heap_.get();
  }
  slots_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    slots_[i].data = base + i * chunk_;
    if (CUresult st = drv_.cuEventCreate(&slots_[i].done, CU_EVENT_DISABLE_TIMING); st != CUDA_SUCCESS) {
      slots_[i].done = nullptr;
      reset();  // the next copy tries again
      return st;
    }
  }
  return CUDA_SUCCESS;
}

CUresult StagingRing::wait(Slot& slot) {
  if (!slot.pending) return CUDA_SUCCESS;
  slot.pending = false;
  return drv_.cuEventSynchronize(slot.done);
}

CUresult StagingRing::acquire(Slot*& out) {
  Slot& s = slots_[next_];
  next_ = (next_ + 1) % slots_.size();
  if (CUresult st = wait(s); st != CUDA_SUCCESS) return st;
  out = &s;
  return CUDA_SUCCESS;
}

bool StagingRing::idle(Slot& slot) {
  return !slot.pending || drv_.cuEventQuery(slot.done) != CUDA_ERROR_NOT_READY;
}

CUresult StagingRing::release(Slot& slot, CUstream stream, uint64_t tag) {
  const CUresult st = drv_.cuEventRecordWithFlags(slot.done, stream, 0);
  slot.pending = st == CUDA_SUCCESS;
  slot.tag = tag;
  return st;
}

bool StagingRing::make_room(uint64_t need, uint64_t budget, Held held, void* ctx) {
  if (need > budget) return false;
  if (arena_ != nullptr && arena_bytes_ != budget) return false;  // the budget is read once
  while (!spills_.empty() && arena_used_ > budget - need) {
    Spill& s = spills_.front();
    const bool finished = s.done == nullptr || drv_.cuEventQuery(s.done) != CUDA_ERROR_NOT_READY;
    if (!finished && held(ctx, s.tag)) return false;
    give_back_oldest(!finished);
  }
  return arena_used_ <= budget - need;
}

StagingRing::Pieces StagingRing::spill(uint64_t bytes, uint64_t tag, uint64_t budget) {
  if (arena_ == nullptr) {
    void* p = nullptr;
    if (pinned_ && drv_.cuMemHostAlloc(&p, budget, 0) == CUDA_SUCCESS && p != nullptr) {
      pinned_arena_ = p;
      arena_ = static_cast<std::byte*>(p);
    } else {
      // Pageable: the driver may then wait in the copy until the stream moves (the frame's
      // bytes are all read by then, so the side thread reads HostFnDone).
      heap_arena_.reset(new (std::nothrow) std::byte[budget]);
      if (heap_arena_ == nullptr) return {};
      arena_ = heap_arena_.get();
    }
    arena_bytes_ = budget;
    arena_head_ = arena_used_ = 0;
  }
  Pieces out;
  out.first = arena_ + arena_head_;
  out.first_bytes = std::min(bytes, arena_bytes_ - arena_head_);
  if (out.first_bytes < bytes) out.second = arena_;
  arena_head_ = (arena_head_ + bytes) % arena_bytes_;
  arena_used_ += bytes;
  spills_.push_back(Spill{bytes, tag, nullptr});
  return out;
}

CUresult StagingRing::spill_release(CUstream stream) {
  Spill& s = spills_.back();
  CUresult st = drv_.cuEventCreate(&s.done, CU_EVENT_DISABLE_TIMING);
  if (st == CUDA_SUCCESS) st = drv_.cuEventRecordWithFlags(s.done, stream, 0);
  if (st != CUDA_SUCCESS && s.done != nullptr) {
    (void)drv_.cuEventDestroy_v2(s.done);
    s.done = nullptr;
  }
  return st;
}

CUresult StagingRing::drain() {
  CUresult first = CUDA_SUCCESS;
  for (Spill& s : spills_) {
    if (s.done == nullptr) continue;
    const CUresult st = drv_.cuEventSynchronize(s.done);
    if (first == CUDA_SUCCESS) first = st;
  }
  for (Slot& s : slots_) {
    const CUresult st = wait(s);
    if (first == CUDA_SUCCESS) first = st;
  }
  return first;
}

}  // namespace gpool::server
