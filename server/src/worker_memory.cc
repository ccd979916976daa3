// Worker: device memory allocations, the tenant's memory quota, and the range check every copy
// and memset uses (the session's allocations and module globals). Copies and memsets:
// worker_copy.cc.
//
// Quota (tenant_table.h): every allocation path charges the tenant on the device of the
// current context before the driver is asked (try_charge; over quota -> OUT_OF_MEMORY without
// a driver call), then records the bytes in this session's SessionSlot so the supervisor can
// return them if the worker dies. The requested size is charged (cuMemAllocPitch: pitch *
// height as the driver chose it), not the driver's page-rounded size. A stream-ordered free
// (cuMemFreeAsync) keeps its charge until the device's next cuCtxSynchronize, or until an
// allocation that would not fit makes the worker synchronize the device itself (reclaim_frees):
// only a synchronization makes a pool give freed memory back, so the quota never counts less
// than the driver may still hold for the tenant. The bookkeeping itself lives in the tables:
// quota.h (charges, held bytes) and allocation_table.h (what is allocated, the range check).
// The calls' arguments are decoded by the generated decode_args() of their calls.toml rows
// (`args`), which refuses a call whose args[] count is not the row's.
#include "worker.h"

#include <utility>

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

bool Worker::range_ok(CUdeviceptr p, uint64_t bytes) const {
  return allocs_.contains(p, bytes) || vmm_range_ok(p, bytes) || graph_mem_range_ok(p, bytes);
}

int Worker::current_device() {
  CUdevice dev = 0;
  if (drv_.cuCtxGetDevice(&dev) != CUDA_SUCCESS || dev < 0 || dev >= kMaxDevices) return 0;
  return static_cast<int>(dev);
}

bool Worker::charge(int device, uint64_t bytes) {
  if (quota_.charge(device, bytes) || (reclaim_frees(device) && quota_.charge(device, bytes))) return true;
  logger().info("session {}: tenant {} asked for {} bytes on device {} but holds {} of its "
                "{}-byte quota; refused with CUDA_ERROR_OUT_OF_MEMORY",
                params_.session_id, params_.tenant, bytes, device, quota_.tenant_held(device),
                quota_.tenant_quota(device));
  return false;
}

bool Worker::reclaim_frees(int device) {
  if (allocs_.freeing(device) == 0) return false;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (devices_[i].physical != device) continue;
    DeviceScope scope(*this, i);
    if (scope.status != CUDA_SUCCESS || drv_.cuCtxSynchronize() != CUDA_SUCCESS) return false;
    settle_frees(device);
    return true;
  }
  return false;
}

CUresult Worker::alloc_charged(Ctx& c, int device, uint64_t bytes,
                               const std::function<CUresult(CUdeviceptr&)>& alloc) {
  if (!charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUdeviceptr p = 0;
  const CUresult st = alloc(p);
  if (st != CUDA_SUCCESS) {
    uncharge(device, bytes);
    return st;
  }
  record_allocation(p, bytes, device);
  c.results = {p};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_alloc(Ctx& c) {
  MemAllocArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t bytes = a.bytes;
  return alloc_charged(c, current_device(), bytes,
                       [&](CUdeviceptr& p) { return drv_.cuMemAlloc_v2(&p, bytes); });
}

CUresult Worker::op_mem_alloc_pitch(Ctx& c) {
  MemAllocPitchArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t width = a.width_bytes, height = a.height, elem = a.element_size;
  if (width == 0 || height == 0 || (elem != 4 && elem != 8 && elem != 16)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  // The driver picks the pitch; charge an upper bound first (width rounded up to 1 KiB, far
  // above any device's pitch alignment), then correct it to what was really allocated.
  constexpr uint64_t kMaxPitchAlign = 1024;
  if (width > UINT64_MAX - kMaxPitchAlign || height > UINT64_MAX / (width + kMaxPitchAlign)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t bound = (width + kMaxPitchAlign - 1) / kMaxPitchAlign * kMaxPitchAlign * height;
  const int device = current_device();
  if (!charge(device, bound)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUdeviceptr p = 0;
  size_t pitch = 0;
  const CUresult st = drv_.cuMemAllocPitch_v2(&p, &pitch, width, height, static_cast<unsigned>(elem));
  if (st != CUDA_SUCCESS) {
    uncharge(device, bound);
    return st;
  }
  const uint64_t bytes = static_cast<uint64_t>(pitch) * height;
  if (bytes < bound) {
    uncharge(device, bound - bytes);
  } else if (bytes > bound && !charge(device, bytes - bound)) {
    uncharge(device, bound);
    drv_.cuMemFree_v2(p);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  record_allocation(p, bytes, device);
  c.results = {p, pitch};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_alloc_async(Ctx& c) {
  MemAllocAsyncArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t bytes = a.bytes;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (stream_capturing(stream)) {  // an allocation node: charged when a launch makes it
    return graph_mem_capture_alloc(c, current_device(), bytes, [&](CUdeviceptr& p) { return drv_.cuMemAllocAsync(&p, bytes, stream); });
  }
  const int device = current_device();
  return alloc_charged(c, device, bytes,
                       [&](CUdeviceptr& p) { return drv_.cuMemAllocAsync(&p, bytes, stream); });
}

CUresult Worker::op_mem_free(Ctx& c) {
  MemFreeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr p = a.dptr;
  if (allocs_.find(p) == nullptr) {
    logger().warn("session {}: free of {:#x}, which is not an allocation of this session",
                  params_.session_id, p);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemFree_v2(allocs_.driver_address(p));
  if (st != CUDA_SUCCESS) return st;
  forget_allocation(p);
  return CUDA_SUCCESS;
}

// Managed memory (calls.toml MemAllocManaged): the client mirrors the allocation in host pages
// at the same address, so the address must be page-aligned and no other allocation may share
// its pages. The driver's allocation is used as is when it is aligned; otherwise it is redone
// one page larger and the aligned address inside it is handed out (MemFree frees the driver's).
// The bytes start as zeros, like the client's fresh anonymous pages.
CUresult Worker::op_mem_alloc_managed(Ctx& c) {
  constexpr uint64_t kPage = 4096;
  MemAllocManagedArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t bytes = a.bytes;
  const auto flags = static_cast<unsigned>(a.flags);
  if (bytes == 0 || bytes > (uint64_t{1} << 48)) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  const int device = current_device();
  if (!charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  const uint64_t rounded = (bytes + kPage - 1) / kPage * kPage;
  CUdeviceptr base = 0, p = 0;
  CUresult st = drv_.cuMemAllocManaged(&base, rounded, flags);
  if (st == CUDA_SUCCESS && base % kPage != 0) {
    drv_.cuMemFree_v2(base);
    base = 0;
    st = drv_.cuMemAllocManaged(&base, rounded + kPage, flags);
  }
  if (st == CUDA_SUCCESS) {
    p = (base + kPage - 1) / kPage * kPage;
    st = drv_.cuMemsetD8_v2(p, 0, rounded);
    if (st != CUDA_SUCCESS) drv_.cuMemFree_v2(base);
  }
  if (st != CUDA_SUCCESS) {
    uncharge(device, bytes);
    return st;
  }
  allocs_.record(p, bytes, device, base);  // MemFree frees `base`
  c.results = {p};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_free_async(Ctx& c) {
  MemFreeAsyncArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr p = a.dptr;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  if (stream_capturing(stream)) {  // a free node: nothing is freed until a launch runs it
    if (graph_mem_.count(p) == 0) {
      logger().warn("session {}: free of {:#x} in a stream capture, which is not a graph allocation of this "
                    "session", params_.session_id, p);
      return CUDA_ERROR_INVALID_VALUE;
    }
    return drv_.cuMemFreeAsync(p, stream);
  }
  if (allocs_.find(p) == nullptr) {
    logger().warn("session {}: stream-ordered free of {:#x}, which is not an allocation of this "
                  "session", params_.session_id, p);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemFreeAsync(p, stream);
  if (st != CUDA_SUCCESS) return st;
  // The address leaves the session's table now: later calls may not use it. The quota is
  // returned at the device's next synchronization (forget_allocation, reclaim_frees).
  forget_allocation(p, true);
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_get_info(Ctx& c) {
  if (MemGetInfoArgs a; !decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  size_t free_bytes = 0, total = 0;
  const CUresult st = drv_.cuMemGetInfo_v2(&free_bytes, &total);
  if (st != CUDA_SUCCESS) return st;
  uint64_t f = free_bytes, t = total;
  quota_.memory_view(current_device(), free_bytes, total, f, t);
  c.results = {f, t};
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
