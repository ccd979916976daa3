// CONTEXT_LOCAL_STORAGE_V0301 c693336e1121df11a8c368f355d89593 (facts 2.4). No size word: the
// handed-out pointer points at `put`; the table is {put, delete, get, NULL}.
//   0 put    CUresult (CUcontext ctx, void* key, void* value, void (*dtor)(CUcontext, void*, void*))
//   1 delete CUresult (CUcontext ctx, void* key)       removes, never calls dtor
//   2 get    CUresult (void** value, CUcontext ctx, void* key)
//            miss: *value = NULL, CUDA_ERROR_INVALID_HANDLE (cudart then builds its state and puts)
// A NULL ctx means the calling thread's current context (backend's cuCtxGetCurrent).
// cls_context_destroyed(ctx) runs each entry's dtor(ctx, key, value), without holding the lock,
// and drops the entries.
//
// A lookup precedes almost every runtime API call: get takes a shared lock on one hash map.
// The state is leaked on purpose: cudart calls delete from its own exit-time teardown, which may
// run after this library's static destructors.
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "tables.h"

namespace gpool::abi {
namespace {

using Dtor = void (*)(CUcontext, void*, void*);

struct Key {
  CUcontext ctx;
  void* key;
  bool operator==(const Key& o) const { return ctx == o.ctx && key == o.key; }
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    auto a = reinterpret_cast<uintptr_t>(k.ctx);
    auto b = reinterpret_cast<uintptr_t>(k.key);
    return std::hash<uintptr_t>()(a * 0x9E3779B97F4A7C15ULL ^ b);
  }
};

struct Entry {
  void* value;
  Dtor dtor;
};

struct Storage {
  std::shared_mutex mu;
  std::unordered_map<Key, Entry, KeyHash> entries;  // GUARDED_BY(mu)
};

Storage& storage() {
  static Storage* s = new Storage();
  return *s;
}

// Resolves a NULL ctx to the calling thread's current context. Writes NULL when none is current.
CUresult resolve(CUcontext& ctx) {
  if (ctx != nullptr) return CUDA_SUCCESS;
  CUcontext current = nullptr;
  CUresult rc = gpool_impl_cuCtxGetCurrent(&current);
  if (rc != CUDA_SUCCESS) return rc;
  if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  ctx = current;
  return CUDA_SUCCESS;
}

CUresult cls_put(CUcontext ctx, void* key, void* value, Dtor dtor) {
  if (CUresult rc = resolve(ctx); rc != CUDA_SUCCESS) return rc;
  Storage& s = storage();
  std::unique_lock lock(s.mu);
  s.entries.insert_or_assign(Key{ctx, key}, Entry{value, dtor});
  return CUDA_SUCCESS;
}

CUresult cls_delete(CUcontext ctx, void* key) {
  if (CUresult rc = resolve(ctx); rc != CUDA_SUCCESS) return rc;
  Storage& s = storage();
  std::unique_lock lock(s.mu);
  s.entries.erase(Key{ctx, key});
  return CUDA_SUCCESS;
}

CUresult cls_get(void** value, CUcontext ctx, void* key) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *value = nullptr;
  if (CUresult rc = resolve(ctx); rc != CUDA_SUCCESS) return CUDA_ERROR_INVALID_HANDLE;
  Storage& s = storage();
  std::shared_lock lock(s.mu);
  auto it = s.entries.find(Key{ctx, key});
  if (it == s.entries.end()) return CUDA_ERROR_INVALID_HANDLE;
  *value = it->second.value;
  return CUDA_SUCCESS;
}

const void* const kTable[4] = {
    reinterpret_cast<const void*>(cls_put),
    reinterpret_cast<const void*>(cls_delete),
    reinterpret_cast<const void*>(cls_get),
    nullptr,
};

}  // namespace

void cls_context_destroyed(CUcontext ctx) {
  if (ctx == nullptr) return;
  std::vector<std::pair<void*, Entry>> dropped;
  {
    Storage& s = storage();
    std::unique_lock lock(s.mu);
    for (auto it = s.entries.begin(); it != s.entries.end();) {
      if (it->first.ctx == ctx) {
        dropped.emplace_back(it->first.key, it->second);
        it = s.entries.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [key, entry] : dropped) {
    if (entry.dtor != nullptr) entry.dtor(ctx, key, entry.value);
  }
}

namespace tables {
const void* context_local_storage() { return kTable; }
}  // namespace tables

}  // namespace gpool::abi
