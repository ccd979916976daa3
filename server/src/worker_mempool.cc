// Worker: memory pools for the session (cuMemPoolCreate, cuMemPoolDestroy, pool attributes,
// cuMemPoolTrimTo, cuMemAllocFromPoolAsync, pool access, cuDeviceSetMemPool; calls.toml 170-178).
//
// The session's pool table (pools_, pool_table.h) maps the client's pool ids to driver pools; every call
// looks its id up there before the driver is asked, so a forged id or another session's pool
// gets CUDA_ERROR_INVALID_VALUE and never reaches the driver. Ids 1 + d name the default pool
// of the session's device d; they enter the table on first use (to remember attributes).
//
// Quota: MemAllocFromPool charges the tenant on the pool's device before the driver call (over
// quota: OUT_OF_MEMORY) and records the allocation like MemAllocAsync does, so MemFree and
// MemFreeAsync return the bytes. Pools never cache memory for the tenant beyond its quota: the
// driver's CU_MEMPOOL_ATTR_RELEASE_THRESHOLD stays 0 on every pool (the driver's default), so
// memory freed to a pool goes back to the device at the next synchronisation. The value the
// client sets is remembered and answered by MemPoolGetAttribute (docs/architecture.md, "Server:
// tenants and memory quotas"). Pools left at the end of the session go with the worker's
// contexts; the bytes still charged return through the supervisor (session_table.h).
#include "worker.h"

#include "gpool/common/log.h"
#include "gpool/remote/pool_attributes.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

PoolTable::Pool* Worker::pool_of(uint64_t id) {
  if (MemPool* pool = pools_.find(id); pool != nullptr) return pool;
  if (PoolTable::is_default_id(id) && id - 1 < devices_.size()) {
    const size_t d = id - 1;
    CUmemoryPool p = nullptr;
    if (drv_.cuDeviceGetDefaultMemPool(&p, devices_[d].dev) != CUDA_SUCCESS || p == nullptr) return nullptr;
    return pools_.add_default(d, p);
  }
  logger().warn("session {}: memory pool id {:#x} is not a pool of this session", params_.session_id, id);
  return nullptr;
}

CUresult Worker::op_mem_pool_create(Ctx& c) {
  MemPoolCreateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = a.pool, device = a.device, handle_types = a.handle_types, max_size = a.max_size;
  if (!pools_.id_free_for_create(id)) {
    logger().warn("session {}: pool id {:#x} is reserved or already in use", params_.session_id, id);
    return CUDA_ERROR_INVALID_VALUE;
  }
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  if (!vmm_device(device, props.location)) return CUDA_ERROR_INVALID_DEVICE;
  if (handle_types != CU_MEM_HANDLE_TYPE_NONE) {
    logger().warn("session {}: cuMemPoolCreate with shareable handle types {:#x} is not supported "
                  "by a gpool server; returning CUDA_ERROR_NOT_SUPPORTED", params_.session_id, handle_types);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
  props.maxSize = max_size;
  CUmemoryPool p = nullptr;
  const CUresult st = drv_.cuMemPoolCreate(&p, &props);
  if (st != CUDA_SUCCESS) return st;
  pools_.add_created(id, p, static_cast<size_t>(device));
  return CUDA_SUCCESS;
}

CUresult Worker::op_mem_pool_destroy(Ctx& c) {
  MemPoolDestroyArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const MemPool* pool = pools_.find(a.pool);
  if (pool == nullptr || !pool->created) {
    logger().warn("session {}: destroy of pool id {:#x}, which is not a pool this session created",
                  params_.session_id, a.pool);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const CUresult st = drv_.cuMemPoolDestroy(pool->pool);
  if (st == CUDA_SUCCESS) pools_.erase_created(a.pool);
  return st;
}

CUresult Worker::op_mem_pool_attribute(Ctx& c, bool set) {
  MemPoolSetAttributeArgs a;  // get: the same without `value`
  MemPoolGetAttributeArgs ga;
  if (set ? !decode_args(c, a) : !decode_args(c, ga)) return CUDA_ERROR_INVALID_VALUE;
  if (!set) a = MemPoolSetAttributeArgs{ga.pool, ga.attribute, 0};
  MemPool* pool = pool_of(a.pool);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto attr = static_cast<CUmemPool_attribute>(a.attribute);
  if (!remote::pool_attribute_is_int(attr) && !remote::pool_attribute_is_u64(attr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (attr == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) {
    // Kept out of the driver: a threshold above 0 would let the pool hold freed memory that
    // the tenant's quota no longer counts.
    if (set) {
      pool->release_threshold = a.value;
    } else {
      c.results = {pool->release_threshold};
    }
    return CUDA_SUCCESS;
  }
  if (set) {
    if (remote::pool_attribute_is_int(attr)) {
      int v = static_cast<int>(a.value);
      return drv_.cuMemPoolSetAttribute(pool->pool, attr, &v);
    }
    cuuint64_t v = a.value;
    return drv_.cuMemPoolSetAttribute(pool->pool, attr, &v);
  }
  if (remote::pool_attribute_is_int(attr)) {
    int v = 0;
    const CUresult st = drv_.cuMemPoolGetAttribute(pool->pool, attr, &v);
    if (st == CUDA_SUCCESS) c.results = {static_cast<uint64_t>(static_cast<uint32_t>(v))};
    return st;
  }
  cuuint64_t v = 0;
  const CUresult st = drv_.cuMemPoolGetAttribute(pool->pool, attr, &v);
  if (st == CUDA_SUCCESS) c.results = {v};
  return st;
}

CUresult Worker::op_mem_pool_trim(Ctx& c) {
  MemPoolTrimToArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  MemPool* pool = pool_of(a.pool);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return drv_.cuMemPoolTrimTo(pool->pool, a.min_bytes_to_keep);
}

CUresult Worker::op_mem_alloc_from_pool(Ctx& c) {
  MemAllocFromPoolArgs a;  // generated from calls.toml (`args`)
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  MemPool* pool = pool_of(a.pool);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t bytes = a.bytes;
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  const int device = devices_[pool->device].physical;
  if (stream_capturing(stream)) {  // an allocation node: charged when a launch makes it
    return graph_mem_capture_alloc(c, device, bytes, [&](CUdeviceptr& p) {
      return drv_.cuMemAllocFromPoolAsync(&p, bytes, pool->pool, stream);
    });
  }
  return alloc_charged(c, device, bytes, [&](CUdeviceptr& p) {
    return drv_.cuMemAllocFromPoolAsync(&p, bytes, pool->pool, stream);
  });
}

CUresult Worker::op_mem_pool_set_access(Ctx& c) {
  MemPoolSetAccessArgs a;  // access: (device, CUmemAccess_flags) pairs
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  MemPool* pool = pool_of(a.pool);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const size_t pairs = a.access.size() / 2;
  if (pairs == 0 || pairs > devices_.size()) {  // whole pairs: the decoder (calls.toml access[*2])
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::vector<CUmemAccessDesc> desc(pairs);
  for (size_t i = 0; i < pairs; ++i) {
    if (!vmm_device(a.access[2 * i], desc[i].location)) return CUDA_ERROR_INVALID_DEVICE;
    desc[i].flags = static_cast<CUmemAccess_flags>(a.access[2 * i + 1]);
  }
  return drv_.cuMemPoolSetAccess(pool->pool, desc.data(), desc.size());
}

CUresult Worker::op_mem_pool_get_access(Ctx& c) {
  MemPoolGetAccessArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  MemPool* pool = pool_of(a.pool);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUmemLocation loc{};
  if (!vmm_device(a.device, loc)) return CUDA_ERROR_INVALID_DEVICE;
  CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  const CUresult st = drv_.cuMemPoolGetAccess(&flags, pool->pool, &loc);
  if (st == CUDA_SUCCESS) c.results = {static_cast<uint64_t>(flags)};
  return st;
}

CUresult Worker::op_device_set_mem_pool(Ctx& c) {
  DeviceSetMemPoolArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t device = a.device;
  if (device >= devices_.size()) return CUDA_ERROR_INVALID_DEVICE;
  MemPool* pool = pool_of(a.pool);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (pool->device != device) return CUDA_ERROR_INVALID_VALUE;  // a pool of another device
  return drv_.cuDeviceSetMemPool(devices_[device].dev, pool->pool);
}

}  // namespace gpool::server
