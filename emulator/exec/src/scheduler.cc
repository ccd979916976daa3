// The SIMT scheduler: runs one warp's groups (pc + lane mask) with the
// min-PC rule, and one block's warps until every thread exits.
//
// A warp runs its current group until it diverges, reaches the pc of a
// waiting group (the groups merge), parks at a barrier, exits or faults.
// Groups waiting at lower pcs always run first, so the two sides of an
// if/else meet again at the join point.
//
// Forward progress: a warp also leaves its run loop when it yields
// (yield_warp: nanosleep, every kSpinBudget taken backward branches); the
// block then runs its other warps, and BlockRunner::resume returns so the
// worker can run other resident blocks (launch.cc). Groups parked with
// kDeferred or kWarpSync wake in wake_parked when nothing else can run.
#include "block.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

int min_runnable(const WarpState& w) {
  int best = -1;
  for (int i = 0; i < w.npending; ++i)
    if (w.pending[i].barrier < 0 && (best < 0 || w.pending[i].pc < w.pending[best].pc)) best = i;
  return best;
}

void remove_pending(WarpState& w, int i) { w.pending[i] = w.pending[--w.npending]; }

}  // namespace

void push_group(WarpState& w, uint32_t pc, LaneMask mask) {
  for (int i = 0; i < w.npending; ++i)
    if (w.pending[i].pc == pc && w.pending[i].barrier < 0) {
      w.pending[i].mask |= mask;
      return;
    }
  WarpState::Group g;
  g.pc = pc;
  g.mask = mask;
  w.pending[w.npending++] = g;
}

// Nothing of the warp can run: lanes set aside by yield_warp run again, and
// lanes waiting at bar.warp.sync go on once every lane they wait for that has
// not exited is waiting with them. True when a group became runnable.
bool wake_parked(WarpState& w) {
  bool woke = false;
  LaneMask at_sync = 0;
  for (int i = 0; i < w.npending; ++i) {
    auto& g = w.pending[i];
    if (g.barrier == WarpState::kDeferred) {
      g.barrier = -1;
      woke = true;
    } else if (g.barrier == WarpState::kWarpSync) {
      at_sync |= g.mask;
    }
  }
  if (woke || at_sync == 0) return woke;
  for (int i = 0; i < w.npending; ++i) {
    auto& g = w.pending[i];
    if (g.barrier == WarpState::kWarpSync && (g.sync_mask & w.valid & ~w.exited & ~at_sync) == 0) {
      g.barrier = -1;
      woke = true;
    }
  }
  return woke;
}

bool reschedule(WarpState& w) {
  if (w.stop || w.yielded) return false;
  for (;;) {
    int m = min_runnable(w);
    if (w.active == 0) {
      if (m < 0) {
        if (wake_parked(w)) continue;
        w.break_pc = 0;
        w.done = w.npending == 0;
        return false;
      }
      w.pc = w.pending[m].pc;
      w.active = w.pending[m].mask;
      remove_pending(w, m);
      continue;
    }
    if (m >= 0 && w.pending[m].pc <= w.pc) {
      if (w.pending[m].pc == w.pc) {
        w.active |= w.pending[m].mask;
        remove_pending(w, m);
      } else {
        std::swap(w.pc, w.pending[m].pc);
        std::swap(w.active, w.pending[m].mask);
      }
      continue;
    }
    w.break_pc = m >= 0 ? w.pending[m].pc : UINT32_MAX;
    return true;
  }
}

void run_warp(WarpState& w, const LInstr* code) {
  if (!reschedule(w)) return;
  uint64_t count = 0;
  for (;;) {
    const LInstr& in = code[w.pc];
    LaneMask act = w.active;
    if (in.guard >= 0) {
      LaneMask p = w.preds[in.guard];
      act &= in.guard_neg ? ~p : p;
    }
    w.pc += 1;
    if (act) {
      count += static_cast<uint64_t>(std::popcount(act));
      in.fn(in, w, act);
    }
    if (w.pc >= w.break_pc) [[unlikely]] {
      if (!reschedule(w)) break;
    }
  }
  w.thread_instructions += count;
}

void yield_warp(WarpState& w) {
  w.spin_budget = WarpState::kSpinBudget;
  w.yielded = true;
  w.break_pc = 0;
  // The first yields only let the other warps run: most spinning lanes wait for
  // another warp. A diverged group that keeps spinning (the same lanes yield
  // kDeferAfterYields times in a row) is set aside so that the other lanes of
  // its own warp run (they may hold what it waits for), as sm_70+ independent
  // thread scheduling guarantees. Rare by design: the lanes set aside lose
  // their reconvergence with the others.
  if (w.active != w.spin_mask) {
    w.spin_mask = w.active;
    w.spin_yields = 0;
  }
  if (++w.spin_yields < WarpState::kDeferAfterYields || w.active == 0) return;
  bool others = false;
  for (int i = 0; i < w.npending; ++i) {
    auto& g = w.pending[i];
    if (g.barrier == WarpState::kDeferred) g.barrier = -1;
    others |= g.barrier < 0;
  }
  if (!others) return;
  WarpState::Group g;
  g.pc = w.pc;
  g.mask = w.active;
  g.barrier = WarpState::kDeferred;
  w.pending[w.npending++] = g;
  w.active = 0;
  w.spin_yields = 0;
}

void park_at_warp_sync(WarpState& w, LaneMask lanes, LaneMask sync_mask) {
  LaneMask need = sync_mask & w.valid & ~w.exited;
  LaneMask waiting = lanes;
  for (int i = 0; i < w.npending; ++i)
    if (w.pending[i].barrier == WarpState::kWarpSync) waiting |= w.pending[i].mask;
  if ((need & ~waiting) == 0) {
    // The last lane arrived: everyone waiting goes on (merging where pcs meet).
    for (int i = 0; i < w.npending; ++i)
      if (w.pending[i].barrier == WarpState::kWarpSync) {
        w.pending[i].barrier = -1;
        w.break_pc = 0;
      }
    return;
  }
  WarpState::Group g;
  g.pc = w.pc;
  g.mask = lanes;
  g.sync_mask = sync_mask;
  g.barrier = WarpState::kWarpSync;
  w.pending[w.npending++] = g;
  w.active &= ~lanes;
  w.spin_yields = 0;
  w.break_pc = 0;
}

void park_at_barrier(WarpState& w, int id, LaneMask m, int red_slot, uint8_t red_kind) {
  WarpState::Group g;
  g.pc = w.pc;
  g.mask = m;
  g.barrier = id;
  g.red_slot = red_slot;
  g.red_kind = red_kind;
  w.pending[w.npending++] = g;
  w.active &= ~m;
  w.spin_yields = 0;
  w.block->bars[id].waiting++;
  w.break_pc = 0;
}

Dim3 thread_index(const WarpState& w, int lane) {
  const Dim3& bd = w.block->launch->block;
  uint32_t t = w.warp_id * kWarpSize + static_cast<uint32_t>(lane);
  Dim3 r;
  r.x = t % bd.x;
  r.y = (t / bd.x) % bd.y;
  r.z = t / (bd.x * bd.y);
  return r;
}

std::string describe_site(const LInstr& in, const WarpState& w, int lane) {
  Dim3 t = thread_index(w, lane);
  const Dim3& c = w.block->ctaid;
  return fmt::format("PTX line {} ('{}'), block [{},{},{}], thread [{},{},{}]", in.line, in.opname, c.x, c.y,
                     c.z, t.x, t.y, t.z);
}

void WarpState::fault(LaunchStatus status, std::string message) {
  stop = true;
  break_pc = 0;
  block->faulted = true;
  LaunchState& L = *block->launch;
  std::lock_guard<std::mutex> lock(L.mu);
  if (L.status == LaunchStatus::Ok) {
    L.status = status;
    L.message = fmt::format("kernel '{}': {}", L.info->name, message);
  }
  L.stop.store(true, std::memory_order_relaxed);
}

// ---- BlockRunner

namespace {

uint64_t sreg_value(Sreg s, const LaunchState& L, const BlockContext& b, uint32_t warp, int lane,
                    uint32_t nwarps) {
  uint32_t t = warp * kWarpSize + static_cast<uint32_t>(lane);
  const Dim3& bd = L.block;
  uint32_t l = static_cast<uint32_t>(lane);
  switch (s) {
    case Sreg::TidX: return t % bd.x;
    case Sreg::TidY: return (t / bd.x) % bd.y;
    case Sreg::TidZ: return t / (bd.x * bd.y);
    case Sreg::NtidX: return bd.x;
    case Sreg::NtidY: return bd.y;
    case Sreg::NtidZ: return bd.z;
    case Sreg::CtaidX: return b.ctaid.x;
    case Sreg::CtaidY: return b.ctaid.y;
    case Sreg::CtaidZ: return b.ctaid.z;
    case Sreg::NctaidX: return L.grid.x;
    case Sreg::NctaidY: return L.grid.y;
    case Sreg::NctaidZ: return L.grid.z;
    case Sreg::LaneId: return l;
    case Sreg::WarpId: return warp;
    case Sreg::NWarpId: return nwarps;
    case Sreg::SmId: return 0;
    case Sreg::NSmId: return 1;
    case Sreg::GridId: return L.gridid;
    case Sreg::LanemaskEq: return 1u << l;
    case Sreg::LanemaskLe: return l == 31 ? 0xffffffffu : (2u << l) - 1;
    case Sreg::LanemaskLt: return (1u << l) - 1;
    case Sreg::LanemaskGe: return 0xffffffffu << l;
    case Sreg::LanemaskGt: return l == 31 ? 0u : 0xffffffffu << (l + 1);
    case Sreg::DynSmem: return L.dyn_shared;
    case Sreg::TotalSmem: return L.shared_bytes;
    case Sreg::Zero: return 0;
    case Sreg::One: return 1;
  }
  return 0;
}

}  // namespace

void BlockRunner::start(uint64_t block_linear) {
  LaunchState& L = launch_;
  const LoweredKernel& k = *L.k;
  ctx_ = BlockContext{};
  ctx_.launch = &L;
  ctx_.spans = &spans_;
  ctx_.block_linear = block_linear;
  ctx_.ctaid.x = static_cast<uint32_t>(block_linear % L.grid.x);
  ctx_.ctaid.y = static_cast<uint32_t>((block_linear / L.grid.x) % L.grid.y);
  ctx_.ctaid.z = static_cast<uint32_t>(block_linear / (uint64_t{L.grid.x} * L.grid.y));
  ctx_.nthreads = L.block.x * L.block.y * L.block.z;
  ctx_.printf_out = &printf_records;
  uint32_t nwarps = (ctx_.nthreads + kWarpSize - 1) / kWarpSize;

  shared_.assign(L.shared_bytes, 0);
  ctx_.shared = shared_.data();
  ctx_.shared_bytes = L.shared_bytes;
  local_.assign(static_cast<size_t>(nwarps) * kWarpSize * k.local_bytes, 0);
  regs_.assign(static_cast<size_t>(nwarps) * k.num_slots * kWarpSize, 0);
  preds_.assign(static_cast<size_t>(nwarps) * std::max<uint32_t>(k.num_preds, 1), 0);
  const size_t stack_bytes = static_cast<size_t>(nwarps) * kWarpSize * k.stack_bytes;
  if (stack_bytes > stack_size_) {
    stack_.reset(new uint8_t[stack_bytes]);
    stack_size_ = stack_bytes;
  }
  warps_.assign(nwarps, WarpState{});
  for (uint32_t i = 0; i < nwarps; ++i) {
    WarpState& w = warps_[i];
    w.regs = regs_.data() + static_cast<size_t>(i) * k.num_slots * kWarpSize;
    w.preds = preds_.data() + static_cast<size_t>(i) * std::max<uint32_t>(k.num_preds, 1);
    w.warp_id = i;
    uint32_t lanes = std::min<uint32_t>(kWarpSize, ctx_.nthreads - i * kWarpSize);
    w.valid = lanes == 32 ? kFullMask : (1u << lanes) - 1;
    w.block = &ctx_;
    w.active = w.valid;
    w.pc = 0;
    w.local = local_.data() + static_cast<size_t>(i) * kWarpSize * k.local_bytes;
    w.local_stride = k.local_bytes;
    if (k.stack_bytes) {
      w.stack = stack_.get() + static_cast<size_t>(i) * kWarpSize * k.stack_bytes;
      w.stack_stride = k.stack_bytes;
    }
    for (auto [slot, s] : k.sregs) {
      uint64_t* r = w.reg(slot);
      for (int l = 0; l < kWarpSize; ++l) r[l] = sreg_value(s, L, ctx_, i, l, nwarps);
    }
  }

}

bool BlockRunner::resume() {
  LaunchState& L = launch_;
  const LoweredKernel& k = *L.k;
  for (;;) {
    bool all_done = true;
    bool yielded = false;
    for (auto& w : warps_) {
      if (w.done) continue;
      w.yielded = false;
      run_warp(w, k.code.data());
      if (w.stop || L.stop.load(std::memory_order_relaxed)) {
        for (auto& x : warps_) thread_instructions += x.thread_instructions;
        return true;
      }
      yielded |= w.yielded;
      if (!w.done) all_done = false;
    }
    if (all_done) break;
    bool released = yielded;
    uint32_t live = ctx_.nthreads - ctx_.exited_threads;
    for (int b = 0; b < kNumBarriers; ++b) {
      BarrierState& bs = ctx_.bars[b];
      if (bs.waiting == 0) continue;
      uint32_t expected = bs.expected ? bs.expected : live;
      if (bs.arrived >= expected) {
        release(b);
        released = true;
      }
    }
    if (yielded) return false;  // some warp spins, maybe on another block's writes
    if (!released) {
      // Every warp is parked and no barrier can complete: a GPU would hang.
      for (auto& w : warps_) {
        if (w.done) continue;
        w.fault(LaunchStatus::Trap,
                fmt::format("deadlock: block [{},{},{}] waits at a barrier that not all {} live threads reach",
                            ctx_.ctaid.x, ctx_.ctaid.y, ctx_.ctaid.z, live));
        break;
      }
      break;
    }
  }
  for (auto& w : warps_) thread_instructions += w.thread_instructions;
  return true;
}

void BlockRunner::release(int id) {
  BarrierState& bs = ctx_.bars[id];
  for (auto& w : warps_) {
    for (int i = 0; i < w.npending; ++i) {
      auto& g = w.pending[i];
      if (g.barrier != id) continue;
      g.barrier = -1;
      if (g.red_slot >= 0) {
        uint8_t kind = g.red_kind & 0x7f;
        uint64_t v = kind == 1 ? bs.popc : kind == 2 ? (bs.all ? 1 : 0) : (bs.any ? 1 : 0);
        if (g.red_kind & 0x80) {  // predicate destination
          LaneMask& p = w.preds[g.red_slot];
          p = v ? (p | g.mask) : (p & ~g.mask);
        } else {
          uint64_t* r = w.reg(static_cast<uint32_t>(g.red_slot));
          for (int l = 0; l < kWarpSize; ++l)
            if (g.mask >> l & 1) r[l] = v;
        }
      }
      g.red_slot = -1;
    }
    // Groups released at the same pc run together again.
    for (int i = 0; i < w.npending; ++i)
      for (int j = w.npending - 1; j > i; --j)
        if (w.pending[j].pc == w.pending[i].pc && w.pending[j].barrier < 0 && w.pending[i].barrier < 0) {
          w.pending[i].mask |= w.pending[j].mask;
          w.pending[j] = w.pending[--w.npending];
        }
    w.break_pc = 0;
  }
  bs = BarrierState{};
}

}  // namespace gpool::emu::exec
