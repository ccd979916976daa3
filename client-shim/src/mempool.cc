// Shim: memory pools (cuMemPoolCreate, cuMemPoolDestroy, cuMemPoolSet/GetAttribute,
// cuMemPoolTrimTo, cuMemAllocFromPoolAsync, cuMemPoolSet/GetAccess, cuDeviceGetDefaultMemPool,
// cuDeviceSet/GetMemPool), forwarded as sync calls (calls.toml 170-178; CUDA reports their errors
// at the call). Allocations from any pool are charged to the tenant's quota by the server.
//
// Handles given to the application:
//   created pools   shim-made ids (ids.h, kind kMemPool) naming the session of the pool's device;
//                   a forged or destroyed handle is refused here (CUDA_ERROR_INVALID_VALUE) and,
//                   independently, by the server's pool table;
//   default pools   a fixed tag plus the global device ordinal; on the wire 1 + the server's
//                   ordinal.
// Routing: a pool belongs to the server of its device. cuMemAllocFromPoolAsync must run on that
// server's device (the calling thread's current device on the same server; a stream cannot use a
// pool of another machine): otherwise CUDA_ERROR_INVALID_VALUE, logged. Only pinned device
// memory without shareable handle types can be pooled on a server; other properties get
// CUDA_ERROR_NOT_SUPPORTED, logged.
//
// Release threshold: the server keeps the driver's at 0 (docs/architecture.md, tenants and
// memory quotas) and answers cuMemPoolGetAttribute with the value set here.
//
// Thread safety: the local tables are guarded by one mutex; the calls themselves are serialised
// per session by Session.
#include <map>
#include <mutex>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/remote/pool_attributes.h"
#include "state.h"

using namespace gpool::shim;

namespace {

spdlog::logger& logger() { return gpool::log::logger("shim"); }

constexpr uintptr_t kDefaultPoolTag = 0x67706f6f6c000000ull;  // "gpool" in the high bytes

struct PoolInfo {  // a created pool; its session is the one the id names (id_session)
  int device = 0;  // global ordinal
  CUmemPoolProps props{};
};

// What a CUmemoryPool names on the wire.
struct Target {
  Session* session = nullptr;
  uint64_t wire_id = 0;  // client id, or 1 + server ordinal for a default pool
  int device = 0;        // global ordinal of the pool's device
};

std::mutex g_mu;
std::map<uint64_t, PoolInfo>& pools() {
  static auto* m = new std::map<uint64_t, PoolInfo>();  // never destroyed (atexit paths)
  return *m;
}
std::map<int, CUmemoryPool>& current_pools() {  // global ordinal -> pool set by cuDeviceSetMemPool
  static auto* m = new std::map<int, CUmemoryPool>();
  return *m;
}

CUmemoryPool default_pool(int dev) {
  return reinterpret_cast<CUmemoryPool>(kDefaultPoolTag + static_cast<uintptr_t>(dev) + 1);
}

// REQUIRES: check_ready(). INVALID_VALUE for a handle that is no live pool of this process.
CUresult resolve(CUmemoryPool pool, Target& out) {
  const auto h = reinterpret_cast<uintptr_t>(pool);
  Pool& all = Pool::global();
  if (h > kDefaultPoolTag && h - kDefaultPoolTag - 1 < static_cast<uintptr_t>(all.device_count())) {
    const int dev = static_cast<int>(h - kDefaultPoolTag - 1);
    Session* s = nullptr;
    uint64_t local = 0;
    if (all.locate(dev, s, local) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
    out = {s, local + 1, dev};
    return CUDA_SUCCESS;
  }
  const uint64_t id = h;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = pools().find(id);
  if (!id_is(id, IdKind::kMemPool) || it == pools().end()) return CUDA_ERROR_INVALID_VALUE;
  out = {&all.session(id_session(id)), id, it->second.device};
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice dev) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (dev < 0 || dev >= Pool::global().device_count()) return CUDA_ERROR_INVALID_DEVICE;
  *pool = default_pool(dev);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice dev) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (dev < 0 || dev >= Pool::global().device_count()) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = current_pools().find(dev);
  *pool = it == current_pools().end() ? default_pool(dev) : it->second;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session* s = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(dev, s, local); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  if (t.device != dev) return CUDA_ERROR_INVALID_VALUE;  // a pool of another device
  const uint64_t args[] = {local, t.wire_id};
  if (CUresult st = s->sync(Op::DeviceSetMemPool, args); st != CUDA_SUCCESS) return st;
  std::lock_guard<std::mutex> lock(g_mu);
  current_pools()[dev] = pool;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  if (pool == nullptr || props == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return gpool::abi::unimplemented("cuMemPoolCreate for a location other than a device");
  }
  if (props->handleTypes != CU_MEM_HANDLE_TYPE_NONE) {
    return gpool::abi::unimplemented("cuMemPoolCreate with shareable (IPC) handle types");
  }
  if (props->usage != 0) return gpool::abi::unimplemented("cuMemPoolCreate with a usage mask");
  Session* s = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(props->location.id, s, local);
      st != CUDA_SUCCESS) {
    return st;
  }
  const uint64_t id = make_id(IdKind::kMemPool, s->index());
  const uint64_t args[] = {id, local, static_cast<uint64_t>(props->handleTypes), props->maxSize};
  if (CUresult st = s->sync(Op::MemPoolCreate, args); st != CUDA_SUCCESS) return st;
  std::lock_guard<std::mutex> lock(g_mu);
  pools()[id] = {props->location.id, *props};
  *pool = reinterpret_cast<CUmemoryPool>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolDestroy(CUmemoryPool pool) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  if (!id_is(t.wire_id, IdKind::kMemPool)) return CUDA_ERROR_INVALID_VALUE;  // a default pool
  const uint64_t args[] = {t.wire_id};
  if (CUresult st = t.session->sync(Op::MemPoolDestroy, args); st != CUDA_SUCCESS) return st;
  std::lock_guard<std::mutex> lock(g_mu);
  pools().erase(t.wire_id);
  // Like the driver, a device whose current pool is destroyed uses its default pool again.
  if (auto it = current_pools().find(t.device); it != current_pools().end() && it->second == pool) {
    current_pools().erase(it);
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  uint64_t v = 0;
  if (gpool::remote::pool_attribute_is_int(attr)) {
    v = static_cast<uint32_t>(*static_cast<const int*>(value));
  } else if (gpool::remote::pool_attribute_is_u64(attr)) {
    v = *static_cast<const cuuint64_t*>(value);
  } else {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t args[] = {t.wire_id, static_cast<uint64_t>(attr), v};
  return t.session->sync(Op::MemPoolSetAttribute, args);
}

extern "C" CUresult gpool_impl_cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  if (!gpool::remote::pool_attribute_is_int(attr) && !gpool::remote::pool_attribute_is_u64(attr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t args[] = {t.wire_id, static_cast<uint64_t>(attr)};
  uint64_t v = 0;
  if (CUresult st = t.session->sync_value(Op::MemPoolGetAttribute, args, {}, v); st != CUDA_SUCCESS) return st;
  if (gpool::remote::pool_attribute_is_int(attr)) {
    *static_cast<int*>(value) = static_cast<int>(static_cast<uint32_t>(v));
  } else {
    *static_cast<cuuint64_t*>(value) = v;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolTrimTo(CUmemoryPool pool, size_t min_bytes_to_keep) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {t.wire_id, min_bytes_to_keep};
  return t.session->sync(Op::MemPoolTrimTo, args);
}

extern "C" CUresult gpool_impl_cuMemAllocFromPoolAsync(CUdeviceptr* out, size_t bytes, CUmemoryPool pool,
                                                       CUstream stream) {
  if (out == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  if (t.session != &Session::current()) {
    logger().warn("cuMemAllocFromPoolAsync: the pool lives on {} but the calling thread's device on {}; "
                  "a stream cannot allocate from a pool of another gpool server",
                  t.session->url(), Session::current().url());
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t args[] = {t.wire_id, bytes};
  const HandleRef h[] = {stream_ref(stream)};
  uint64_t p = 0;
  if (CUresult st = t.session->sync_value(Op::MemAllocFromPool, args, h, p); st != CUDA_SUCCESS) return st;
  *out = p;
  add_device_range(*out, bytes, true);  // the routed session, which is the pool's (checked above)
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc* map, size_t count) {
  if (map == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args{t.wire_id};
  if (CUresult st = Pool::global().append_access(map, count, t.session, "cuMemPoolSetAccess",
                                                 CUDA_ERROR_INVALID_VALUE, args);
      st != CUDA_SUCCESS) {
    return st;
  }
  return t.session->sync(Op::MemPoolSetAccess, args);
}

extern "C" CUresult gpool_impl_cuMemPoolGetAccess(CUmemAccess_flags* flags, CUmemoryPool pool, CUmemLocation* location) {
  if (flags == nullptr || location == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (location->type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  Target t;
  if (CUresult st = resolve(pool, t); st != CUDA_SUCCESS) return st;
  Session* owner = nullptr;
  uint64_t local = 0;
  if (CUresult st = Pool::global().locate(location->id, owner, local);
      st != CUDA_SUCCESS) {
    return st;
  }
  if (owner != t.session) {
    *flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;  // a device of another server never reaches it
    return CUDA_SUCCESS;
  }
  const uint64_t args[] = {t.wire_id, local};
  uint64_t f = 0;
  if (CUresult st = owner->sync_value(Op::MemPoolGetAccess, args, {}, f); st != CUDA_SUCCESS) return st;
  *flags = static_cast<CUmemAccess_flags>(f);
  return CUDA_SUCCESS;
}
