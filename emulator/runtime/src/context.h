// Contexts: primary (one per device, same handle for the life of the
// process, retained/released/reset) and created (cuCtxCreate/Destroy), the
// per-thread current-context stack, and the sticky error of a context.
//
// A context owns its streams, events, modules and device allocations; they
// are released when a created context is destroyed or a primary context is
// reset (and, for a primary context, when its last retain is released).
//
// Thread safety: all functions may be called from any thread. Context fields
// marked "guarded by mu" need mu; the rest are atomics or constant after
// construction.
//
// Sticky errors: a kernel fault stores its CUresult in `sticky` (first one
// wins). From then on every call that works on the context returns it, until
// the context is destroyed or (primary) reset.
#pragma once

#include "runtime.h"

#include "gpool/driver_abi/backend.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

namespace gpool::emu::rt {

class Stream;
class HeapArena;
struct Event;
struct Module;

struct Context final : Object {
  static constexpr Kind kKind = Kind::Context;
  Context() : Object(Kind::Context) {}

  // Constant after construction.
  Device* dev = nullptr;
  bool primary = false;
  uint64_t id = 0;

  std::atomic<unsigned> flags{0};
  std::atomic<int> primary_refs{0};    // primary only: cuDevicePrimaryCtxRetain count
  std::atomic<CUresult> sticky{CUDA_SUCCESS};
  std::atomic<uint64_t> generation{0};  // bumped by reset; invalidates per-thread caches

  std::atomic<size_t> limit_stack{1024};
  std::atomic<size_t> limit_printf_fifo{1 << 20};
  std::atomic<size_t> limit_malloc_heap{8 << 20};
  std::atomic<size_t> limit_sync_depth{2};
  std::atomic<size_t> limit_pending_launches{2048};
  std::atomic<size_t> limit_max_l2_fetch{64};
  std::atomic<size_t> limit_persisting_l2{0};
  std::atomic<size_t> limit_cig_shmem_fallback{1};  // CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED
  std::atomic<int> cache_config{CU_FUNC_CACHE_PREFER_NONE};
  std::atomic<int> shmem_config{CU_SHARED_MEM_CONFIG_FOUR_BYTE_BANK_SIZE};

  std::mutex mu;
  std::shared_ptr<Stream> legacy;               // guarded by mu (set at creation)
  std::set<std::shared_ptr<Stream>> streams;    // guarded by mu: created + per-thread streams
  std::set<Event*> events;                      // guarded by mu
  std::set<Module*> modules;                    // guarded by mu
  std::set<Context*> peers;                     // guarded by mu: cuCtxEnablePeerAccess
  bool destroyed = false;                       // guarded by mu: created context after cuCtxDestroy
  // guarded by mu: the device malloc heap, created by the first launch of a
  // kernel that uses it (device_heap.h); fixes limit_malloc_heap from then on.
  std::shared_ptr<HeapArena> heap;
};

// The context's device malloc heap, created on first use with the current
// heap limit. Errors: CUDA_ERROR_OUT_OF_MEMORY when the heap cannot be placed.
CUresult context_heap(Context* ctx, std::shared_ptr<HeapArena>* out);

// Creates a context (not primary) for `dev`; registered and owning a legacy stream.
Context* context_create(Device* dev, unsigned flags, bool primary);

// Releases everything the context owns (waits for its streams first) and
// clears the sticky error. Calls the CLS destructors of the abi. Holds no
// locks while doing so. Used by cuCtxDestroy and primary-context reset.
void context_teardown(Context* ctx);

// The calling thread's current context, or nullptr.
Context* current_context();

// Resolves `ctx` (nullptr = current) for a call that works on it:
// CUDA_ERROR_INVALID_CONTEXT when there is none or the handle is not live,
// the sticky error when the context has one.
CUresult use_context(CUcontext ctx, Context** out);

// Like use_context but ignores the sticky error (for queries).
CUresult find_context(CUcontext ctx, Context** out);

// Stores `err` as the sticky error of `ctx` unless it already has one.
void set_sticky(Context* ctx, CUresult err);

// Waits until every stream of `ctx` is idle.
void context_wait_idle(Context* ctx);

}  // namespace gpool::emu::rt
