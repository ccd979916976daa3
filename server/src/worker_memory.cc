// Worker: device memory allocations and the range check every copy and memset uses
// (the session's allocations and module globals). Copies and memsets: worker_copy.cc.
#include "worker.h"

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

bool inside(const std::map<CUdeviceptr, uint64_t>& ranges, CUdeviceptr p, uint64_t bytes) {
  auto it = ranges.upper_bound(p);
  if (it == ranges.begin()) return false;
  --it;
  const uint64_t off = p - it->first;
  return off <= it->second && bytes <= it->second - off;
}

}  // namespace

bool Worker::range_ok(CUdeviceptr p, uint64_t bytes) const {
  return inside(allocations_, p, bytes) || inside(globals_, p, bytes);
}

CUresult Worker::op_mem_alloc(Ctx& c) {
  const uint64_t bytes = c.arg(0);
  CUdeviceptr p = 0;
  const CUresult st = drv_.cuMemAlloc_v2(&p, bytes);
  if (st != CUDA_SUCCESS) return st;
  allocations_[p] = bytes;
  bytes_held_ += bytes;
  slot_.bytes_held.store(bytes_held_);
  slot_.allocations.store(allocations_.size());
  c.results = {p};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_free(Ctx& c) {
  const CUdeviceptr p = c.arg(0);
  auto it = allocations_.find(p);
  if (it == allocations_.end()) {
    log::logger("worker").warn("session {}: free of {:#x}, which is not an allocation of this session",
                               params_.session_id, p);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemFree_v2(p);
  if (st != CUDA_SUCCESS) return st;
  bytes_held_ -= it->second;
  allocations_.erase(it);
  slot_.bytes_held.store(bytes_held_);
  slot_.allocations.store(allocations_.size());
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_get_info(Ctx& c) {
  size_t free_bytes = 0, total = 0;
  const CUresult st = drv_.cuMemGetInfo_v2(&free_bytes, &total);
  c.results = {free_bytes, total};
  return st;
}

}  // namespace gpool::server
