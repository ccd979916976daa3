// Launch- and block-level execution state, and the scheduler entry points.
//
// Owner: exec core. A LaunchState is shared by every worker thread of one
// launch (its mutable fields are atomics or guarded by `mu`). A BlockContext
// and its warps belong to the one worker thread running that block; blocks
// never share memory except through global memory.
#pragma once

#include "engine.h"
#include "lowered.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace gpool::emu::exec {

constexpr int kNumBarriers = 16;

struct PrintfRecord {
  uint64_t block = 0;
  uint32_t thread = 0;
  uint32_t seq = 0;
  std::string text;
};

// Dynamic parallelism (builtins_cdp.cc, launch.cc). A device-side launch
// waiting for its parent grid to finish: child grids start once every block of
// the parent has exited (a valid CDP2 schedule: nothing lets a parent wait for
// its child), in launch order, tail launches last.
struct ChildLaunch {
  // A kernel launch, or a device-side cudaMemcpyAsync / cudaMemsetAsync (ordered
  // in its stream like a launch): copy/set `bytes` bytes at `dst` from `src` /
  // to `value`.
  enum class Kind : uint8_t { Kernel, Memcpy, Memset } kind = Kind::Kernel;
  uint64_t dst = 0, src = 0, bytes = 0;
  uint8_t value = 0;
  uint32_t kernel = 0;  // index into ProgramImpl::infos_
  Dim3 grid, block;
  uint32_t shared = 0;  // dynamic shared bytes
  std::vector<uint8_t> params;
  uint64_t block_linear = 0;  // the launching block
  uint32_t seq = 0;           // launch order within that block
  bool tail = false;          // cudaStreamTailLaunch
};

// A parameter buffer cudaGetParameterBufferV2 handed out (device memory from
// the launch's DeviceHeap) and the configuration it was asked for.
struct ParamBuffer {
  uint32_t kernel = 0;
  Dim3 grid, block;
  uint32_t shared = 0;
};

// Shared by every grid of one host launch: the pending-launch count and the
// device-side stream and event handles.
struct LaunchTree {
  uint64_t pending_limit = 2048;
  std::atomic<uint64_t> pending{0};  // launched, not yet started
  std::mutex mu;
  uint64_t next_handle = 0x1000;              // GUARDED_BY(mu): 0..4 are the special streams
  std::unordered_set<uint64_t> streams;       // GUARDED_BY(mu)
  std::unordered_set<uint64_t> events;        // GUARDED_BY(mu)
};

struct LaunchState {
  // Constant during the launch.
  const ProgramImpl* prog = nullptr;
  const KernelInfo* info = nullptr;
  const LoweredKernel* k = nullptr;
  const GlobalMemory* memory = nullptr;
  const uint8_t* params = nullptr;
  uint32_t param_bytes = 0;
  Dim3 grid, block;
  uint32_t dyn_shared = 0;
  uint32_t shared_bytes = 0;  // static + dynamic, per block
  uint64_t gridid = 0;
  uint64_t grid_workspace = 0;  // %envreg1:%envreg2 (cooperative launches)
  DeviceHeap* heap = nullptr;   // malloc/free (set when the kernel uses them)
  const TextureTable* textures = nullptr;  // tex/suld/sust handle lookups (may be nullptr)
  LaunchTree* tree = nullptr;  // dynamic parallelism: shared by the host launch's grids
  uint32_t depth = 0;          // 0 for a host launch, parent's + 1 for a child grid
  int32_t device = 0;          // cudaGetDevice in device code (LaunchEnv::device_ordinal)

  std::atomic<bool> stop{false};
  std::mutex mu;
  LaunchStatus status = LaunchStatus::Ok;  // GUARDED_BY(mu): the first fault
  std::string message;                     // GUARDED_BY(mu)
  std::string assert_text;                 // GUARDED_BY(mu): printed after printf output
  std::vector<ChildLaunch> children;       // GUARDED_BY(mu): device-side launches of this grid
  std::unordered_map<uint64_t, ParamBuffer> buffers;  // GUARDED_BY(mu): not yet launched
};

struct BarrierState {
  uint32_t arrived = 0;   // threads
  uint32_t expected = 0;  // 0: every live thread of the block
  uint32_t popc = 0;
  bool all = true, any = false;
  int waiting = 0;        // parked groups
};

// Global spans this worker has already had confirmed by GlobalMemory::accessible during the
// current launch (see global_span_ok in mem_access.h). A span once accessible
// stays accessible until the launch returns (the runtime frees memory only
// when no work may use it), and the union of two overlapping accessible spans
// is accessible byte for byte, so neighbouring hits are merged.
struct GlobalSpans {
  static constexpr int kEntries = 4;
  uint64_t lo[kEntries] = {0, 0, 0, 0};
  uint64_t end[kEntries] = {0, 0, 0, 0};  // empty while lo == end
  int next = 0;                            // entry replaced on a miss
};

struct BlockContext {
  LaunchState* launch = nullptr;
  GlobalSpans* spans = nullptr;  // the worker's (BlockRunner's), kept across its blocks
  Dim3 ctaid;
  uint64_t block_linear = 0;
  uint8_t* shared = nullptr;
  uint32_t shared_bytes = 0;
  uint32_t nthreads = 0;
  uint32_t exited_threads = 0;
  BarrierState bars[kNumBarriers];
  std::vector<PrintfRecord>* printf_out = nullptr;
  uint32_t printf_seq = 0;
  bool faulted = false;
  uint32_t launch_seq = 0;          // device-side launches made by this block so far
  std::vector<int32_t> last_error;  // per thread (sized on the first device runtime error)
};

// "PTX line 12 ('ld.global.u32'), block [0,0,0], thread [3,0,0]"
std::string describe_site(const LInstr& in, const WarpState& w, int lane);
// Thread index of a lane within its block.
Dim3 thread_index(const WarpState& w, int lane);

// Scheduler (scheduler.cc).
void run_warp(WarpState& w, const LInstr* code);
bool reschedule(WarpState& w);
// Leaves the run loop so the block runs its other warps (nanosleep, a spin
// loop's backward branches); a warp that keeps yielding also lets its other
// lane groups run first (independent thread scheduling within the warp).
void yield_warp(WarpState& w);
// bar.warp.sync: parks `lanes` (resuming at w.pc) until every lane of
// `sync_mask` that has not exited waits there too; the last arrival releases
// them all and goes on.
void park_at_warp_sync(WarpState& w, LaneMask lanes, LaneMask sync_mask);
// Parks the lanes `m` of the current group at barrier `id` (resuming at w.pc).
void park_at_barrier(WarpState& w, int id, LaneMask m, int red_slot, uint8_t red_kind);

// Runs blocks of one launch on one worker thread, one block at a time,
// reusing its buffers. A worker may hold several runners whose blocks take
// turns while their warps spin (launch.cc).
class BlockRunner {
 public:
  explicit BlockRunner(LaunchState& launch) : launch_(launch) {}
  // Sets up block `block_linear`; resume() runs it.
  void start(uint64_t block_linear);
  // Runs the block until it finishes or faults (true), or until a pass over
  // its warps ends with a warp yielding (false: call again later).
  bool resume();
  uint64_t thread_instructions = 0;
  std::vector<PrintfRecord> printf_records;

 private:
  void release(int id);
  LaunchState& launch_;
  GlobalSpans spans_;
  BlockContext ctx_;
  std::vector<uint64_t> regs_;
  std::vector<LaneMask> preds_;
  std::vector<uint8_t> shared_;
  std::vector<uint8_t> local_;
  std::unique_ptr<uint8_t[]> stack_;  // real calls' stacks (never read before written: not zeroed)
  size_t stack_size_ = 0;
  std::vector<WarpState> warps_;
};

}  // namespace gpool::emu::exec
