#include "staging_ring.h"

#include <algorithm>

#include "gpool/common/env.h"
#include "gpool/common/log.h"

namespace gpool::server {

StagingRing::~StagingRing() { reset(); }

void StagingRing::reset() {
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

CUresult StagingRing::release(Slot& slot, CUstream stream) {
  const CUresult st = drv_.cuEventRecordWithFlags(slot.done, stream, 0);
  slot.pending = st == CUDA_SUCCESS;
  return st;
}

CUresult StagingRing::drain() {
  CUresult first = CUDA_SUCCESS;
  for (Slot& s : slots_) {
    const CUresult st = wait(s);
    if (first == CUDA_SUCCESS) first = st;
  }
  return first;
}

}  // namespace gpool::server
