// Program::launch: validates the configuration, spreads the grid's blocks
// over worker threads, and flushes device printf output in block order then
// thread order once every block has finished. Then, for dynamic parallelism,
// it runs the grid's children (ChildLaunch, recorded by builtins_cdp.cc) one
// after another, each a grid of its own with its own children (run_grid).
#include "block.h"
#include "gpool/common/env.h"
#include "gpool/common/log.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <thread>

namespace gpool::emu::exec {
namespace {

constexpr uint32_t kMaxSharedPerBlock = 227 * 1024;  // sm_90 opt-in limit
constexpr uint64_t kMaxCooperativeBlocks = 256;
constexpr uint32_t kAdmitAfterSpins = 8;  // spinning passes before a worker starts another block
constexpr size_t kMaxResident = 8;        // blocks one worker holds at once

unsigned default_threads() {
  static const unsigned n = [] {
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    int64_t v = gpool::env::get_int("GPOOL_EMU_THREADS", hw);
    if (v < 1 || v > 1024) {
      gpool::log::logger("emulator").warn("GPOOL_EMU_THREADS={} is out of range 1..1024; using {}", v, hw);
      v = hw;
    }
    return static_cast<unsigned>(v);
  }();
  return n;
}

std::atomic<uint64_t> g_grid_counter{1};

LaunchResult error(LaunchStatus s, std::string m) {
  LaunchResult r;
  r.status = s;
  r.message = std::move(m);
  return r;
}

class StdoutSink final : public PrintfSink {
 public:
  void write(std::string_view text) override {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
};

// A device-side cudaMemcpyAsync / cudaMemsetAsync, run in its place among the
// grid's children. Memory that is not accessible device memory faults the
// tree, as a kernel's access would.
void run_copy(const ChildLaunch& c, const GlobalMemory& mem, const std::string& parent, LaunchResult* r) {
  const bool copy = c.kind == ChildLaunch::Kind::Memcpy;
  if (c.bytes == 0) return;
  if (!mem.accessible(c.dst, c.bytes) || (copy && !mem.accessible(c.src, c.bytes))) {
    r->status = LaunchStatus::IllegalAddress;
    r->message = copy ? fmt::format("kernel '{}': device-side cudaMemcpyAsync of {} bytes from {:#x} to {:#x} "
                                    "touches memory that is not device memory",
                                    parent, c.bytes, c.src, c.dst)
                      : fmt::format("kernel '{}': device-side cudaMemsetAsync of {} bytes at {:#x} touches memory "
                                    "that is not device memory",
                                    parent, c.bytes, c.dst);
    return;
  }
  auto* dst = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(c.dst));
  if (copy) std::memmove(dst, reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.src)), c.bytes);
  else std::memset(dst, c.value, c.bytes);
}

}  // namespace

LaunchResult ProgramImpl::launch(const KernelInfo& kernel, const LaunchParams& params,
                                 const LaunchEnv& env) const {
  LaunchTree tree;
  tree.pending_limit = env.pending_launch_limit;
  return run_grid(kernel, params, env, tree, 0);
}

LaunchResult ProgramImpl::run_grid(const KernelInfo& kernel, const LaunchParams& params, const LaunchEnv& env,
                                   LaunchTree& tree, uint32_t depth) const {
  size_t index = static_cast<size_t>(&kernel - infos_.data());
  if (index >= infos_.size()) return error(LaunchStatus::InvalidValue, "kernel does not belong to this program");
  if (std::string why; !prepare(index, &why))
    return error(LaunchStatus::IllegalInstruction, fmt::format("kernel '{}' cannot run: {}", kernel.name, why));
  const LoweredKernel& k = lowered_[index];
  if (!env.memory) return error(LaunchStatus::InvalidValue, "launch without a global memory map");
  const Dim3& g = params.grid;
  const Dim3& b = params.block;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z || g.y > 65535 || g.z > 65535 || b.z > 64)
    return error(LaunchStatus::InvalidValue,
                 fmt::format("kernel '{}': invalid launch dimensions grid ({},{},{}) block ({},{},{})", kernel.name,
                             g.x, g.y, g.z, b.x, b.y, b.z));
  uint64_t nthreads = uint64_t{b.x} * b.y * b.z;
  if (nthreads > kernel.max_threads_per_block)
    return error(LaunchStatus::OutOfResources,
                 fmt::format("kernel '{}': {} threads per block exceed its limit of {}", kernel.name, nthreads,
                             kernel.max_threads_per_block));
  uint64_t shared = uint64_t{k.dyn_shared_offset} + params.dynamic_shared_bytes;
  if (params.dynamic_shared_bytes == 0) shared = k.static_shared;
  if (shared > kMaxSharedPerBlock)
    return error(LaunchStatus::OutOfResources,
                 fmt::format("kernel '{}': {} bytes of shared memory per block exceed {}", kernel.name, shared,
                             kMaxSharedPerBlock));
  if (kernel.param_bytes && (!params.param_buffer || params.param_bytes < kernel.param_bytes))
    return error(LaunchStatus::InvalidValue,
                 fmt::format("kernel '{}': parameter buffer of {} bytes, the kernel needs {}", kernel.name,
                             params.param_bytes, kernel.param_bytes));
  for (uint32_t gi : k.globals_used)
    if (!bound_[gi])
      return error(LaunchStatus::Unbound,
                   fmt::format("kernel '{}' uses module variable '{}' that was never placed in device memory",
                               kernel.name, globals_[gi].name));
  if (kernel.uses_heap && !env.heap)
    return error(LaunchStatus::InvalidValue,
                 fmt::format("kernel '{}' calls malloc/free but the launch provides no device heap", kernel.name));
  uint64_t nblocks = uint64_t{g.x} * g.y * g.z;

  LaunchState L;
  L.prog = this;
  L.info = &kernel;
  L.k = &k;
  L.memory = env.memory;
  L.params = static_cast<const uint8_t*>(params.param_buffer);
  L.param_bytes = kernel.param_bytes;
  L.grid = g;
  L.block = b;
  L.dyn_shared = params.dynamic_shared_bytes;
  L.shared_bytes = static_cast<uint32_t>(shared);
  L.gridid = g_grid_counter.fetch_add(1, std::memory_order_relaxed);
  L.grid_workspace = params.grid_workspace;
  L.heap = env.heap;
  L.textures = env.textures;
  L.tree = &tree;
  L.depth = depth;
  L.device = env.device_ordinal;

  uint64_t workers = env.threads ? env.threads : default_threads();
  if (params.cooperative) {
    if (nblocks > kMaxCooperativeBlocks)
      return error(LaunchStatus::CooperativeTooLarge,
                   fmt::format("kernel '{}': cooperative launch of {} blocks exceeds the {} co-resident blocks the "
                               "emulator runs",
                               kernel.name, nblocks, kMaxCooperativeBlocks));
    workers = nblocks;  // every block on its own thread so grid-wide barriers can complete
  }
  workers = std::max<uint64_t>(1, std::min(workers, nblocks));

  std::atomic<uint64_t> next{0};
  std::vector<std::vector<PrintfRecord>> records(workers);
  std::vector<uint64_t> counts(workers, 0);
  // A worker runs one block at a time. While that block's warps spin (they
  // yield pass after pass), the block may wait for a block no worker has
  // started, as GPUs keep many blocks resident: after kAdmitAfterSpins such
  // passes the worker starts another block, up to kMaxResident, and the
  // resident blocks take turns.
  auto work = [&](size_t wi) {
    std::vector<std::unique_ptr<BlockRunner>> runners;  // every runner this worker made
    std::vector<BlockRunner*> resident, idle;
    auto admit = [&]() {
      uint64_t blk = next.fetch_add(1, std::memory_order_relaxed);
      if (blk >= nblocks) return false;
      if (idle.empty()) {
        runners.push_back(std::make_unique<BlockRunner>(L));
        idle.push_back(runners.back().get());
      }
      resident.push_back(idle.back());
      idle.pop_back();
      resident.back()->start(blk);
      return true;
    };
    size_t cur = 0;
    uint32_t spins = 0;
    while (!L.stop.load(std::memory_order_relaxed)) {
      if (resident.empty() && !admit()) break;
      if (cur >= resident.size()) cur = 0;
      BlockRunner* r = resident[cur];
      if (r->resume()) {
        idle.push_back(r);
        resident.erase(resident.begin() + static_cast<std::ptrdiff_t>(cur));
        spins = 0;
        continue;
      }
      if (++spins >= kAdmitAfterSpins && resident.size() < kMaxResident && admit()) {
        spins = 0;
        cur = resident.size() - 1;
        continue;
      }
      std::this_thread::yield();  // the awaited write may come from another worker
      ++cur;
    }
    for (auto& r : runners) {
      counts[wi] += r->thread_instructions;
      for (auto& rec : r->printf_records) records[wi].push_back(std::move(rec));
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (size_t i = 1; i < workers; ++i) threads.emplace_back(work, i);
  work(0);
  for (auto& t : threads) t.join();

  LaunchResult r;
  for (auto c : counts) r.thread_instructions += c;
  std::vector<PrintfRecord> all;
  for (auto& v : records)
    for (auto& rec : v) all.push_back(std::move(rec));
  if (!all.empty()) {
    std::sort(all.begin(), all.end(), [](const PrintfRecord& a, const PrintfRecord& b2) {
      if (a.block != b2.block) return a.block < b2.block;
      if (a.thread != b2.thread) return a.thread < b2.thread;
      return a.seq < b2.seq;
    });
    std::string text;
    for (auto& rec : all) text += rec.text;
    StdoutSink out;
    PrintfSink* sink = env.printf_sink ? env.printf_sink : &out;
    sink->write(text);
  }
  std::vector<ChildLaunch> children;
  {
    std::lock_guard<std::mutex> lock(L.mu);
    if (!L.assert_text.empty()) {
      std::fwrite(L.assert_text.data(), 1, L.assert_text.size(), stderr);
      std::fflush(stderr);
    }
    r.status = L.status;
    r.message = L.message;
    // Parameter buffers that were never launched go back to the heap.
    for (auto& [addr, buf] : L.buffers) env.heap->release(addr);
    children = std::move(L.children);
  }
  if (children.empty()) return r;
  // Dynamic parallelism: the grid is complete once its child grids are. Each
  // runs to completion (its own children included) in launch order per block,
  // blocks in order; tail launches start after every other child has finished.
  std::stable_sort(children.begin(), children.end(), [](const ChildLaunch& a, const ChildLaunch& b2) {
    if (a.tail != b2.tail) return b2.tail;
    if (a.block_linear != b2.block_linear) return a.block_linear < b2.block_linear;
    return a.seq < b2.seq;
  });
  for (auto& c : children) {
    if (c.kind == ChildLaunch::Kind::Kernel) tree.pending.fetch_sub(1, std::memory_order_relaxed);
    if (r.status != LaunchStatus::Ok) continue;  // a faulted tree starts nothing more
    if (c.kind != ChildLaunch::Kind::Kernel) {
      run_copy(c, *env.memory, kernel.name, &r);
      continue;
    }
    LaunchParams cp;
    cp.grid = c.grid;
    cp.block = c.block;
    cp.dynamic_shared_bytes = c.shared;
    cp.param_buffer = c.params.data();
    cp.param_bytes = c.params.size();
    LaunchResult cr = run_grid(infos_[c.kernel], cp, env, tree, depth + 1);
    r.thread_instructions += cr.thread_instructions;
    if (cr.status != LaunchStatus::Ok) {
      r.status = cr.status;
      r.message = fmt::format("child grid launched by kernel '{}' (depth {}): {}", kernel.name, depth + 1,
                              cr.message);
    }
  }
  return r;
}

}  // namespace gpool::emu::exec
