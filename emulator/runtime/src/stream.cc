// Stream entry points (cuStream*, cuLaunchHostFunc), stream resolution and
// legacy default-stream ordering.
#include "stream.h"

#include "capture.h"
#include "context.h"
#include "graph.h"

#include <algorithm>
#include <unordered_map>

namespace gpool::emu::rt {

namespace {

constexpr int kGreatestPriority = -5;  // numerically lowest = highest priority
constexpr int kLeastPriority = 0;

// The calling thread's per-thread default stream of each context it used.
// The context owns the stream (ctx->streams) until a reset or destroy, which
// bumps the generation and so invalidates the entry. Trivially destructible
// (see CtxStack in context.cc); with more contexts than slots the oldest slot
// is reused and that context's thread stream is made anew (an extra stream,
// never a wrong one).
struct PerThreadEntry {
  Context* ctx;
  uint64_t generation;
  Stream* stream;
};
constexpr int kPerThreadSlots = 8;
thread_local PerThreadEntry t_per_thread[kPerThreadSlots]{};
thread_local int t_per_thread_next = 0;

std::shared_ptr<Stream> per_thread_stream(Context* ctx) {
  const uint64_t gen = ctx->generation.load();
  for (auto& e : t_per_thread) {
    if (e.ctx == ctx && e.generation == gen && e.stream != nullptr) {
      if (auto s = stream_ref(e.stream)) return s;
    }
  }
  auto s = std::make_shared<Stream>(ctx, Stream::Role::PerThread, 0, kLeastPriority);
  {
    std::lock_guard lock(ctx->mu);
    ctx->streams.insert(s);
  }
  PerThreadEntry* slot = nullptr;
  for (auto& e : t_per_thread)
    if (e.ctx == ctx) slot = &e;
  if (slot == nullptr) {
    slot = &t_per_thread[t_per_thread_next];
    t_per_thread_next = (t_per_thread_next + 1) % kPerThreadSlots;
  }
  *slot = {ctx, gen, s.get()};
  return s;
}

CUresult resolve(CUstream h, bool check_sticky, std::shared_ptr<Stream>* out) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  const auto raw = reinterpret_cast<uintptr_t>(h);
  if (raw == 0 || raw == reinterpret_cast<uintptr_t>(CU_STREAM_LEGACY) ||
      raw == reinterpret_cast<uintptr_t>(CU_STREAM_PER_THREAD)) {
    Context* ctx = nullptr;
    CUresult r = check_sticky ? use_context(nullptr, &ctx) : find_context(nullptr, &ctx);
    if (r != CUDA_SUCCESS) return r;
    const bool per_thread = raw == reinterpret_cast<uintptr_t>(CU_STREAM_PER_THREAD) ||
                            (raw == 0 && gpool::abi::per_thread_default_stream());
    if (per_thread) {
      *out = per_thread_stream(ctx);
    } else {
      std::lock_guard lock(ctx->mu);
      *out = ctx->legacy;
    }
    return CUDA_SUCCESS;
  }
  Stream* s = lookup<Stream>(h);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto ref = stream_ref(s);
  if (!ref) return CUDA_ERROR_INVALID_HANDLE;
  if (check_sticky) {
    CUresult sticky = s->ctx->sticky.load();
    if (sticky != CUDA_SUCCESS) return sticky;
  }
  *out = std::move(ref);
  return CUDA_SUCCESS;
}

}  // namespace

std::shared_ptr<Stream> stream_ref(Stream* s) {
  try {
    return s->shared_from_this();
  } catch (const std::bad_weak_ptr&) {
    return nullptr;
  }
}

CUresult resolve_stream(CUstream h, std::shared_ptr<Stream>* out) { return resolve(h, true, out); }
CUresult resolve_stream_nosticky(CUstream h, std::shared_ptr<Stream>* out) {
  return resolve(h, false, out);
}

uint64_t submit(const std::shared_ptr<Stream>& s, Task task, std::vector<Dep> extra) {
  Context* ctx = s->ctx;
  std::vector<Dep> deps = std::move(extra);
  std::lock_guard lock(ctx->mu);
  if (s->role == Stream::Role::Legacy) {
    for (const auto& o : ctx->streams) {
      if (o == s || (o->flags & CU_STREAM_NON_BLOCKING) || o->idle()) continue;
      deps.push_back({o, o->last_submitted()});
    }
  } else if (!(s->flags & CU_STREAM_NON_BLOCKING) && ctx->legacy && !ctx->legacy->idle()) {
    deps.push_back({ctx->legacy, ctx->legacy->last_submitted()});
  }
  return s->enqueue(std::move(task), std::move(deps));
}

CUresult submit_and_wait(const std::shared_ptr<Stream>& s, Task task) {
  const uint64_t seq = submit(s, std::move(task));
  s->wait(seq);
  return s->ctx->sticky.load();
}

void stream_destroy(const std::shared_ptr<Stream>& s) {
  capture_stream_gone(s.get());
  {
    std::lock_guard lock(s->ctx->mu);
    s->ctx->streams.erase(s);
  }
  registry().remove(s.get());
  s->shutdown();
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

CUresult stream_create(CUstream* out, unsigned flags, int priority) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING)) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  priority = std::clamp(priority, kGreatestPriority, kLeastPriority);
  auto s = std::make_shared<Stream>(ctx, Stream::Role::User, flags, priority);
  {
    std::lock_guard lock(ctx->mu);
    ctx->streams.insert(s);
  }
  registry().add(s.get());
  *out = reinterpret_cast<CUstream>(s.get());
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamCreate(CUstream* phStream, unsigned int Flags) {
  return stream_create(phStream, Flags, kLeastPriority);
}

extern "C" CUresult gpool_impl_cuStreamCreateWithPriority(CUstream* phStream, unsigned int flags,
                                                          int priority) {
  return stream_create(phStream, flags, priority);
}

extern "C" CUresult gpool_impl_cuStreamDestroy_v2(CUstream hStream) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Stream* s = lookup<Stream>(hStream);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto ref = stream_ref(s);
  if (!ref || ref->role != Stream::Role::User) return CUDA_ERROR_INVALID_HANDLE;
  stream_destroy(ref);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamDestroy(CUstream hStream) {
  return gpool_impl_cuStreamDestroy_v2(hStream);
}

extern "C" CUresult gpool_impl_cuStreamQuery(CUstream hStream) {
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_gate_sync(s); r != CUDA_SUCCESS) return r;
  return s->idle() ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

extern "C" CUresult gpool_impl_cuStreamSynchronize(CUstream hStream) {
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  if (CUresult r = capture_gate_sync(s); r != CUDA_SUCCESS) return r;
  if (s->role == Stream::Role::Legacy) {
    // A marker on the legacy stream depends on all earlier work of the
    // blocking streams (see submit()); waiting for it is the legacy sync.
    s->wait(submit(s, Task{}));
  } else {
    s->wait_idle();
  }
  return s->ctx->sticky.load();
}

extern "C" CUresult gpool_impl_cuStreamGetPriority(CUstream hStream, int* priority) {
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  *priority = s->priority;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetFlags(CUstream hStream, unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  *flags = s->flags;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetId(CUstream hStream, unsigned long long* streamId) {
  if (streamId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  *streamId = s->id;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetCtx(CUstream hStream, CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  *pctx = reinterpret_cast<CUcontext>(s->ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetCtx_v2(CUstream hStream, CUcontext* pCtx,
                                                 CUgreenCtx* pGreenCtx) {
  if (pCtx == nullptr || pGreenCtx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = gpool_impl_cuStreamGetCtx(hStream, pCtx);
  if (r == CUDA_SUCCESS) *pGreenCtx = nullptr;
  return r;
}

extern "C" CUresult gpool_impl_cuStreamGetDevice(CUstream hStream, CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  *device = s->ctx->dev->ordinal;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void* userData) {
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  if (capturing) {
    auto n = std::make_unique<GraphNode>();
    n->type = CU_GRAPH_NODE_TYPE_HOST;
    n->host.fn = fn;
    n->host.userData = userData;
    return capture_add(s, std::move(n));
  }
  submit(s, [fn, userData] { fn(userData); });
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamAddCallback(CUstream hStream, CUstreamCallback callback,
                                                   void* userData, unsigned int flags) {
  if (callback == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  // The driver refuses stream callbacks in a capture (cuLaunchHostFunc is the
  // capturable form).
  if (capturing) return capture_fail(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  Context* ctx = s->ctx;
  submit(s, [callback, userData, hStream, ctx] { callback(hStream, ctx->sticky.load(), userData); });
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr,
                                                    const CUstreamAttrValue* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(s->attr_mu);
  for (auto& [id, v] : s->attrs) {
    if (id == static_cast<int>(attr)) {
      v = *value;
      return CUDA_SUCCESS;
    }
  }
  s->attrs.emplace_back(static_cast<int>(attr), *value);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr,
                                                    CUstreamAttrValue* value_out) {
  if (value_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(s->attr_mu);
  for (const auto& [id, v] : s->attrs) {
    if (id == static_cast<int>(attr)) {
      *value_out = v;
      return CUDA_SUCCESS;
    }
  }
  CUstreamAttrValue zero{};
  if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY) zero.priority = s->priority;
  *value_out = zero;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamCopyAttributes(CUstream dst, CUstream src) {
  std::shared_ptr<Stream> d, s;
  if (CUresult r = resolve_stream_nosticky(dst, &d); r != CUDA_SUCCESS) return r;
  if (CUresult r = resolve_stream_nosticky(src, &s); r != CUDA_SUCCESS) return r;
  if (d == s) return CUDA_SUCCESS;
  std::vector<std::pair<int, CUstreamAttrValue>> copy;
  {
    std::lock_guard lock(s->attr_mu);
    copy = s->attrs;
  }
  std::lock_guard lock(d->attr_mu);
  d->attrs = std::move(copy);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuCtxGetStreamPriorityRange(int* leastPriority, int* greatestPriority) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Context* ctx = nullptr;
  if (CUresult r = find_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  if (leastPriority) *leastPriority = kLeastPriority;
  if (greatestPriority) *greatestPriority = kGreatestPriority;
  return CUDA_SUCCESS;
}
