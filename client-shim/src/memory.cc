// Shim: device allocations (sync calls; cuMemAlloc, cuMemAllocPitch, cuMemAllocAsync, every one
// charged to the tenant's quota on the server; memory pools: mempool.cc), page-locked host
// memory (local: it lives in this process and counts against no device quota), pointer
// attributes (local, from the ranges this process knows), managed memory (cuMemAllocManaged,
// charged to the quota like cuMemAlloc; its host copy and coherence: managed.h; prefetch and
// advice as on a device without concurrent managed access). Virtual memory management
// (cuMemCreate, cuMemMap, ...): vmm.cc.
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "gpool/driver_abi/backend.h"
#include "managed.h"
#include "oom_report.h"
#include "state.h"

using namespace gpool::shim;

extern "C" CUresult gpool_impl_cuMemAlloc_v2(CUdeviceptr* out, size_t bytes) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {bytes};
  uint64_t p = 0;
  if (CUresult st = Session::instance().sync_value(Op::MemAlloc, args, {}, p); st != CUDA_SUCCESS) {
    return report_out_of_memory(Session::instance(), "cuMemAlloc", bytes, st);
  }
  *out = p;
  add_device_range(*out, bytes, true);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemFree_v2(CUdeviceptr p) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (p == 0) return CUDA_SUCCESS;
  // Managed: out of the table first, so no push aims at it once the server has freed it; the
  // host copy is unmapped with it.
  uintptr_t mbase = 0;
  uint32_t msession = 0;
  bool allocation = false;
  if (gpool::shim::managed::find(p, &mbase, nullptr, &msession, &allocation) && allocation && mbase == p &&
      msession == Session::instance().index()) {
    gpool::shim::managed::remove(p);
  }
  const uint64_t args[] = {p};
  const CUresult st = Session::instance().sync(Op::MemFree, args);
  if (st == CUDA_SUCCESS) remove_allocation(p);
  return st;
}

// Managed memory: the server allocates (charged to the tenant's quota) and the host copy is
// mapped at the same address (managed.h). A range this process already uses there: the server's
// allocation is freed and the call returns CUDA_ERROR_OUT_OF_MEMORY.
extern "C" CUresult gpool_impl_cuMemAllocManaged(CUdeviceptr* out, size_t bytes, unsigned int flags) {
  if (out == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!gpool::shim::managed::install_handler()) return CUDA_ERROR_NOT_SUPPORTED;
  Session& s = Session::current();
  const uint64_t args[] = {bytes, flags};
  uint64_t p = 0;
  if (CUresult st = s.sync_value(Op::MemAllocManaged, args, {}, p); st != CUDA_SUCCESS) {
    return report_out_of_memory(s, "cuMemAllocManaged", bytes, st);
  }
  if (CUresult st = gpool::shim::managed::add(s.index(), p, bytes); st != CUDA_SUCCESS) {
    const uint64_t free_args[] = {p};
    s.sync(Op::MemFree, free_args);
    return st;
  }
  // Allocated host-attached: launches leave it to the host until it is attached otherwise.
  if (flags == CU_MEM_ATTACH_HOST) gpool::shim::managed::attach(s.index(), p, 0, flags, 0);
  add_device_range(p, bytes, true);
  *out = p;
  return CUDA_SUCCESS;
}

namespace {

// Prefetch and advice on a device whose CONCURRENT_MANAGED_ACCESS is 0 (docs/architecture.md
// "Managed memory"): the range must be managed memory of this process; prefetching to a GPU is
// refused with CUDA_ERROR_INVALID_DEVICE as such a device's driver does; to the CPU it succeeds
// with nothing to move (the host copy is current after every synchronisation).
CUresult managed_hint(CUdeviceptr p, size_t count, bool gpu_target, bool gpu_refused) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  uintptr_t base = 0;
  size_t bytes = 0;
  bool allocation = false;  // a library's __managed__ variable is not a managed allocation
  if (count == 0 || !gpool::shim::managed::find(p, &base, &bytes, nullptr, &allocation) || !allocation ||
      count > bytes - (p - base)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (gpu_target && gpu_refused) return CUDA_ERROR_INVALID_DEVICE;
  return CUDA_SUCCESS;
}

bool advice_needs_device(CUmem_advise advice) {
  return advice == CU_MEM_ADVISE_SET_PREFERRED_LOCATION || advice == CU_MEM_ADVISE_SET_ACCESSED_BY;
}

}  // namespace

extern "C" CUresult gpool_impl_cuMemPrefetchAsync(CUdeviceptr p, size_t count, CUdevice dst, CUstream) {
  return managed_hint(p, count, dst != CU_DEVICE_CPU, true);
}

extern "C" CUresult gpool_impl_cuMemPrefetchAsync_v2(CUdeviceptr p, size_t count, CUmemLocation loc,
                                                     unsigned int flags, CUstream) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return managed_hint(p, count, loc.type == CU_MEM_LOCATION_TYPE_DEVICE, true);
}

// Advice is a hint: accepted for managed ranges; a preferred location or accessed-by naming a
// GPU is refused (CUDA_ERROR_INVALID_DEVICE) as on a device without concurrent managed access.
extern "C" CUresult gpool_impl_cuMemAdvise(CUdeviceptr p, size_t count, CUmem_advise advice, CUdevice dev) {
  return managed_hint(p, count, dev != CU_DEVICE_CPU, advice_needs_device(advice));
}

extern "C" CUresult gpool_impl_cuMemAdvise_v2(CUdeviceptr p, size_t count, CUmem_advise advice,
                                              CUmemLocation loc) {
  return managed_hint(p, count, loc.type == CU_MEM_LOCATION_TYPE_DEVICE, advice_needs_device(advice));
}

// Stream-ordered allocation: the server calls cuMemAllocAsync on its stream (so the device's
// current pool, default or set by cuDeviceSetMemPool, and stream-order reuse apply) after
// charging the tenant's quota. Sync: the application needs the address now.
extern "C" CUresult gpool_impl_cuMemAllocAsync(CUdeviceptr* out, size_t bytes, CUstream stream) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {bytes};
  const HandleRef h[] = {stream_ref(stream)};
  uint64_t p = 0;
  if (CUresult st = Session::instance().sync_value(Op::MemAllocAsync, args, h, p); st != CUDA_SUCCESS) {
    return report_out_of_memory(Session::instance(), "cuMemAllocAsync", bytes, st);
  }
  *out = p;
  add_device_range(*out, bytes, true);
  return CUDA_SUCCESS;
}

// Async (no round trip): the free joins the stream's order on the server. An address this
// process never allocated is refused here, as the driver does at the call.
extern "C" CUresult gpool_impl_cuMemFreeAsync(CUdeviceptr p, CUstream stream) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (p == 0) return CUDA_SUCCESS;  // like cuMemFree(0)
  CUdeviceptr base = 0;
  if (!find_device_range(p, &base, nullptr) || base != p) return CUDA_ERROR_INVALID_VALUE;
  if (gpool::shim::managed::find(p, nullptr, nullptr)) return CUDA_ERROR_INVALID_VALUE;  // cuMemFree's
  const uint64_t args[] = {p};
  const HandleRef h[] = {stream_ref(stream)};
  const CUresult st = Session::instance().async(Op::MemFreeAsync, args, h);
  if (st == CUDA_SUCCESS) remove_allocation(p);
  return st;
}

// Pitched allocation: the server's driver picks the pitch (its own alignment rules), and the
// tenant's quota is charged pitch * height.
extern "C" CUresult gpool_impl_cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width,
                                                  size_t height, unsigned int elem) {
  if (dptr == nullptr || pitch == nullptr || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (elem != 4 && elem != 8 && elem != 16) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Reply r;
  const uint64_t args[] = {width, height, elem};
  if (CUresult st = Session::instance().sync(Op::MemAllocPitch, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return report_out_of_memory(Session::instance(), "cuMemAllocPitch", uint64_t{width} * height, st);
  }
  if (r.results.size() < 2 || r.results[1] < width) return CUDA_ERROR_UNKNOWN;
  *dptr = r.results[0];
  *pitch = r.results[1];
  add_device_range(*dptr, r.results[1] * height, true);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  if (free_bytes == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Reply r;
  if (CUresult st = Session::instance().sync(Op::MemGetInfo, {}, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 2) return CUDA_ERROR_UNKNOWN;
  *free_bytes = r.results[0];
  *total = r.results[1];
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr p) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  CUdeviceptr b = 0;
  size_t n = 0;
  if (!find_device_range(p, &b, &n)) return CUDA_ERROR_NOT_FOUND;
  if (base) *base = b;
  if (size) *size = n;
  return CUDA_SUCCESS;
}

// Page-locked host memory lives in the client: there is no local GPU to pin it for. It is
// page-aligned and recorded so pointer queries and cuMemHostGetFlags answer correctly.
//
// Mapped host memory (CU_MEMHOSTALLOC_DEVICEMAP) is served by the managed-memory mechanism
// (managed.h): a server allocation mirrored in this process at the same address, kept coherent
// at call boundaries, so the host pointer is also the device pointer (as with unified
// addressing, cuMemHostGetDevicePointer answers the host address). The host must not touch it
// while kernels may run (managed.h); kernels see the host's writes made before the launch, and
// the host sees the kernels' writes after the next synchronisation.
extern "C" CUresult gpool_impl_cuMemHostAlloc(void** out, size_t bytes, unsigned int flags) {
  if (out == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (flags & ~(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (flags & CU_MEMHOSTALLOC_DEVICEMAP) {
    CUdeviceptr d = 0;
    if (CUresult st = gpool_impl_cuMemAllocManaged(&d, bytes, CU_MEM_ATTACH_GLOBAL); st != CUDA_SUCCESS) return st;
    add_host_range(reinterpret_cast<void*>(d), bytes, flags);
    *out = reinterpret_cast<void*>(d);
    return CUDA_SUCCESS;
  }
  void* p = nullptr;
  if (::posix_memalign(&p, 4096, bytes) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  add_host_range(p, bytes, flags);
  *out = p;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAllocHost_v2(void** out, size_t bytes) {
  return gpool_impl_cuMemHostAlloc(out, bytes, 0);
}

extern "C" CUresult gpool_impl_cuMemFreeHost(void* p) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  unsigned flags = 0;
  void* base = nullptr;
  if (!find_host_range(p, &base, nullptr, &flags) || base != p || (flags & 0x80000000u)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (flags & CU_MEMHOSTALLOC_DEVICEMAP) {  // a managed allocation (cuMemHostAlloc above)
    remove_host_range(p);
    return gpool_impl_cuMemFree_v2(reinterpret_cast<CUdeviceptr>(p));
  }
  if (!remove_host_range(p)) return CUDA_ERROR_INVALID_VALUE;
  std::free(p);
  return CUDA_SUCCESS;
}

// Registered host memory stays the program's: without DEVICEMAP it is only recorded (nothing to
// pin here). With CU_MEMHOSTREGISTER_DEVICEMAP it gets a server allocation of its size (charged
// to the quota like cuMemAlloc) that mirrors it (managed.h, add_registered): the device pointer
// (cuMemHostGetDevicePointer) is that allocation's address, not the host address (the shim
// reports CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM = 0), kept coherent at call boundaries and
// locked out of the host while kernels may run, like managed memory. A range overlapping memory
// already registered or allocated pinned is CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED.
extern "C" CUresult gpool_impl_cuMemHostRegister_v2(void* p, size_t bytes, unsigned int flags) {
  if (p == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_IOMEMORY |
                CU_MEMHOSTREGISTER_READ_ONLY)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const auto h = reinterpret_cast<uintptr_t>(p);
  if (bytes > UINTPTR_MAX - h) return CUDA_ERROR_INVALID_VALUE;
  if (overlaps_host_range(p, bytes)) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  if (flags & CU_MEMHOSTREGISTER_IOMEMORY) {
    return gpool::abi::unimplemented("cuMemHostRegister with CU_MEMHOSTREGISTER_IOMEMORY");
  }
  if (flags & CU_MEMHOSTREGISTER_DEVICEMAP) {
    // Read-only registration (READ_ONLY_HOST_REGISTER_SUPPORTED is 0 here) cannot be mirrored:
    // the pull would write into it.
    if (flags & CU_MEMHOSTREGISTER_READ_ONLY) return CUDA_ERROR_NOT_SUPPORTED;
    if (!gpool::shim::managed::install_handler()) return CUDA_ERROR_NOT_SUPPORTED;
    Session& s = Session::current();
    const uint64_t args[] = {bytes};
    uint64_t d = 0;
    if (CUresult st = s.sync_value(Op::MemAlloc, args, {}, d); st != CUDA_SUCCESS) {
      return report_out_of_memory(s, "cuMemHostRegister", bytes, st);
    }
    if (CUresult st = gpool::shim::managed::add_registered(s.index(), h, bytes, d); st != CUDA_SUCCESS) {
      const uint64_t free_args[] = {d};
      s.sync(Op::MemFree, free_args);
      return st;
    }
    add_device_range(d, bytes, true);
  }
  add_host_range(p, bytes, flags | 0x80000000u);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemHostRegister(void* p, size_t bytes, unsigned int flags) {
  return gpool_impl_cuMemHostRegister_v2(p, bytes, flags);
}

extern "C" CUresult gpool_impl_cuMemHostUnregister(void* p) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  unsigned flags = 0;
  void* base = nullptr;
  if (!find_host_range(p, &base, nullptr, &flags) || base != p || !(flags & 0x80000000u)) {
    return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  }
  remove_host_range(p);
  uintptr_t d = 0;
  uint32_t session = 0;
  if ((flags & CU_MEMHOSTREGISTER_DEVICEMAP) &&
      gpool::shim::managed::find_registered(reinterpret_cast<uintptr_t>(p), 1, &d, &session)) {
    // The host's bytes are the program's again; the device copy is freed on its server. The
    // driver waits for work using the memory to finish: the free is a synchronous call and
    // the pull after device work brings the device's last writes back first.
    Session& s = Session::current();
    if (s.index() == session) {
      if (CUresult st = s.sync(Op::CtxSynchronize, {}); st != CUDA_SUCCESS) return st;
    }
    gpool::shim::managed::remove_registered(reinterpret_cast<uintptr_t>(p), nullptr);
    if (s.index() == session) {
      const uint64_t args[] = {d};
      if (CUresult st = s.sync(Op::MemFree, args); st != CUDA_SUCCESS) return st;
      remove_allocation(d);
    }
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemHostGetDevicePointer_v2(CUdeviceptr* dptr, void* p, unsigned int flags) {
  if (dptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  unsigned f = 0;
  if (!find_host_range(p, nullptr, nullptr, &f) || !(f & CU_MEMHOSTALLOC_DEVICEMAP)) {
    return CUDA_ERROR_INVALID_VALUE;  // not mapped host memory of this process
  }
  if (f & 0x80000000u) {  // registered: the mirror's server allocation (cuMemHostRegister)
    uintptr_t d = 0;
    if (!gpool::shim::managed::find_registered(reinterpret_cast<uintptr_t>(p), 1, &d)) return CUDA_ERROR_INVALID_VALUE;
    *dptr = d;
    return CUDA_SUCCESS;
  }
  *dptr = reinterpret_cast<CUdeviceptr>(p);  // the same address on the device (see cuMemHostAlloc)
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemHostGetFlags(unsigned int* flags, void* p) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  unsigned f = 0;
  if (!find_host_range(p, nullptr, nullptr, &f)) return CUDA_ERROR_INVALID_VALUE;
  *flags = f & 0x7fffffffu;
  return CUDA_SUCCESS;
}

namespace {

CUresult pointer_attribute(void* data, CUpointer_attribute attr, CUdeviceptr p) {
  CUdeviceptr base = 0;
  size_t bytes = 0;
  void* hbase = nullptr;
  const bool dev = find_device_range(p, &base, &bytes);
  const bool host = !dev && find_host_range(reinterpret_cast<void*>(p), &hbase, &bytes, nullptr);
  if (!dev && !host) return CUDA_ERROR_INVALID_VALUE;
  // Managed memory: device memory (as the driver reports it) that the host may also use.
  if (dev && gpool::shim::managed::find(p, nullptr, nullptr)) {
    switch (attr) {
      case CU_POINTER_ATTRIBUTE_IS_MANAGED:
        *static_cast<unsigned*>(data) = 1;
        return CUDA_SUCCESS;
      case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        *static_cast<void**>(data) = reinterpret_cast<void*>(p);
        return CUDA_SUCCESS;
      default:
        break;
    }
  }
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
      *static_cast<CUcontext*>(data) = primary_context();
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      *static_cast<unsigned*>(data) = dev ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      if (!dev) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<CUdeviceptr*>(data) = p;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (!host) return CUDA_ERROR_INVALID_VALUE;
      *static_cast<void**>(data) = reinterpret_cast<void*>(p);
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_MAPPED:
      *static_cast<unsigned*>(data) = attr == CU_POINTER_ATTRIBUTE_MAPPED ? 1 : 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
      *static_cast<int*>(data) = 0;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
      *static_cast<CUdeviceptr*>(data) = dev ? base : reinterpret_cast<CUdeviceptr>(hbase);
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
      *static_cast<size_t*>(data) = bytes;
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
      *static_cast<unsigned long long*>(data) = dev ? base : reinterpret_cast<CUdeviceptr>(hbase);
      return CUDA_SUCCESS;
    default:
      return gpool::abi::unimplemented("cuPointerGetAttribute (this attribute)");
  }
}

}  // namespace

extern "C" CUresult gpool_impl_cuPointerGetAttribute(void* data, CUpointer_attribute attr, CUdeviceptr p) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  return pointer_attribute(data, attr, p);
}

extern "C" CUresult gpool_impl_cuPointerGetAttributes(unsigned int n, CUpointer_attribute* attrs,
                                                      void** data, CUdeviceptr p) {
  if (attrs == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const bool known = find_device_range(p, nullptr, nullptr) ||
                     find_host_range(reinterpret_cast<void*>(p), nullptr, nullptr, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    if (data[i] == nullptr) continue;
    if (!known || pointer_attribute(data[i], attrs[i], p) != CUDA_SUCCESS) {
      // Unknown memory, or an attribute without a value for this memory: type 0 and null values, as the driver reports for plain host memory.
      switch (attrs[i]) {
        case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        case CU_POINTER_ATTRIBUTE_IS_MANAGED:
        case CU_POINTER_ATTRIBUTE_MAPPED:
          *static_cast<unsigned*>(data[i]) = 0;
          break;
        case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
          *static_cast<int*>(data[i]) = -2;
          break;
        case CU_POINTER_ATTRIBUTE_CONTEXT:
        case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
          *static_cast<void**>(data[i]) = nullptr;
          break;
        case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
          *static_cast<size_t*>(data[i]) = 0;
          break;
        default:
          *static_cast<unsigned long long*>(data[i]) = 0;
          break;
      }
    }
  }
  return CUDA_SUCCESS;
}
