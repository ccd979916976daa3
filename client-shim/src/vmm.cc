// Shim: virtual memory management (cuMemAddressReserve, cuMemCreate, cuMemMap, cuMemSetAccess,
// cuMemUnmap, cuMemRelease, cuMemAddressFree and the queries), forwarded as sync calls (CUDA
// reports their errors at the call). The server charges cuMemCreate to the tenant's quota.
//
// Routing: a reservation goes to the server of the calling thread's current device, a physical
// allocation to the server of the device its properties name. Mapping needs both on the same
// server (memory cannot be mapped across machines): otherwise CUDA_ERROR_INVALID_VALUE, logged.
// Allocation handles given to the application are shim-made ids (ids.h, kind kVmmHandle) that
// name the session and the server's own handle, so a forged or foreign handle is refused here
// and, independently, by the server's session tables. Ranges with READWRITE access are recorded
// as device ranges of their session (state.h), so unified-address copies and pointer queries
// know them. Only pinned device memory without shareable handle types is supported (what the
// server can back); other properties get CUDA_ERROR_NOT_SUPPORTED, logged.
//
// Thread safety: the local tables are guarded by one mutex; the calls themselves are serialised
// per session by Session.
#include <map>
#include <mutex>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

spdlog::logger& logger() { return gpool::log::logger("shim"); }

struct Reservation {
  uint64_t size;
  uint32_t session;
};
struct Handle {  // the session is the one the id names (id_session, ids.h)
  uint64_t server_handle;
  CUmemAllocationProp prop;
  unsigned refs = 1;  // cuMemCreate's and each cuMemRetainAllocationHandle's; released at 0
};
struct Mapping {
  uint64_t size;
  uint64_t handle;  // the shim's id
};

std::mutex g_mu;
std::map<CUdeviceptr, Reservation>& reservations() {
  static auto* m = new std::map<CUdeviceptr, Reservation>();  // never destroyed (atexit paths)
  return *m;
}
std::map<uint64_t, Handle>& handles() {
  static auto* m = new std::map<uint64_t, Handle>();
  return *m;
}
// Live mappings by start address (cuMemRetainAllocationHandle finds the handle behind an address).
std::map<CUdeviceptr, Mapping>& mappings() {
  static auto* m = new std::map<CUdeviceptr, Mapping>();
  return *m;
}

// The reservation containing [p, p + bytes), or false.
bool find_reservation(CUdeviceptr p, uint64_t bytes, CUdeviceptr& base, Reservation& out) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = reservations().upper_bound(p);
  if (it == reservations().begin()) return false;
  --it;
  const uint64_t off = p - it->first;
  if (off >= it->second.size || bytes > it->second.size - off) return false;
  base = it->first;
  out = it->second;
  return true;
}

// What the server can back: pinned memory on a device, no shareable handles, default flags.
CUresult check_prop(const CUmemAllocationProp* prop, const char* who) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (prop->type != CU_MEM_ALLOCATION_TYPE_PINNED || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
      prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE || prop->allocFlags.compressionType != 0 ||
      prop->allocFlags.usage != 0) {
    logger().warn("{}: only pinned device memory without shareable handle types or compression is "
                  "forwarded to a gpool server; returning CUDA_ERROR_NOT_SUPPORTED", who);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_SUCCESS;
}

Session& session_at(uint32_t index) { return Pool::global().session(index); }

}  // namespace

extern "C" CUresult gpool_impl_cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                             CUmemAllocationGranularity_flags option) {
  if (granularity == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (CUresult st = check_prop(prop, "cuMemGetAllocationGranularity"); st != CUDA_SUCCESS) return st;
  Session* s = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(prop->location.id, s, local);
      st != CUDA_SUCCESS) {
    return st;
  }
  const uint64_t args[] = {local, static_cast<uint64_t>(option)};
  uint64_t g = 0;
  if (CUresult st = s->sync_value(Op::MemGetAllocationGranularity, args, {}, g); st != CUDA_SUCCESS) return st;
  *granularity = g;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                                   unsigned long long flags) {
  if (ptr == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  (void)addr;  // a hint; the server's address space decides
  Session& s = Session::current();
  const uint64_t args[] = {size, alignment, flags};
  uint64_t p = 0;
  if (CUresult st = s.sync_value(Op::MemAddressReserve, args, {}, p); st != CUDA_SUCCESS) return st;
  *ptr = p;
  std::lock_guard<std::mutex> lock(g_mu);
  reservations()[*ptr] = {size, s.index()};
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  CUdeviceptr base = 0;
  Reservation res{};
  if (!find_reservation(ptr, size, base, res) || base != ptr || res.size != size) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {ptr, size};
  const CUresult st = session_at(res.session).sync(Op::MemAddressFree, args);
  if (st == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> lock(g_mu);
    reservations().erase(ptr);
  }
  return st;
}

extern "C" CUresult gpool_impl_cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                           const CUmemAllocationProp* prop, unsigned long long flags) {
  if (handle == nullptr || size == 0 || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (CUresult st = check_prop(prop, "cuMemCreate"); st != CUDA_SUCCESS) return st;
  Session* s = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(prop->location.id, s, local);
      st != CUDA_SUCCESS) {
    return st;
  }
  const uint64_t args[] = {size, local};
  uint64_t server_handle = 0;
  if (CUresult st = s->sync_value(Op::MemCreate, args, {}, server_handle); st != CUDA_SUCCESS) return st;
  const uint64_t id = make_id(IdKind::kVmmHandle, s->index());
  std::lock_guard<std::mutex> lock(g_mu);
  handles()[id] = {server_handle, *prop, 1};
  *handle = id;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemRelease(CUmemGenericAllocationHandle handle) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Handle h{};
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = handles().find(handle);
    if (it == handles().end()) return CUDA_ERROR_INVALID_VALUE;
    if (it->second.refs > 1) {  // a retained reference: the allocation stays
      --it->second.refs;
      return CUDA_SUCCESS;
    }
    h = it->second;
  }
  const uint64_t args[] = {h.server_handle};
  const CUresult st = session_at(id_session(handle)).sync(Op::MemRelease, args);
  if (st == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> lock(g_mu);
    handles().erase(handle);
  }
  return st;
}

extern "C" CUresult gpool_impl_cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                                      CUmemGenericAllocationHandle handle) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = handles().find(handle);
  if (it == handles().end()) return CUDA_ERROR_INVALID_VALUE;
  *prop = it->second.prop;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                                        CUmemGenericAllocationHandle handle, unsigned long long flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  CUdeviceptr base = 0;
  Reservation res{};
  if (!find_reservation(ptr, size, base, res)) return CUDA_ERROR_INVALID_VALUE;
  Handle h{};
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = handles().find(handle);
    if (it == handles().end()) return CUDA_ERROR_INVALID_VALUE;
    h = it->second;
  }
  if (id_session(handle) != res.session) {
    logger().warn("cuMemMap: the allocation lives on {} but the address range on {}; memory cannot "
                  "be mapped across gpool servers", session_at(id_session(handle)).url(), session_at(res.session).url());
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t args[] = {ptr, size, offset, h.server_handle};
  const CUresult st = session_at(res.session).sync(Op::MemMap, args);
  if (st == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> lock(g_mu);
    mappings()[ptr] = {size, handle};
  }
  return st;
}

extern "C" CUresult gpool_impl_cuMemUnmap(CUdeviceptr ptr, size_t size) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  CUdeviceptr base = 0;
  Reservation res{};
  if (!find_reservation(ptr, size, base, res)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {ptr, size};
  const CUresult st = session_at(res.session).sync(Op::MemUnmap, args);
  if (st == CUDA_SUCCESS) {
    remove_device_ranges(res.session, ptr, size);
    std::lock_guard<std::mutex> lock(g_mu);  // whole mappings only (calls.toml MemUnmap)
    for (auto it = mappings().lower_bound(ptr); it != mappings().end() && it->first < ptr + size;) {
      it = mappings().erase(it);
    }
  }
  return st;
}

// The allocation handle mapped at `addr`, with one more reference that needs its own
// cuMemRelease (the driver's rule); the same id cuMemCreate gave.
extern "C" CUresult gpool_impl_cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const auto a = reinterpret_cast<CUdeviceptr>(addr);
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = mappings().upper_bound(a);
  if (it == mappings().begin()) return CUDA_ERROR_INVALID_VALUE;
  --it;
  if (a - it->first >= it->second.size) return CUDA_ERROR_INVALID_VALUE;
  auto h = handles().find(it->second.handle);
  if (h == handles().end()) return CUDA_ERROR_INVALID_VALUE;
  ++h->second.refs;
  *handle = it->second.handle;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  CUdeviceptr base = 0;
  Reservation res{};
  if (!find_reservation(ptr, size, base, res)) return CUDA_ERROR_INVALID_VALUE;
  Session& s = session_at(res.session);
  std::vector<uint64_t> args{ptr, size};
  if (CUresult st = Pool::global().append_access(desc, count, &s, "cuMemSetAccess",
                                                 CUDA_ERROR_NOT_SUPPORTED, args);
      st != CUDA_SUCCESS) {
    return st;
  }
  bool readwrite = false;
  for (size_t i = 0; i < count; ++i) readwrite |= desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  const CUresult st = s.sync(Op::MemSetAccess, args);
  if (st != CUDA_SUCCESS) return st;
  remove_device_ranges(res.session, ptr, size);
  if (readwrite) add_device_range_of(res.session, ptr, size);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemGetAccess(unsigned long long* flags, const CUmemLocation* location, CUdeviceptr ptr) {
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (location->type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_NOT_SUPPORTED;
  CUdeviceptr base = 0;
  Reservation res{};
  if (!find_reservation(ptr, 1, base, res)) return CUDA_ERROR_INVALID_VALUE;
  Session* owner = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(location->id, owner, local);
      st != CUDA_SUCCESS) {
    return st;
  }
  if (owner != &session_at(res.session)) {
    *flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;  // a device of another server never reaches it
    return CUDA_SUCCESS;
  }
  const uint64_t args[] = {local, ptr};
  uint64_t f = 0;
  if (CUresult st = owner->sync_value(Op::MemGetAccess, args, {}, f); st != CUDA_SUCCESS) return st;
  *flags = f;
  return CUDA_SUCCESS;
}
