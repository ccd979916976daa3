// Barriers and memory ordering: bar/barrier .sync/.arrive/.red (block-wide,
// through the scheduler's barrier parking), bar.warp.sync, membar, fence.
//
// Operands: s[0] = barrier id, s[1] = optional thread count (ns == 2), for
// bar.red s[2] = the predicate; aux = 0 sync, 1 arrive, 2 red;
// aux2 = red kind (1 popc, 2 and, 3 or) | 0x80 for a predicate destination.
#include "block.h"
#include "lower_context.h"
#include "ops.h"

#include <atomic>
#include <bit>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

void h_bar(const LInstr& in, WarpState& w, LaneMask act) {
  int lane = std::countr_zero(act);
  uint64_t id = w.get(in.s[0], lane);
  if (id >= kNumBarriers) {
    w.fault(LaunchStatus::IllegalInstruction,
            fmt::format("barrier id {} out of range 0..15 at {}", id, describe_site(in, w, lane)));
    return;
  }
  BarrierState& bs = w.block->bars[id];
  bs.arrived += static_cast<uint32_t>(std::popcount(act));
  if (in.ns >= 2 && in.s[1].kind != LOperand::Kind::None) {
    uint64_t n = w.get(in.s[1], lane);
    if (n == 0 || n % kWarpSize != 0) {
      w.fault(LaunchStatus::IllegalInstruction,
              fmt::format("barrier thread count {} is not a positive multiple of 32 at {}", n,
                          describe_site(in, w, lane)));
      return;
    }
    bs.expected = static_cast<uint32_t>(n);
  }
  if (in.aux == 2) {
    LaneMask p = w.pred(in.s[2]) & act;
    bs.popc += static_cast<uint32_t>(std::popcount(p));
    bs.all = bs.all && p == act;
    bs.any = bs.any || p != 0;
  }
  if (in.aux == 1) return;  // arrive: no wait
  int slot = in.aux == 2 ? static_cast<int>(in.d[0].index) : -1;
  park_at_barrier(w, static_cast<int>(id), act, slot, static_cast<uint8_t>(in.aux2));
}

// bar.warp.sync: free when every lane of the mask is in the running group (the
// common, converged case); otherwise the lanes wait for the rest of the mask.
void h_warp_sync(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask mask = static_cast<LaneMask>(w.get(in.s[0], std::countr_zero(act)));
  LaneMask need = mask & w.valid & ~w.exited;
  if ((need & ~act) == 0) return;
  park_at_warp_sync(w, act, mask);
}

void h_fence(const LInstr&, WarpState&, LaneMask) { std::atomic_thread_fence(std::memory_order_seq_cst); }

bool lower_bar(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  std::string kind;
  uint32_t red = 0;
  bool pred_dst = false;
  for (auto& m : in.modifiers) {
    if (m == "cta" || m == "aligned") continue;
    if (m == "sync" || m == "arrive" || m == "red" || m == "warp") {
      if (!kind.empty() && !(kind == "warp" && m == "sync")) return bad(in, ctx);
      if (kind != "warp") kind = m;
    } else if (m == "popc") red = 1;
    else if (m == "and") red = 2;
    else if (m == "or") red = 3;
    else if (m == "u32") {
    } else if (m == "pred") pred_dst = true;
    else return bad(in, ctx);
  }
  if (kind.empty()) kind = "sync";  // "bar 0" is bar.sync 0
  if (kind == "warp") {
    if (in.operands.size() != 1 || !c.src(in.operands[0], ptx::Type::U32, &out.s[0])) return bad(in, ctx);
    out.ns = 1;
    out.fn = h_warp_sync;
    return true;
  }
  size_t first = 0;
  if (kind == "red") {
    if (!red || in.operands.size() < 3) return bad(in, ctx);
    if (pred_dst) {
      if (!c.dst(in.operands[0], ptx::Type::Pred, &out.d[0]) || out.d[0].kind != LOperand::Kind::Pred)
        return bad(in, ctx);
      red |= 0x80;
    } else if (!c.dst_reg(in.operands[0], ptx::Type::U32, &out.d[0])) {
      return bad(in, ctx);
    }
    out.nd = 1;
    first = 1;
    if (!c.pred(in.operands.back(), &out.s[2])) return bad(in, ctx);
  }
  size_t nvals = in.operands.size() - first - (kind == "red" ? 1 : 0);
  if (nvals < 1 || nvals > 2) return bad(in, ctx);
  if (!c.src(in.operands[first], ptx::Type::U32, &out.s[0])) return bad(in, ctx);
  out.ns = 1;
  if (nvals == 2) {
    if (!c.src(in.operands[first + 1], ptx::Type::U32, &out.s[1])) return bad(in, ctx);
    out.ns = 2;
  }
  if (kind == "red") out.ns = 3;
  if (kind == "red" && nvals == 1) out.s[1].kind = LOperand::Kind::None;
  if (kind == "arrive" && nvals != 2) return bad(in, ctx);
  out.aux = kind == "sync" ? 0 : kind == "arrive" ? 1 : 2;
  out.aux2 = red;
  out.fn = h_bar;
  return true;
}

bool lower_membar(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  for (auto& m : in.modifiers) {
    static const char* ok[] = {"cta", "gl", "sys", "gpu", "sc", "acq_rel", "acquire", "release", "cluster",
                               "proxy", "alias", "async", "global", "shared", "shared::cta", "shared::cluster"};
    bool found = false;
    for (auto* o : ok) found |= m == o;
    if (!found) return bad(in, ctx);
  }
  if (!in.operands.empty()) return bad(in, ctx);
  out.fn = h_fence;
  return true;
}

}  // namespace

void register_barrier_ops(OpTable& t) {
  t.add("bar", lower_bar);
  t.add("barrier", lower_bar);
  t.add("membar", lower_membar);
  t.add("fence", lower_membar);
}

}  // namespace gpool::emu::exec
