// Control flow: bra (divergent or uniform), ret, exit, trap, brkpt,
// nanosleep, pmevent. Calls are inlined by the lowering pass (lower.cc).
// Backward branches and nanosleep yield spinning warps (scheduler.cc).
#include "block.h"
#include "lower_context.h"
#include "ops.h"

#include <bit>
#include <fmt/format.h>

namespace gpool::emu::exec {

void push_group(WarpState& w, uint32_t pc, LaneMask mask);  // scheduler.cc

void h_branch(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask rest = w.active & ~act;
  if (in.target < w.pc && --w.spin_budget == 0) [[unlikely]] {
    // A loop's back edge: a spin loop waiting for another warp must let it run.
    // Divergent branches first split the group, below, then yield.
    if (rest == 0) {
      w.pc = in.target;
      yield_warp(w);
      return;
    }
    push_group(w, w.pc, rest);
    w.pc = in.target;
    w.active = act;
    yield_warp(w);
    return;
  }
  if (rest == 0) {
    w.pc = in.target;
    return;
  }
  // Divergence: the lanes at the lower pc run first; the scheduler merges
  // groups when their pcs meet.
  uint32_t fall = w.pc;
  if (in.target < fall) {
    push_group(w, fall, rest);
    w.pc = in.target;
    w.active = act;
  } else {
    push_group(w, in.target, act);
    w.active = rest;
  }
  w.break_pc = 0;
}

void h_exit(const LInstr& in, WarpState& w, LaneMask act) {
  (void)in;
  w.exited |= act;
  w.active &= ~act;
  w.block->exited_threads += static_cast<uint32_t>(std::popcount(act));
  w.break_pc = 0;
}

namespace {

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

void h_trap(const LInstr& in, WarpState& w, LaneMask act) {
  int lane = std::countr_zero(act);
  w.fault(LaunchStatus::Trap, fmt::format("{} executed at {}", in.opname, describe_site(in, w, lane)));
}

void h_nop(const LInstr&, WarpState&, LaneMask) {}

// The sleeping warp lets the block's other warps run; the block gives up the
// CPU when all its warps wait (BlockRunner::run).
void h_nanosleep(const LInstr&, WarpState& w, LaneMask) { yield_warp(w); }

bool lower_bra(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  for (auto& m : in.modifiers)
    if (m != "uni") return bad(in, ctx);
  if (in.operands.size() != 1 || !c.label(in.operands[0])) return bad(in, ctx);
  out.fn = h_branch;
  return true;
}

bool lower_ret(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  for (auto& m : in.modifiers)
    if (m != "uni") return bad(in, ctx);
  if (c.in_kernel_body()) {
    out.fn = h_exit;
  } else if (c.real_frame() >= 0) {
    out.fn = h_ret;
    out.aux = static_cast<uint32_t>(c.real_frame());
  } else {
    c.target_instance_end();
    out.fn = h_branch;
  }
  return true;
}

bool lower_exit(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  if (!in.modifiers.empty() || !in.operands.empty()) return bad(in, ctx);
  out.fn = h_exit;
  return true;
}

bool lower_trap(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  if (!in.modifiers.empty()) return bad(in, ctx);
  out.fn = h_trap;
  return true;
}

bool lower_nanosleep(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  if (in.operands.size() != 1 || !c.src(in.operands[0], ptx::Type::U32, &out.s[0])) return bad(in, ctx);
  out.fn = h_nanosleep;
  return true;
}

bool lower_pmevent(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  (void)in;
  (void)ctx;
  out.fn = h_nop;  // performance-monitor events have no observable effect
  return true;
}

}  // namespace

void register_control_ops(OpTable& t) {
  t.add("bra", lower_bra);
  t.add("ret", lower_ret);
  t.add("exit", lower_exit);
  t.add("trap", lower_trap);
  t.add("brkpt", lower_trap);
  t.add("nanosleep", lower_nanosleep);
  t.add("pmevent", lower_pmevent);
}

}  // namespace gpool::emu::exec
