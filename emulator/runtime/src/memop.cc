// Stream memory operations: the checks, the waiting and writing task, and the
// cuStreamWaitValue*/cuStreamWriteValue*/cuStreamBatchMemOp entry points (memop.h).
#include "memop.h"

#include "alloc_table.h"
#include "capture.h"
#include "context.h"
#include "graph.h"
#include "graph_mem.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>

namespace gpool::emu::rt {
namespace {

constexpr unsigned kWaitKinds = 0x3;  // GEQ, EQ, AND, NOR

// Signalled by memop_notify(). Never destroyed: stream threads may still wait at exit.
struct Waiters {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t epoch = 0;  // guarded by mu
};
Waiters& waiters() {
  static auto* w = new Waiters();
  return *w;
}
std::atomic<int> g_waiting{0};

bool is_wait(unsigned op) { return op == CU_STREAM_MEM_OP_WAIT_VALUE_32 || op == CU_STREAM_MEM_OP_WAIT_VALUE_64; }
bool is_write(unsigned op) { return op == CU_STREAM_MEM_OP_WRITE_VALUE_32 || op == CU_STREAM_MEM_OP_WRITE_VALUE_64; }
using gpool::abi::memop_width;

CUresult check_address(uint64_t addr, unsigned bytes, bool node) {
  if (addr == 0 || addr % bytes != 0) {
    log().info("stream memory operation: address {:#x} is not {}-byte aligned", addr, bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const auto a = allocs().find_range(addr, bytes);
  if (!a) {
    if (node && graph_mem_reserved(addr, bytes)) return CUDA_SUCCESS;
    log().info("stream memory operation: {:#x} is not memory the device knows", addr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (a->kind == AllocKind::Managed) {
    log().info("stream memory operation: {:#x} is managed memory, which these operations do not accept", addr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

bool satisfied(const CUstreamBatchMemOpParams& p) {
  const auto& w = p.waitValue;
  const unsigned kind = w.flags & kWaitKinds;
  if (p.operation == CU_STREAM_MEM_OP_WAIT_VALUE_32) {
    const uint32_t v = __atomic_load_n(reinterpret_cast<const uint32_t*>(w.address), __ATOMIC_ACQUIRE);
    switch (kind) {
      case CU_STREAM_WAIT_VALUE_GEQ: return static_cast<int32_t>(v - w.value) >= 0;
      case CU_STREAM_WAIT_VALUE_EQ: return v == w.value;
      case CU_STREAM_WAIT_VALUE_AND: return (v & w.value) != 0;
      default: return ~(v | w.value) != 0;  // NOR
    }
  }
  const uint64_t v = __atomic_load_n(reinterpret_cast<const uint64_t*>(w.address), __ATOMIC_ACQUIRE);
  switch (kind) {
    case CU_STREAM_WAIT_VALUE_GEQ: return static_cast<int64_t>(v - w.value64) >= 0;
    case CU_STREAM_WAIT_VALUE_EQ: return v == w.value64;
    case CU_STREAM_WAIT_VALUE_AND: return (v & w.value64) != 0;
    default: return ~(v | w.value64) != 0;  // NOR
  }
}

// Why a wait ended without its condition.
enum class Stop { None, Gone, Cancelled };

// Holds the calling stream thread until `p` is satisfied (Stop::None), its word was freed
// (Gone) or its context went away or faulted (Cancelled).
Stop wait_one(const CUstreamBatchMemOpParams& p, Context* ctx, uint64_t gen) {
  using namespace std::chrono;
  Waiters& w = waiters();
  const unsigned bytes = memop_width(p.operation);
  g_waiting.fetch_add(1);
  microseconds backoff{20};
  Stop stop = Stop::None;
  for (;;) {
    uint64_t seen = 0;
    {
      std::lock_guard lock(w.mu);
      seen = w.epoch;
    }
    if (ctx->generation.load() != gen || ctx->sticky.load() != CUDA_SUCCESS) {
      stop = Stop::Cancelled;
      break;
    }
    if (!allocs().find_range(p.waitValue.address, bytes)) {
      stop = Stop::Gone;
      break;
    }
    if (satisfied(p)) break;
    std::unique_lock lock(w.mu);
    if (!w.cv.wait_for(lock, backoff, [&] { return w.epoch != seen; })) {
      backoff = std::min<microseconds>(backoff * 2, milliseconds(2));
    }
  }
  g_waiting.fetch_sub(1);
  if (stop == Stop::None && (p.waitValue.flags & CU_STREAM_WAIT_VALUE_FLUSH)) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  return stop;
}

void write_one(const CUstreamBatchMemOpParams& p) {
  const auto& w = p.writeValue;
  if (!(w.flags & CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)) std::atomic_thread_fence(std::memory_order_seq_cst);
  if (p.operation == CU_STREAM_MEM_OP_WRITE_VALUE_32) {
    __atomic_store_n(reinterpret_cast<uint32_t*>(w.address), w.value, __ATOMIC_RELEASE);
  } else {
    __atomic_store_n(reinterpret_cast<uint64_t*>(w.address), w.value64, __ATOMIC_RELEASE);
  }
  memop_notify();
}

}  // namespace

CUresult memop_check(const CUstreamBatchMemOpParams* ops, unsigned count, MemOpApi api, bool node) {
  // The kinds, flags and counts as the client shim checks them (gpool::abi); the word itself
  // against the emulator's allocation table.
  return gpool::abi::check_stream_memops(
      ops, count, api, [node](CUdeviceptr addr, unsigned bytes) { return check_address(addr, bytes, node); });
}

bool memop_update_ok(const std::vector<CUstreamBatchMemOpParams>& now,
                     const std::vector<CUstreamBatchMemOpParams>& next) {
  if (now.size() != next.size()) return false;
  for (size_t i = 0; i < now.size(); ++i) {
    const auto& a = now[i];
    const auto& b = next[i];
    if (a.operation != b.operation) return false;
    if (is_wait(a.operation) &&
        (a.waitValue.flags & CU_STREAM_WAIT_VALUE_FLUSH) != (b.waitValue.flags & CU_STREAM_WAIT_VALUE_FLUSH)) {
      return false;
    }
    if (is_write(a.operation) && a.writeValue.flags != b.writeValue.flags) return false;
    if (a.operation == CU_STREAM_MEM_OP_BARRIER && a.memoryBarrier.flags != b.memoryBarrier.flags) return false;
  }
  return true;
}

Task memop_task(std::vector<CUstreamBatchMemOpParams> ops, Context* ctx) {
  const uint64_t gen = ctx->generation.load();
  return [ops = std::move(ops), ctx, gen] {
    for (const auto& p : ops) {
      if (ctx->sticky.load() != CUDA_SUCCESS) return;  // a faulted context runs nothing more
      if (is_wait(p.operation)) {
        const Stop stop = wait_one(p, ctx, gen);
        if (stop == Stop::Cancelled) {
          log().info("stream memory operation: a wait on {:#x} gave up: its context was destroyed, reset or "
                     "faulted", p.waitValue.address);
          return;
        }
        if (stop == Stop::Gone) {
          log().error("stream memory operation: memory at {:#x} was freed while a stream waited on it",
                      p.waitValue.address);
          set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
          return;
        }
      } else if (is_write(p.operation)) {
        if (!allocs().find_range(p.writeValue.address, memop_width(p.operation))) {
          log().error("stream memory operation: memory at {:#x} was freed before the write ran",
                      p.writeValue.address);
          set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS);
          return;
        }
        write_one(p);
      } else {
        // A barrier or a flush of remote writes: every write of the emulator is already
        // visible to all later work; the fence orders this stream's own stores.
        std::atomic_thread_fence(std::memory_order_seq_cst);
      }
    }
  };
}

void memop_notify() {
  if (g_waiting.load() == 0) return;
  Waiters& w = waiters();
  {
    std::lock_guard lock(w.mu);
    ++w.epoch;
  }
  w.cv.notify_all();
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

CUresult enqueue(CUstream h, const CUstreamBatchMemOpParams* ops, unsigned count, unsigned flags, MemOpApi api) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(h, &s); r != CUDA_SUCCESS) return r;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = memop_check(ops, count, api, false); r != CUDA_SUCCESS) return r;
  std::vector<CUstreamBatchMemOpParams> v(ops, ops + count);
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  if (capturing) {
    auto n = std::make_unique<GraphNode>();
    n->type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
    n->memops = std::move(v);
    n->memop_ctx = reinterpret_cast<CUcontext>(s->ctx);
    return capture_add(s, std::move(n));
  }
  submit(s, memop_task(std::move(v), s->ctx));
  return CUDA_SUCCESS;
}

CUresult one(CUstream h, CUstreamBatchMemOpType op, CUdeviceptr addr, uint64_t value, unsigned flags,
             MemOpApi api) {
  const CUstreamBatchMemOpParams p = gpool::abi::single_memop(op, addr, value, flags);
  return enqueue(h, &p, 1, 0, api);
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamWaitValue32(CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_32, addr, value, flags, MemOpApi::V1);
}
extern "C" CUresult gpool_impl_cuStreamWaitValue32_v2(CUstream s, CUdeviceptr addr, cuuint32_t value,
                                                      unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_32, addr, value, flags, MemOpApi::V2);
}
extern "C" CUresult gpool_impl_cuStreamWaitValue64(CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_64, addr, value, flags, MemOpApi::V1);
}
extern "C" CUresult gpool_impl_cuStreamWaitValue64_v2(CUstream s, CUdeviceptr addr, cuuint64_t value,
                                                      unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_64, addr, value, flags, MemOpApi::V2);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue32(CUstream s, CUdeviceptr addr, cuuint32_t value,
                                                    unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_32, addr, value, flags, MemOpApi::V1);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue32_v2(CUstream s, CUdeviceptr addr, cuuint32_t value,
                                                       unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_32, addr, value, flags, MemOpApi::V2);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue64(CUstream s, CUdeviceptr addr, cuuint64_t value,
                                                    unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_64, addr, value, flags, MemOpApi::V1);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue64_v2(CUstream s, CUdeviceptr addr, cuuint64_t value,
                                                       unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_64, addr, value, flags, MemOpApi::V2);
}
extern "C" CUresult gpool_impl_cuStreamBatchMemOp(CUstream s, unsigned int count, CUstreamBatchMemOpParams* ops,
                                                  unsigned int flags) {
  return enqueue(s, ops, count, flags, MemOpApi::V1);
}
extern "C" CUresult gpool_impl_cuStreamBatchMemOp_v2(CUstream s, unsigned int count, CUstreamBatchMemOpParams* ops,
                                                     unsigned int flags) {
  return enqueue(s, ops, count, flags, MemOpApi::V2);
}
