// Context entry points: primary contexts, created contexts, the per-thread
// context stack, limits and configuration, sticky errors, teardown.
#include "capture.h"
#include "context.h"

#include "alloc_table.h"
#include "device_heap.h"
#include "event.h"
#include "graph_mem.h"
#include "module.h"
#include "stream.h"

#include <algorithm>
#include <vector>

namespace gpool::emu::rt {

namespace {

std::atomic<uint64_t> g_next_ctx_id{1};

// The per-thread context stack. Trivially destructible on purpose: cudart
// calls into the driver from atexit handlers, which run after thread-local
// destructors of the main thread.
constexpr int kMaxStackDepth = 64;
struct CtxStack {
  Context* items[kMaxStackDepth];
  int depth;
  bool empty() const { return depth == 0; }
  Context*& back() { return items[depth - 1]; }
  bool push(Context* c) {
    if (depth == kMaxStackDepth) return false;
    items[depth++] = c;
    return true;
  }
  void pop() { --depth; }
  void erase(const Context* c) {
    int out = 0;
    for (int i = 0; i < depth; ++i)
      if (items[i] != c) items[out++] = items[i];
    depth = out;
  }
};
thread_local CtxStack t_stack{};

constexpr unsigned kCtxFlagMask = CU_CTX_FLAGS_MASK;

}  // namespace

Context* context_create(Device* dev, unsigned flags, bool primary) {
  auto* c = new Context();
  c->dev = dev;
  c->primary = primary;
  c->id = g_next_ctx_id++;
  c->flags = flags;
  c->legacy = std::make_shared<Stream>(c, Stream::Role::Legacy, 0, 0);
  registry().add(c);
  return c;
}

Context* current_context() { return t_stack.empty() ? nullptr : t_stack.items[t_stack.depth - 1]; }

CUresult find_context(CUcontext h, Context** out) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  const void* p = h != nullptr ? static_cast<const void*>(h) : current_context();
  if (p == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  Context* c = lookup<Context>(p);
  if (c == nullptr) return h != nullptr ? CUDA_ERROR_INVALID_CONTEXT : CUDA_ERROR_CONTEXT_IS_DESTROYED;
  *out = c;
  return CUDA_SUCCESS;
}

CUresult use_context(CUcontext h, Context** out) {
  Context* c = nullptr;
  if (CUresult r = find_context(h, &c); r != CUDA_SUCCESS) return r;
  if (c->primary && c->primary_refs.load() <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (CUresult s = c->sticky.load(); s != CUDA_SUCCESS) return s;
  *out = c;
  return CUDA_SUCCESS;
}

void set_sticky(Context* ctx, CUresult err) {
  CUresult expected = CUDA_SUCCESS;
  ctx->sticky.compare_exchange_strong(expected, err);
}

void context_wait_idle(Context* ctx) {
  std::vector<std::shared_ptr<Stream>> all;
  {
    std::lock_guard lock(ctx->mu);
    all.assign(ctx->streams.begin(), ctx->streams.end());
    if (ctx->legacy) all.push_back(ctx->legacy);
  }
  for (auto& s : all) s->wait_idle();
}

void context_teardown(Context* ctx) {
  ctx->generation.fetch_add(1);  // per-thread stream caches stop naming this context's streams
  context_wait_idle(ctx);
  std::vector<std::shared_ptr<Stream>> streams;
  std::vector<Event*> events;
  {
    std::lock_guard lock(ctx->mu);
    streams.assign(ctx->streams.begin(), ctx->streams.end());
    ctx->streams.clear();
    events.assign(ctx->events.begin(), ctx->events.end());
    ctx->events.clear();
    ctx->peers.clear();
    ctx->heap.reset();  // its memory is one of the context's allocations, freed below
  }
  for (auto& s : streams) {
    capture_stream_gone(s.get());  // a capture in progress ends with its streams
    registry().remove(s.get());
    s->shutdown();
  }
  for (Event* e : events) event_delete(e);
  context_release_modules(ctx);
  for (const Alloc& a : allocs().owned_by(ctx)) {
    if (a.graph_mem) {
      graph_mem_free_now(a.base);  // a live graph allocation this context's launch made
    } else if (a.kind == AllocKind::HostRegistered) {
      allocs().remove(a.base);
    } else {
      device_free(a.base);
    }
  }
  ctx->sticky.store(CUDA_SUCCESS);
  ctx->limit_stack = 1024;
  ctx->limit_printf_fifo = 1 << 20;
  ctx->limit_malloc_heap = 8 << 20;
  ctx->cache_config = CU_FUNC_CACHE_PREFER_NONE;
  ctx->generation.fetch_add(1);
  gpool::abi::cls_context_destroyed(reinterpret_cast<CUcontext>(ctx));
}

CUresult context_heap(Context* ctx, std::shared_ptr<HeapArena>* out) {
  std::lock_guard<std::mutex> lock(ctx->mu);
  if (ctx->heap == nullptr) {
    const uint64_t bytes = std::max<uint64_t>(ctx->limit_malloc_heap.load(), 16);
    uint64_t base = 0;
    if (CUresult r = device_alloc(ctx, ctx->dev->ordinal, bytes, AllocKind::Device, 0, nullptr, false, &base);
        r != CUDA_SUCCESS) {
      return r;
    }
    ctx->heap = std::make_shared<HeapArena>(base, bytes);
  }
  *out = ctx->heap;
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

// ---------------------------------------------------------------- primary contexts

extern "C" CUresult gpool_backend_primary_context(CUdevice dev, CUcontext* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *out = reinterpret_cast<CUcontext>(d->primary);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  d->primary->primary_refs.fetch_add(1);
  *pctx = reinterpret_cast<CUcontext>(d->primary);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  int refs = d->primary->primary_refs.load();
  do {
    if (refs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
  } while (!d->primary->primary_refs.compare_exchange_weak(refs, refs - 1));
  if (refs == 1) context_teardown(d->primary);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease(CUdevice dev) {
  return gpool_impl_cuDevicePrimaryCtxRelease_v2(dev);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  context_teardown(d->primary);
  d->primary->flags = 0;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxReset(CUdevice dev) {
  return gpool_impl_cuDevicePrimaryCtxReset_v2(dev);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (flags & ~kCtxFlagMask) return CUDA_ERROR_INVALID_VALUE;
  d->primary->flags = flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags) {
  return gpool_impl_cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

extern "C" CUresult gpool_impl_cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  *flags = d->primary->flags.load();
  *active = d->primary->primary_refs.load() > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- created contexts

namespace {

CUresult ctx_create(CUcontext* pctx, unsigned flags, CUdevice dev) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (flags & ~kCtxFlagMask) return CUDA_ERROR_INVALID_VALUE;
  if (t_stack.depth == kMaxStackDepth) return CUDA_ERROR_OUT_OF_MEMORY;
  Context* c = context_create(d, flags, false);
  t_stack.push(c);
  *pctx = reinterpret_cast<CUcontext>(c);
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return ctx_create(pctx, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxCreate(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return ctx_create(pctx, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* paramsArray,
                                              int numParams, unsigned int flags, CUdevice dev) {
  if (numParams > 0) return gpool::abi::unimplemented("cuCtxCreate_v3 with execution affinity");
  return ctx_create(pctx, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* ctxCreateParams,
                                              unsigned int flags, CUdevice dev) {
  if (ctxCreateParams != nullptr &&
      (ctxCreateParams->numExecAffinityParams > 0 || ctxCreateParams->cigParams != nullptr)) {
    return gpool::abi::unimplemented("cuCtxCreate_v4 with execution affinity or CIG parameters");
  }
  return ctx_create(pctx, flags, dev);
}

extern "C" CUresult gpool_impl_cuCtxDestroy_v2(CUcontext ctx) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Context* c = lookup<Context>(ctx);
  if (c == nullptr || c->primary) return CUDA_ERROR_INVALID_CONTEXT;
  {
    std::lock_guard lock(c->mu);
    if (c->destroyed) return CUDA_ERROR_INVALID_CONTEXT;
    c->destroyed = true;
  }
  registry().remove(c);  // from now on the handle is refused everywhere
  t_stack.erase(c);
  context_teardown(c);
  c->legacy->shutdown();
  // The Context object is kept (not deleted): other threads' stacks may still
  // name it, and the registry check turns those uses into INVALID_CONTEXT.
  static std::mutex graveyard_mu;
  static auto* graveyard = new std::vector<Context*>();
  std::lock_guard lock(graveyard_mu);
  graveyard->push_back(c);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxDestroy(CUcontext ctx) { return gpool_impl_cuCtxDestroy_v2(ctx); }

// ---------------------------------------------------------------- the context stack

extern "C" CUresult gpool_impl_cuCtxPushCurrent_v2(CUcontext ctx) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Context* c = lookup<Context>(ctx);
  if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  return t_stack.push(c) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

extern "C" CUresult gpool_impl_cuCtxPushCurrent(CUcontext ctx) { return gpool_impl_cuCtxPushCurrent_v2(ctx); }

extern "C" CUresult gpool_impl_cuCtxPopCurrent_v2(CUcontext* pctx) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* c = t_stack.back();
  t_stack.pop();
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(c);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxPopCurrent(CUcontext* pctx) { return gpool_impl_cuCtxPopCurrent_v2(pctx); }

extern "C" CUresult gpool_impl_cuCtxSetCurrent(CUcontext ctx) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (ctx == nullptr) {
    if (!t_stack.empty()) t_stack.pop();
    return CUDA_SUCCESS;
  }
  Context* c = lookup<Context>(ctx);
  if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (t_stack.empty()) {
    t_stack.push(c);
  } else {
    t_stack.back() = c;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetCurrent(CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  *pctx = reinterpret_cast<CUcontext>(current_context());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  *device = c->dev->ordinal;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetDevice_v2(CUdevice* device, CUcontext ctx) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(ctx, &c); r != CUDA_SUCCESS) return r;
  *device = c->dev->ordinal;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  *flags = c->flags.load();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetFlags(unsigned int flags) {
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  if (flags & ~kCtxFlagMask) return CUDA_ERROR_INVALID_VALUE;
  c->flags = flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(ctx, &c); r != CUDA_SUCCESS) return r;
  *version = 3020;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetId(CUcontext ctx, unsigned long long* ctxId) {
  if (ctxId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(ctx, &c); r != CUDA_SUCCESS) return r;
  *ctxId = c->id;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSynchronize(void) {
  if (CUresult r = capture_unsafe_call("cuCtxSynchronize"); r != CUDA_SUCCESS) return r;
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  context_wait_idle(c);
  return c->sticky.load();
}

extern "C" CUresult gpool_impl_cuCtxSynchronize_v2(CUcontext ctx) {
  if (CUresult r = capture_unsafe_call("cuCtxSynchronize"); r != CUDA_SUCCESS) return r;
  Context* c = nullptr;
  if (CUresult r = find_context(ctx, &c); r != CUDA_SUCCESS) return r;
  context_wait_idle(c);
  return c->sticky.load();
}

// ---------------------------------------------------------------- limits and configuration

namespace {

std::atomic<size_t>* limit_slot(Context* c, CUlimit limit) {
  switch (limit) {
    case CU_LIMIT_STACK_SIZE: return &c->limit_stack;
    case CU_LIMIT_PRINTF_FIFO_SIZE: return &c->limit_printf_fifo;
    case CU_LIMIT_MALLOC_HEAP_SIZE: return &c->limit_malloc_heap;
    case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH: return &c->limit_sync_depth;
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT: return &c->limit_pending_launches;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY: return &c->limit_max_l2_fetch;
    case CU_LIMIT_PERSISTING_L2_CACHE_SIZE: return &c->limit_persisting_l2;
    case CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED: return &c->limit_cig_shmem_fallback;
    default: return nullptr;
  }
}

}  // namespace

extern "C" CUresult gpool_impl_cuCtxGetLimit(size_t* pvalue, CUlimit limit) {
  if (pvalue == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = use_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  // The two query-only CIG limits (CUDA in Graphics, CUDA 12.8+). Emulated contexts are never
  // CIG contexts, so CIG_ENABLED is 0 and all of the device's shared memory is available to
  // kernels. cuBLASLt's context setup (cublasLtCtxInit, run by cublasCreate) reads
  // CU_LIMIT_CIG_ENABLED and copies no device properties into the handle when the query fails
  // with anything but CUDA_ERROR_INVALID_CONTEXT: cuBLAS then divides by the zeroed warp size
  // (SIGFPE in cublasSdot/Sasum).
  if (limit == CU_LIMIT_CIG_ENABLED) {
    *pvalue = 0;
    return CUDA_SUCCESS;
  }
  if (limit == CU_LIMIT_SHMEM_SIZE) {
    *pvalue = static_cast<size_t>(c->dev->prof.shared_per_block_optin);
    return CUDA_SUCCESS;
  }
  auto* slot = limit_slot(c, limit);
  if (slot == nullptr) return CUDA_ERROR_UNSUPPORTED_LIMIT;
  *pvalue = slot->load();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetLimit(CUlimit limit, size_t value) {
  Context* c = nullptr;
  if (CUresult r = use_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  auto* slot = limit_slot(c, limit);
  if (slot == nullptr) return CUDA_ERROR_UNSUPPORTED_LIMIT;
  if (limit == CU_LIMIT_MAX_L2_FETCH_GRANULARITY && value > 128) return CUDA_ERROR_INVALID_VALUE;
  if (limit == CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED && value > 1) return CUDA_ERROR_INVALID_VALUE;
  if (limit == CU_LIMIT_MALLOC_HEAP_SIZE) {
    // As on a GPU: the heap size is fixed once a kernel that uses it has launched.
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->heap != nullptr) return CUDA_ERROR_INVALID_VALUE;
    *slot = value;
    return CUDA_SUCCESS;
  }
  if (limit == CU_LIMIT_PERSISTING_L2_CACHE_SIZE &&
      value > static_cast<size_t>(c->dev->prof.max_persisting_l2)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *slot = value;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetCacheConfig(CUfunc_cache* pconfig) {
  if (pconfig == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  *pconfig = static_cast<CUfunc_cache>(c->cache_config.load());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetCacheConfig(CUfunc_cache config) {
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL) return CUDA_ERROR_INVALID_VALUE;
  c->cache_config = config;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetSharedMemConfig(CUsharedconfig* pConfig) {
  if (pConfig == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  *pConfig = static_cast<CUsharedconfig>(c->shmem_config.load());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxSetSharedMemConfig(CUsharedconfig config) {
  Context* c = nullptr;
  if (CUresult r = find_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  if (config < CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE || config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  c->shmem_config = config;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- peer access

extern "C" CUresult gpool_impl_cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags) {
  Context* c = nullptr;
  if (CUresult r = use_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Context* peer = lookup<Context>(peerContext);
  if (peer == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (peer->dev == c->dev) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard lock(c->mu);
  if (!c->peers.insert(peer).second) return CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxDisablePeerAccess(CUcontext peerContext) {
  Context* c = nullptr;
  if (CUresult r = use_context(nullptr, &c); r != CUDA_SUCCESS) return r;
  Context* peer = lookup<Context>(peerContext);
  if (peer == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  std::lock_guard lock(c->mu);
  if (c->peers.erase(peer) == 0) return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
  return CUDA_SUCCESS;
}

// No profiling tool is ever attached to the emulator: start and stop have no effect, as the
// driver's do without one (CUDA_SUCCESS with a current context; its sticky error otherwise).
extern "C" CUresult gpool_impl_cuProfilerStart() {
  Context* c = nullptr;
  return use_context(nullptr, &c);
}

extern "C" CUresult gpool_impl_cuProfilerStop() {
  Context* c = nullptr;
  return use_context(nullptr, &c);
}
