// Worker: virtual memory management (cuMemAddressReserve, cuMemCreate, cuMemMap, cuMemSetAccess,
// cuMemUnmap, cuMemRelease, cuMemAddressFree) for the session, with the tenant's quota.
//
// Arguments: the generated decode_args() of each calls.toml row (`args`), except MemSetAccess
// (a variable list of pairs). The session's own table (vmm_table.h) decides what it may touch, before the driver is asked:
//   reservations  address ranges this session reserved (MemMap/MemUnmap/MemAddressFree must
//                 fall inside one of them);
//   handles       physical allocations this session created (MemMap and MemRelease take only
//                 these);
//   mappings      what is mapped where; those with READWRITE access join range_ok(), so copies
//                 and memsets may use them, also across mappings that lie back to back.
// Quota: MemCreate charges the tenant on the handle's device before the driver call (over
// quota: OUT_OF_MEMORY). The bytes return when the physical memory really goes away: the handle
// released and its last mapping unmapped (as CUDA frees it). A worker that dies returns every
// byte through the supervisor (session_table.h).
#include "worker.h"

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

bool Worker::vmm_device(uint64_t index, CUmemLocation& out) const {
  if (index >= devices_.size()) return false;
  out.type = CU_MEM_LOCATION_TYPE_DEVICE;
  out.id = devices_[index].physical;
  return true;
}

CUresult Worker::op_mem_granularity(Ctx& c) {
  MemGetAllocationGranularityArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  if (!vmm_device(a.device, prop.location)) return CUDA_ERROR_INVALID_DEVICE;
  size_t g = 0;
  const CUresult st = drv_.cuMemGetAllocationGranularity(
      &g, &prop, static_cast<CUmemAllocationGranularity_flags>(a.option));
  if (st == CUDA_SUCCESS) c.results = {g};
  return st;
}

CUresult Worker::op_mem_address_reserve(Ctx& c) {
  MemAddressReserveArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t size = a.size, alignment = a.alignment, flags = a.flags;
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr p = 0;
  const CUresult st = drv_.cuMemAddressReserve(&p, size, alignment, 0, flags);
  if (st != CUDA_SUCCESS) return st;
  vmm_.add_reservation(p, size);
  c.results = {p};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_address_free(Ctx& c) {
  MemAddressFreeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr p = a.address;
  const uint64_t size = a.size;
  if (!vmm_.is_reservation(p, size)) {
    logger().warn("session {}: address free of [{:#x}, +{}), which is not a reservation of this "
                  "session", params_.session_id, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (vmm_.mapped_in(p, size)) return CUDA_ERROR_INVALID_VALUE;  // still mapped
  const CUresult st = drv_.cuMemAddressFree(p, size);
  if (st == CUDA_SUCCESS) vmm_.erase_reservation(p, size);
  return st;
}

CUresult Worker::op_mem_create(Ctx& c) {
  MemCreateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t size = a.size;
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  if (!vmm_device(a.device, prop.location)) return CUDA_ERROR_INVALID_DEVICE;
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  const int device = prop.location.id;
  if (!charge(device, size)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUmemGenericAllocationHandle h = 0;
  const CUresult st = drv_.cuMemCreate(&h, size, &prop, 0);
  if (st != CUDA_SUCCESS) {
    uncharge(device, size);
    return st;
  }
  vmm_.add_handle(h, size, device);
  c.results = {h};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_release(Ctx& c) {
  MemReleaseArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t handle = a.handle;
  if (!vmm_.handle_live(handle)) {
    logger().warn("session {}: release of allocation handle {:#x}, which this session does not "
                  "hold", params_.session_id, handle);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemRelease(handle);
  if (st != CUDA_SUCCESS) return st;
  vmm_.release(handle);
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_map(Ctx& c) {
  MemMapArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr p = a.address;
  const uint64_t size = a.size, offset = a.offset, handle = a.handle;
  if (!vmm_.fits_reservation(p, size) || !vmm_.handle_live(handle)) {
    logger().warn("session {}: map of handle {:#x} at [{:#x}, +{}) outside this session's "
                  "reservations or handles", params_.session_id, handle, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemMap(p, size, offset, handle, 0);
  if (st != CUDA_SUCCESS) return st;
  vmm_.add_mapping(p, size, handle);
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_unmap(Ctx& c) {
  MemUnmapArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr p = a.address;
  const uint64_t size = a.size;
  if (!vmm_.whole_mappings(p, size)) {
    logger().warn("session {}: unmap of [{:#x}, +{}), which is not whole mappings of this session",
                  params_.session_id, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemUnmap(p, size);
  if (st != CUDA_SUCCESS) return st;
  vmm_.unmap(p, size);  // and frees released handles nothing maps any more
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_set_access(Ctx& c) {
  MemSetAccessArgs a;  // access: (device, CUmemAccess_flags) pairs
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const CUdeviceptr p = a.address;
  const uint64_t size = a.size;
  const size_t pairs = a.access.size() / 2;
  if (pairs == 0 || pairs > devices_.size()) {  // whole pairs: the decoder (calls.toml access[*2])
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!vmm_.whole_mappings(p, size)) {
    logger().warn("session {}: access change on [{:#x}, +{}), which is not whole mappings of this "
                  "session", params_.session_id, p, size);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::vector<CUmemAccessDesc> desc(pairs);
  bool readwrite = false;
  for (size_t i = 0; i < pairs; ++i) {
    if (!vmm_device(a.access[2 * i], desc[i].location)) return CUDA_ERROR_INVALID_DEVICE;
    desc[i].flags = static_cast<CUmemAccess_flags>(a.access[2 * i + 1]);
    if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE) readwrite = true;
  }
  const CUresult st = drv_.cuMemSetAccess(p, size, desc.data(), desc.size());
  if (st != CUDA_SUCCESS) return st;
  vmm_.set_access(p, size, readwrite);
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_get_access(Ctx& c) {
  MemGetAccessArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUmemLocation loc{};
  if (!vmm_device(a.device, loc)) return CUDA_ERROR_INVALID_DEVICE;
  const CUdeviceptr p = a.address;
  if (!vmm_.in_reservation(p)) return CUDA_ERROR_INVALID_VALUE;
  unsigned long long flags = 0;
  const CUresult st = drv_.cuMemGetAccess(&flags, &loc, p);
  if (st == CUDA_SUCCESS) c.results = {flags};
  return st;
}

}  // namespace gpool::server
