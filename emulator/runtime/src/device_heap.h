// The device-side malloc heap of one context (CU_LIMIT_MALLOC_HEAP_SIZE).
//
// Owner: the context (Context::heap). Created by the first launch of a kernel
// that calls malloc or free, with the context's heap limit at that moment, as
// one device allocation owned by the context (so kernels' checked accesses
// accept it and context teardown frees it); from then on the limit is fixed
// (cuCtxSetLimit returns CUDA_ERROR_INVALID_VALUE, as the driver does).
//
// Thread safety: allocate/release may be called from any interpreter thread
// at once (one mutex; device malloc is rare compared with loads and stores).
#pragma once

#include "gpool/emu/exec/program.h"

#include <cstdint>
#include <map>
#include <mutex>

namespace gpool::emu::rt {

class HeapArena final : public exec::DeviceHeap {
 public:
  // Manages [base, base + bytes); base is 16-byte aligned. Does not own it.
  HeapArena(uint64_t base, uint64_t bytes);
  uint64_t allocate(uint64_t bytes) override;
  bool release(uint64_t addr) override;
  uint64_t base() const { return base_; }
  uint64_t size() const { return bytes_; }

 private:
  static constexpr uint64_t kAlign = 16;
  const uint64_t base_;
  const uint64_t bytes_;
  std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // GUARDED_BY(mu_): offset -> size, coalesced
  std::map<uint64_t, uint64_t> live_;  // GUARDED_BY(mu_): offset -> size
};

}  // namespace gpool::emu::rt
