// Memory pools and stream-ordered allocation. Allocation happens at call
// time (the memory is valid before the stream reaches the allocation, which
// CUDA permits); cuMemFreeAsync frees in stream order.
#include "mempool.h"

#include "alloc_table.h"
#include "capture.h"
#include "context.h"
#include "graph_mem.h"
#include "stream.h"

namespace gpool::emu::rt {

MemPool* mempool_create_default(int device) {
  auto* p = new MemPool();
  p->device = device;
  p->is_default = true;
  p->props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  p->props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  p->props.location.id = device;
  registry().add(p);
  return p;
}

void mempool_account_alloc(MemPool* p, uint64_t bytes) {
  const uint64_t now = p->used.fetch_add(bytes) + bytes;
  uint64_t high = p->used_high.load();
  while (now > high && !p->used_high.compare_exchange_weak(high, now)) {
  }
  p->live_allocs.fetch_add(1);
}

void mempool_account_free(MemPool* p, uint64_t bytes) {
  p->used.fetch_sub(bytes);
  p->live_allocs.fetch_sub(1);
}

namespace {

CUresult pool_alloc(CUdeviceptr* dptr, size_t bytes, MemPool* pool, CUstream h) {
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(h, &s); r != CUDA_SUCCESS) return r;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  if (pool == nullptr) pool = s->ctx->dev->current_pool.load();
  if (capturing) return graph_mem_capture_alloc(s, bytes, pool->props, dptr);  // a memory allocation node
  uint64_t p = 0;
  CUresult r = device_alloc(s->ctx, pool->device, bytes, AllocKind::Device, 0, pool, false, &p);
  if (r != CUDA_SUCCESS) return r;
  mempool_account_alloc(pool, bytes);
  *dptr = p;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  return pool_alloc(dptr, bytesize, nullptr, hStream);
}

extern "C" CUresult gpool_impl_cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                                       CUstream hStream) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  MemPool* p = lookup<MemPool>(pool);
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return pool_alloc(dptr, bytesize, p, hStream);
}

extern "C" CUresult gpool_impl_cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  if (capturing) return graph_mem_capture_free(s, dptr);  // a memory free node
  auto a = allocs().find(dptr);
  if (a && a->base == dptr && a->graph_mem) return graph_mem_free_async(dptr, s);
  if (!a || a->base != dptr || a->module_global || a->vmm || (a->kind != AllocKind::Device && a->kind != AllocKind::Managed)) {
    log().info("cuMemFreeAsync: {:#x} is not the start of a live device allocation", dptr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  MemPool* pool = a->pool;
  const uint64_t size = a->size;
  submit(s, [dptr, pool, size] {
    if (device_free(dptr) == CUDA_SUCCESS && pool != nullptr) mempool_account_free(pool, size);
  });
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* poolProps) {
  if (pool == nullptr || poolProps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (poolProps->allocType != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (poolProps->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return gpool::abi::unimplemented("cuMemPoolCreate for a non-device location");
  }
  if (device(poolProps->location.id) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (poolProps->handleTypes != CU_MEM_HANDLE_TYPE_NONE) {
    return gpool::abi::unimplemented("cuMemPoolCreate with shareable handle types");
  }
  auto* p = new MemPool();
  p->device = poolProps->location.id;
  p->props = *poolProps;
  registry().add(p);
  *pool = reinterpret_cast<CUmemoryPool>(p);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolDestroy(CUmemoryPool pool) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  MemPool* p = lookup<MemPool>(pool);
  if (p == nullptr || p->is_default) return CUDA_ERROR_INVALID_VALUE;
  if (p->live_allocs.load() != 0) {
    log().warn("cuMemPoolDestroy: the pool still has {} live allocations; free them first", p->live_allocs.load());
    return CUDA_ERROR_INVALID_VALUE;
  }
  Device* d = device(p->device);
  MemPool* expected = p;
  d->current_pool.compare_exchange_strong(expected, d->default_pool);
  registry().remove(p);
  delete p;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (lookup<MemPool>(pool) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;  // freed memory is returned at once; nothing is cached to trim
}

extern "C" CUresult gpool_impl_cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  MemPool* p = lookup<MemPool>(pool);
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: p->reuse_follow_event = *static_cast<int*>(value); break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: p->reuse_opportunistic = *static_cast<int*>(value); break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: p->reuse_internal_deps = *static_cast<int*>(value); break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: p->release_threshold = *static_cast<cuuint64_t*>(value); break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      if (*static_cast<cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
      p->used_high = p->used.load();
      break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  MemPool* p = lookup<MemPool>(pool);
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: *static_cast<int*>(value) = p->reuse_follow_event; break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: *static_cast<int*>(value) = p->reuse_opportunistic; break;
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: *static_cast<int*>(value) = p->reuse_internal_deps; break;
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: *static_cast<cuuint64_t*>(value) = p->release_threshold; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:  // reserved == used: nothing is cached
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: *static_cast<cuuint64_t*>(value) = p->used; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: *static_cast<cuuint64_t*>(value) = p->used_high; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc* map, size_t count) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (lookup<MemPool>(pool) == nullptr || (count > 0 && map == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; ++i) {
    if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || device(map[i].location.id) == nullptr) {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return CUDA_SUCCESS;  // every emulated device can access every pool (shared host memory)
}

extern "C" CUresult gpool_impl_cuMemPoolGetAccess(CUmemAccess_flags* flags, CUmemoryPool memPool,
                                                  CUmemLocation* location) {
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (lookup<MemPool>(memPool) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (location->type != CU_MEM_LOCATION_TYPE_DEVICE || device(location->id) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetDefaultMemPool(CUmemoryPool* pool_out, CUdevice dev) {
  if (pool_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *pool_out = reinterpret_cast<CUmemoryPool>(d->default_pool);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice dev) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *pool = reinterpret_cast<CUmemoryPool>(d->current_pool.load());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  MemPool* p = lookup<MemPool>(pool);
  if (p == nullptr || p->device != dev) return CUDA_ERROR_INVALID_VALUE;
  d->current_pool = p;
  return CUDA_SUCCESS;
}
