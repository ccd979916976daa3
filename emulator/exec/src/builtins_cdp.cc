// Dynamic parallelism: the CDP2 device runtime functions nvcc calls for
// `kernel<<<...>>>` and the cuda* runtime calls in device code (resolved
// against libcudadevrt on a GPU, builtins here).
//
// A device-side launch is two calls: __cudaCDP2GetParameterBufferV2(func,
// grid, block, shared) returns a parameter buffer (device memory from the
// launch's DeviceHeap) that the thread fills, then
// __cudaCDP2LaunchDeviceV2(buffer, stream) launches. The launch copies the
// parameters, returns the buffer to the heap and records a ChildLaunch in the
// parent grid's LaunchState; Program::launch runs it once the parent grid has
// finished (launch.cc). Errors are returned as cudaError_t and remembered as
// the thread's last error (cudaGetLastError / cudaPeekAtLastError).
//
// Streams and events are handles valid within the host launch's grid tree.
// Because child grids run one after another in launch order, every order a
// stream or event can ask for already holds: cudaEventRecord and
// cudaStreamWaitEvent only check their handles.
#include "block.h"
#include "mem_access.h"
#include "ops.h"

#include <bit>
#include <cstring>

namespace gpool::emu::exec {
namespace {

// cudaError_t values (driver_types.h).
constexpr int32_t kSuccess = 0;
constexpr int32_t kInvalidValue = 1;
constexpr int32_t kMemoryAllocation = 2;
constexpr int32_t kInvalidConfiguration = 9;
constexpr int32_t kLaunchMaxDepthExceeded = 65;
constexpr int32_t kLaunchPendingCountExceeded = 69;
constexpr int32_t kInvalidDeviceFunction = 98;
constexpr int32_t kInvalidResourceHandle = 400;

// Special stream handles of the device runtime (cuda_device_runtime_api.h).
constexpr uint64_t kStreamTailLaunch = 3;
constexpr uint64_t kStreamFireAndForget = 4;
constexpr uint32_t kStreamNonBlocking = 1;
constexpr uint32_t kEventDisableTiming = 2;
constexpr uint32_t kMemcpyDeviceToDevice = 3;
constexpr uint32_t kMemcpyDefault = 4;

// CUDA's limit on nested device-side launches: a grid at depth 24 cannot launch.
constexpr uint32_t kMaxDepth = 24;
constexpr uint32_t kMaxSharedPerBlock = 227 * 1024;

uint8_t* lane_local(WarpState& w, int l) { return w.local + static_cast<size_t>(l) * w.local_stride; }

uint64_t arg_u64(WarpState& w, int l, uint64_t off) {
  uint64_t v = 0;
  if (off + 8 <= w.local_stride) std::memcpy(&v, lane_local(w, l) + off, 8);
  return v;
}

uint32_t arg_u32(WarpState& w, int l, uint64_t off) {
  uint32_t v = 0;
  if (off + 4 <= w.local_stride) std::memcpy(&v, lane_local(w, l) + off, 4);
  return v;
}

Dim3 arg_dim3(WarpState& w, int l, uint64_t off) {
  Dim3 d;
  if (off + 12 <= w.local_stride) {
    std::memcpy(&d.x, lane_local(w, l) + off, 4);
    std::memcpy(&d.y, lane_local(w, l) + off + 4, 4);
    std::memcpy(&d.z, lane_local(w, l) + off + 8, 4);
  }
  return d;
}

template <class T>
void set_result(const LInstr& in, WarpState& w, int l, T v) {
  if (in.aux2 && in.aux + sizeof(T) <= w.local_stride) std::memcpy(lane_local(w, l) + in.aux, &v, sizeof(T));
}

void remember_error(WarpState& w, int l, int32_t err) {
  BlockContext& b = *w.block;
  if (b.last_error.empty()) b.last_error.assign(b.nthreads, kSuccess);
  const uint32_t t = w.warp_id * kWarpSize + static_cast<uint32_t>(l);
  if (t < b.last_error.size()) b.last_error[t] = err;
}

// Returns cudaError_t `err` to lane l, remembering a failure as its last error.
void finish(const LInstr& in, WarpState& w, int l, int32_t err) {
  if (err != kSuccess) remember_error(w, l, err);
  set_result(in, w, l, err);
}

// Writes `bytes` bytes to the generic address `addr` of lane l (an output
// argument). False after a fault.
bool store_out(const LInstr& in, WarpState& w, int l, uint64_t addr, const void* v, uint32_t bytes) {
  uint8_t* p = resolve_one(in, w, l, ptx::Space::Generic, addr, bytes, true, false);
  if (!p) return false;
  std::memcpy(p, v, bytes);
  return true;
}

bool valid_stream(LaunchTree& tree, uint64_t s, bool special_ok) {
  if (s == 0) return true;
  if (s == kStreamTailLaunch || s == kStreamFireAndForget) return special_ok;
  std::lock_guard<std::mutex> lock(tree.mu);
  return tree.streams.count(s) != 0;
}

bool valid_config(const KernelInfo& k, const ParamBuffer& pb) {
  const Dim3& g = pb.grid;
  const Dim3& b = pb.block;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z || g.y > 65535 || g.z > 65535 || b.z > 64) return false;
  if (uint64_t{b.x} * b.y * b.z > k.max_threads_per_block) return false;
  return uint64_t{k.static_shared_bytes} + pb.shared <= kMaxSharedPerBlock;
}

// Creates a stream or event handle for lane l, written to `out`.
void create_handle(const LInstr& in, WarpState& w, int l, bool event) {
  LaunchTree& tree = *w.block->launch->tree;
  uint64_t h;
  {
    std::lock_guard<std::mutex> lock(tree.mu);
    h = tree.next_handle++;
    (event ? tree.events : tree.streams).insert(h);
  }
  if (store_out(in, w, l, arg_u64(w, l, in.s[0].imm), &h, 8)) finish(in, w, l, kSuccess);
}

}  // namespace

void h_cdp_get_param_buffer(const LInstr& in, WarpState& w, LaneMask act) {
  LaunchState& L = *w.block->launch;
  const ProgramImpl& prog = *L.prog;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint64_t f = arg_u64(w, l, in.s[0].imm);
    const uint64_t index = f - kFunctionWindow;
    if ((f & kFunctionWindow) != kFunctionWindow || index >= prog.fn_kernel_.size() || prog.fn_kernel_[index] < 0) {
      remember_error(w, l, kInvalidDeviceFunction);
      set_result(in, w, l, uint64_t{0});
      continue;
    }
    ParamBuffer pb;
    pb.kernel = static_cast<uint32_t>(prog.fn_kernel_[index]);
    pb.grid = arg_dim3(w, l, in.s[1].imm);
    pb.block = arg_dim3(w, l, in.s[2].imm);
    pb.shared = arg_u32(w, l, in.s[3].imm);
    // A kernel without parameters still gets a buffer: nvcc skips the launch on NULL.
    const uint64_t addr = L.heap->allocate(std::max<uint32_t>(prog.infos_[pb.kernel].param_bytes, 16));
    if (addr == 0) {
      remember_error(w, l, kMemoryAllocation);
    } else {
      std::lock_guard<std::mutex> lock(L.mu);
      L.buffers[addr] = pb;
    }
    set_result(in, w, l, addr);
  }
}

void h_cdp_launch(const LInstr& in, WarpState& w, LaneMask act) {
  LaunchState& L = *w.block->launch;
  LaunchTree& tree = *L.tree;
  const ProgramImpl& prog = *L.prog;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint64_t addr = arg_u64(w, l, in.s[0].imm);
    const uint64_t stream = arg_u64(w, l, in.s[1].imm);
    ParamBuffer pb;
    {
      std::lock_guard<std::mutex> lock(L.mu);
      auto it = L.buffers.find(addr);
      if (it == L.buffers.end()) {
        finish(in, w, l, kInvalidValue);  // not a buffer from cudaGetParameterBufferV2, or launched already
        continue;
      }
      pb = it->second;
      L.buffers.erase(it);
    }
    const KernelInfo& k = prog.infos_[pb.kernel];
    ChildLaunch c;
    int32_t err = kSuccess;
    if (!valid_stream(tree, stream, true)) {
      err = kInvalidResourceHandle;
    } else if (!valid_config(k, pb)) {
      err = kInvalidConfiguration;
    } else if (L.depth + 1 > kMaxDepth) {
      err = kLaunchMaxDepthExceeded;
    } else if (tree.pending.fetch_add(1, std::memory_order_relaxed) >= tree.pending_limit) {
      tree.pending.fetch_sub(1, std::memory_order_relaxed);
      err = kLaunchPendingCountExceeded;
    } else {
      c.params.resize(k.param_bytes);
      const uint8_t* p = k.param_bytes ? resolve_one(in, w, l, ptx::Space::Global, addr, k.param_bytes, false, true)
                                       : nullptr;
      if (p) std::memcpy(c.params.data(), p, k.param_bytes);
    }
    L.heap->release(addr);
    if (err != kSuccess) {
      finish(in, w, l, err);
      continue;
    }
    c.kernel = pb.kernel;
    c.grid = pb.grid;
    c.block = pb.block;
    c.shared = pb.shared;
    c.block_linear = w.block->block_linear;
    c.seq = w.block->launch_seq++;
    c.tail = stream == kStreamTailLaunch;
    {
      std::lock_guard<std::mutex> lock(L.mu);
      L.children.push_back(std::move(c));
    }
    finish(in, w, l, kSuccess);
  }
}

void h_cdp_stream_create(const LInstr& in, WarpState& w, LaneMask act) {
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    // Device-side streams must be created non-blocking (CUDA programming guide).
    if (arg_u32(w, l, in.s[1].imm) != kStreamNonBlocking) {
      finish(in, w, l, kInvalidValue);
      continue;
    }
    create_handle(in, w, l, false);
    if (w.stop) return;
  }
}

void h_cdp_event_create(const LInstr& in, WarpState& w, LaneMask act) {
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    // Device-side events cannot time: cudaEventDisableTiming is required.
    if ((arg_u32(w, l, in.s[1].imm) & kEventDisableTiming) == 0) {
      finish(in, w, l, kInvalidValue);
      continue;
    }
    create_handle(in, w, l, true);
    if (w.stop) return;
  }
}

void h_cdp_stream_destroy(const LInstr& in, WarpState& w, LaneMask act) {
  LaunchTree& tree = *w.block->launch->tree;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    size_t erased;
    {
      std::lock_guard<std::mutex> lock(tree.mu);
      erased = tree.streams.erase(arg_u64(w, l, in.s[0].imm));
    }
    // Work already launched into the stream still runs (it is recorded in the grid).
    finish(in, w, l, erased ? kSuccess : kInvalidResourceHandle);
  }
}

void h_cdp_event_destroy(const LInstr& in, WarpState& w, LaneMask act) {
  LaunchTree& tree = *w.block->launch->tree;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    size_t erased;
    {
      std::lock_guard<std::mutex> lock(tree.mu);
      erased = tree.events.erase(arg_u64(w, l, in.s[0].imm));
    }
    finish(in, w, l, erased ? kSuccess : kInvalidResourceHandle);
  }
}

// cudaEventRecord(event, stream[, flags]) and cudaStreamWaitEvent(stream,
// event, flags): the order they ask for always holds (see the top), so each
// only checks that its event and stream exist (argument slots `ev`, `st`).
static void check_event_and_stream(const LInstr& in, WarpState& w, LaneMask act, int ev, int st) {
  LaunchTree& tree = *w.block->launch->tree;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint64_t e = arg_u64(w, l, in.s[ev].imm);
    bool ok;
    {
      std::lock_guard<std::mutex> lock(tree.mu);
      ok = tree.events.count(e) != 0;
    }
    ok = ok && valid_stream(tree, arg_u64(w, l, in.s[st].imm), false);
    finish(in, w, l, ok ? kSuccess : kInvalidResourceHandle);
  }
}

void h_cdp_event_record(const LInstr& in, WarpState& w, LaneMask act) { check_event_and_stream(in, w, act, 0, 1); }

void h_cdp_stream_wait_event(const LInstr& in, WarpState& w, LaneMask act) {
  check_event_and_stream(in, w, act, 1, 0);
}

void h_cdp_get_last_error(const LInstr& in, WarpState& w, LaneMask act) {
  BlockContext& b = *w.block;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint32_t t = w.warp_id * kWarpSize + static_cast<uint32_t>(l);
    int32_t err = kSuccess;
    if (t < b.last_error.size()) std::swap(err, b.last_error[t]);
    set_result(in, w, l, err);
  }
}

void h_cdp_peek_last_error(const LInstr& in, WarpState& w, LaneMask act) {
  BlockContext& b = *w.block;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint32_t t = w.warp_id * kWarpSize + static_cast<uint32_t>(l);
    set_result(in, w, l, t < b.last_error.size() ? b.last_error[t] : kSuccess);
  }
}

void h_cdp_get_device(const LInstr& in, WarpState& w, LaneMask act) {
  const int32_t dev = w.block->launch->device;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    if (!store_out(in, w, l, arg_u64(w, l, in.s[0].imm), &dev, 4)) return;
    finish(in, w, l, kSuccess);
  }
}

namespace {

// Records a device-side memcpy/memset as the next child of lane l's block.
void record_copy(const LInstr& in, WarpState& w, int l, ChildLaunch c, uint64_t stream) {
  LaunchState& L = *w.block->launch;
  if (!valid_stream(*L.tree, stream, false)) {  // not into the tail or fire-and-forget streams
    finish(in, w, l, kInvalidResourceHandle);
    return;
  }
  c.block_linear = w.block->block_linear;
  c.seq = w.block->launch_seq++;
  {
    std::lock_guard<std::mutex> lock(L.mu);
    L.children.push_back(std::move(c));
  }
  finish(in, w, l, kSuccess);
}

}  // namespace

// cudaMemcpyAsync(dst, src, count, kind, stream) in device code: device to
// device only (cudaMemcpyDeviceToDevice or cudaMemcpyDefault), run in order
// with the stream's launches once the grid has finished.
void h_cdp_memcpy_async(const LInstr& in, WarpState& w, LaneMask act) {
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint32_t kind = arg_u32(w, l, in.s[3].imm);
    if (kind != kMemcpyDeviceToDevice && kind != kMemcpyDefault) {
      finish(in, w, l, kInvalidValue);
      continue;
    }
    ChildLaunch c;
    c.kind = ChildLaunch::Kind::Memcpy;
    c.dst = arg_u64(w, l, in.s[0].imm);
    c.src = arg_u64(w, l, in.s[1].imm);
    c.bytes = arg_u64(w, l, in.s[2].imm);
    record_copy(in, w, l, std::move(c), arg_u64(w, l, in.s[4].imm));
  }
}

// cudaMemsetAsync(ptr, value, count, stream) in device code.
void h_cdp_memset_async(const LInstr& in, WarpState& w, LaneMask act) {
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    ChildLaunch c;
    c.kind = ChildLaunch::Kind::Memset;
    c.dst = arg_u64(w, l, in.s[0].imm);
    c.value = static_cast<uint8_t>(arg_u32(w, l, in.s[1].imm));
    c.bytes = arg_u64(w, l, in.s[2].imm);
    record_copy(in, w, l, std::move(c), arg_u64(w, l, in.s[3].imm));
  }
}

// cudaMalloc(void** p, size_t bytes) in device code allocates from the device
// heap, as malloc does (CUDA: memory from the device runtime's cudaMalloc
// cannot be freed by the host); a full heap is cudaErrorMemoryAllocation.
void h_cdp_malloc(const LInstr& in, WarpState& w, LaneMask act) {
  DeviceHeap* heap = w.block->launch->heap;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint64_t bytes = arg_u64(w, l, in.s[1].imm);
    const uint64_t p = bytes ? heap->allocate(bytes) : 0;
    if (!store_out(in, w, l, arg_u64(w, l, in.s[0].imm), &p, 8)) {
      if (p) heap->release(p);
      return;
    }
    finish(in, w, l, p != 0 || bytes == 0 ? kSuccess : kMemoryAllocation);
  }
}

// cudaFree(p) in device code: NULL is a no-op; a pointer the heap did not hand
// out is cudaErrorInvalidValue (returned, not a fault).
void h_cdp_free(const LInstr& in, WarpState& w, LaneMask act) {
  DeviceHeap* heap = w.block->launch->heap;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    const uint64_t p = arg_u64(w, l, in.s[0].imm);
    finish(in, w, l, p == 0 || heap->release(p) ? kSuccess : kInvalidValue);
  }
}

}  // namespace gpool::emu::exec
