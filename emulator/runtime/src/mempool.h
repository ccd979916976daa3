// Memory pools (stream-ordered allocation). Each device has a default pool;
// cuMemPoolCreate makes more. Allocations from a pool are ordinary device
// allocations tagged with the pool; the pool keeps the statistics CUDA
// reports through cuMemPoolGetAttribute. Memory is returned to the system at
// free time, so trimming has nothing to release.
// Thread safety: atomics; pools are never deleted while allocations name them
// (cuMemPoolDestroy of a pool in use is refused).
#pragma once

#include "runtime.h"

#include <atomic>

namespace gpool::emu::rt {

struct MemPool final : Object {
  static constexpr Kind kKind = Kind::MemPool;
  MemPool() : Object(Kind::MemPool) {}
  int device = 0;
  bool is_default = false;
  CUmemPoolProps props{};
  std::atomic<uint64_t> release_threshold{0};
  std::atomic<int> reuse_follow_event{1};
  std::atomic<int> reuse_opportunistic{1};
  std::atomic<int> reuse_internal_deps{1};
  std::atomic<uint64_t> used{0};
  std::atomic<uint64_t> used_high{0};
  std::atomic<uint64_t> live_allocs{0};
};

MemPool* mempool_create_default(int device);
void mempool_account_alloc(MemPool* p, uint64_t bytes);
void mempool_account_free(MemPool* p, uint64_t bytes);

}  // namespace gpool::emu::rt
