// Device, pinned host, registered host and managed memory: allocation,
// release and address queries.
#include "capture.h"
#include "alloc_table.h"
#include "array.h"

#include "context.h"
#include "copy_engine.h"
#include "graph_mem.h"
#include "mempool.h"

namespace gpool::emu::rt {
namespace {

constexpr unsigned kHostAllocFlags = CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
constexpr unsigned kHostRegisterFlags =
    CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY;

CUresult host_alloc(void** pp, size_t bytes, unsigned flags) {
  if (pp == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~kHostAllocFlags) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  uint64_t p = 0;
  CUresult r = device_alloc(ctx, ctx->dev->ordinal, bytes, AllocKind::HostPinned, flags, nullptr, false, &p);
  if (r != CUDA_SUCCESS) return r;
  *pp = reinterpret_cast<void*>(p);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = capture_unsafe_call("cuMemAlloc"); r != CUDA_SUCCESS) return r;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  uint64_t p = 0;
  CUresult r = device_alloc(ctx, ctx->dev->ordinal, bytesize, AllocKind::Device, 0, nullptr, false, &p);
  if (r == CUDA_SUCCESS) *dptr = p;
  return r;
}

extern "C" CUresult gpool_impl_cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes,
                                                  size_t Height, unsigned int ElementSizeBytes) {
  if (dptr == nullptr || pPitch == nullptr || WidthInBytes == 0 || Height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t pitch = round_up(WidthInBytes, 512);
  if (Height > UINT64_MAX / pitch) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  uint64_t p = 0;
  CUresult r = device_alloc(ctx, ctx->dev->ordinal, pitch * Height, AllocKind::Device, 0, nullptr, false, &p);
  if (r != CUDA_SUCCESS) return r;
  *dptr = p;
  *pPitch = pitch;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemFree_v2(CUdeviceptr dptr) {
  if (CUresult r = capture_unsafe_call("cuMemFree"); r != CUDA_SUCCESS) return r;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  if (dptr == 0) return CUDA_SUCCESS;
  auto a = allocs().find(dptr);
  if (a && a->base == dptr && a->graph_mem) {
    context_wait_idle(ctx);
    return graph_mem_free_now(dptr);
  }
  if (!a || a->base != dptr || a->module_global || a->vmm || is_array_storage(dptr) ||
      (a->kind != AllocKind::Device && a->kind != AllocKind::Managed)) {
    log().info("cuMemFree: {:#x} is not the start of a live device allocation", dptr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  context_wait_idle(ctx);  // like CUDA, a free waits for work that may still use the memory
  MemPool* pool = a->pool;
  const uint64_t size = a->size;
  CUresult r = device_free(dptr);
  if (r == CUDA_SUCCESS && pool != nullptr) mempool_account_free(pool, size);
  return r;
}

extern "C" CUresult gpool_impl_cuMemGetInfo_v2(size_t* free, size_t* total) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  const uint64_t t = ctx->dev->total_mem;
  const uint64_t used = used_device_memory(ctx->dev->ordinal);
  if (free != nullptr) *free = used > t ? 0 : t - used;
  if (total != nullptr) *total = t;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto a = allocs().find(dptr);
  if (!a) return CUDA_ERROR_NOT_FOUND;
  if (pbase != nullptr) *pbase = a->base;
  if (psize != nullptr) *psize = a->size;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAllocHost_v2(void** pp, size_t bytesize) {
  return host_alloc(pp, bytesize, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE);
}

extern "C" CUresult gpool_impl_cuMemHostAlloc(void** pp, size_t bytesize, unsigned int Flags) {
  return host_alloc(pp, bytesize, Flags);
}

extern "C" CUresult gpool_impl_cuMemFreeHost(void* p) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  const auto addr = reinterpret_cast<uint64_t>(p);
  auto a = allocs().find(addr);
  if (!a || a->base != addr || a->kind != AllocKind::HostPinned) {
    log().info("cuMemFreeHost: {} is not the start of a live pinned host allocation", p);
    return CUDA_ERROR_INVALID_VALUE;
  }
  context_wait_idle(ctx);
  return device_free(addr);
}

extern "C" CUresult gpool_impl_cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int Flags) {
  if (p == nullptr || bytesize == 0 || (Flags & ~kHostRegisterFlags)) return CUDA_ERROR_INVALID_VALUE;
  if (Flags & CU_MEMHOSTREGISTER_IOMEMORY) return gpool::abi::unimplemented("cuMemHostRegister with IOMEMORY");
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  const auto addr = reinterpret_cast<uint64_t>(p);
  if (addr + bytesize < addr) return CUDA_ERROR_INVALID_VALUE;
  if (allocs().overlaps(addr, bytesize)) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  // The range must be mapped: probe its first and last byte.
  unsigned char probe = 0;
  if (!checked_host_copy(&probe, p, 1) ||
      !checked_host_copy(&probe, static_cast<const unsigned char*>(p) + bytesize - 1, 1)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  Alloc a;
  a.base = addr;
  a.size = bytesize;
  a.kind = AllocKind::HostRegistered;
  a.ctx = ctx;
  a.device = ctx->dev->ordinal;
  a.flags = Flags;
  allocs().insert(a);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemHostRegister(void* p, size_t bytesize, unsigned int Flags) {
  return gpool_impl_cuMemHostRegister_v2(p, bytesize, Flags);
}

extern "C" CUresult gpool_impl_cuMemHostUnregister(void* p) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  const auto addr = reinterpret_cast<uint64_t>(p);
  auto a = allocs().find(addr);
  if (!a || a->base != addr || a->kind != AllocKind::HostRegistered) return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  context_wait_idle(ctx);
  allocs().remove(addr);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int Flags) {
  if (pdptr == nullptr || Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto a = allocs().find(reinterpret_cast<uint64_t>(p));
  if (!a || (a->kind != AllocKind::HostPinned && a->kind != AllocKind::HostRegistered)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *pdptr = reinterpret_cast<CUdeviceptr>(p);  // unified addressing: the same address
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemHostGetFlags(unsigned int* pFlags, void* p) {
  if (pFlags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto a = allocs().find(reinterpret_cast<uint64_t>(p));
  if (!a || (a->kind != AllocKind::HostPinned && a->kind != AllocKind::HostRegistered)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *pFlags = a->flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  uint64_t p = 0;
  CUresult r = device_alloc(ctx, ctx->dev->ordinal, bytesize, AllocKind::Managed, flags, nullptr, false, &p);
  if (r == CUDA_SUCCESS) *dptr = p;
  return r;
}

// Managed memory lives in host RAM already: prefetching and advice are
// validated hints with nothing to move.
extern "C" CUresult gpool_impl_cuMemPrefetchAsync_v2(CUdeviceptr devPtr, size_t count, CUmemLocation location,
                                                     unsigned int flags, CUstream hStream) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto a = allocs().find_range(devPtr, count);
  if (!a || a->kind != AllocKind::Managed) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAdvise_v2(CUdeviceptr devPtr, size_t count, CUmem_advise advice,
                                              CUmemLocation location) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto a = allocs().find_range(devPtr, count);
  if (!a || a->kind != AllocKind::Managed) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
