// Asynchronous copies and their completion mechanisms: cp.async (with
// commit_group / wait_group / wait_all and cp.async.mbarrier.arrive),
// non-tensor cp.async.bulk, mbarrier.*, griddepcontrol.
//
// cp.async copies synchronously when it executes: the bytes are in shared
// memory before the next instruction. That is one of the orders the PTX
// memory model allows (a copy may complete at any time before the wait that
// covers it), so commit_group, wait_group N and wait_all have nothing left to
// wait for and are no-ops; group semantics hold trivially.
//
// An mbarrier is the 8-byte shared-memory object the PTX ISA describes; its
// bits are the emulator's own (programs treat it as opaque):
//   bits 0-19 pending arrivals of the current phase, 20-39 expected
//   arrivals, 40-60 pending transaction bytes (21-bit two's complement),
//   63 the current phase's parity.
// A phase completes when pending arrivals and pending transactions both
// reach zero; the parity flips and pending arrivals reset to expected. The
// state token arrive returns is the object's value before the arrival.
// try_wait and test_wait never block: a warp polling a barrier that another
// warp must arrive on depends on the scheduler running that warp.
//
// griddepcontrol.launch_dependents / .wait are no-ops: a launch on a stream
// starts after the previous one finished, so the dependency is already met.
//
// Operand layouts (LInstr):
//   cp.async: s[0] = dst (shared) base, offset = dst offset; s[1] = src
//     (global) base, s[4] = Imm src offset; s[2] = src-size (Imm = cp-size
//     when absent); s[3] = ignore-src predicate or None; aux = cp-size.
//   mbarrier: s[0] = object address, offset; aux = MbarOp; aux2 = space;
//     d[0] = state token / wait predicate / count; s[1] = count / tx count /
//     token / parity.
//
// Owner: the tensor family. Thread safety: shared memory belongs to the
// block's one worker thread; handlers touch only their warp and block.
#include "block.h"
#include "lower_context.h"
#include "mem_access.h"

#include <algorithm>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

void h_nop(const LInstr&, WarpState&, LaneMask) {}

// ---- cp.async -----------------------------------------------------------------

void h_cp_async(const LInstr& in, WarpState& w, LaneMask active) {
  const uint32_t size = in.aux;
  uint64_t dst[kWarpSize];
  uint8_t* dptr[kWarpSize];
  lane_addresses(in, w, active, dst);
  if (!resolve_lanes(in, w, active, ptx::Space::Shared, dst, size, size, true, dptr)) return;
  const LaneMask ignore = in.s[3].kind == LOperand::Kind::Pred ? w.pred(in.s[3]) : 0;
  for (LaneMask m = active; m; m &= m - 1) {
    const int l = std::countr_zero(m);
    const uint64_t src = w.get(in.s[1], l) + in.s[4].imm;
    uint64_t n = (ignore >> l & 1) ? 0 : w.get(in.s[2], l) & 0xffffffffu;
    if (n > size) {
      w.fault(LaunchStatus::IllegalInstruction,
              fmt::format("'{}': src-size {} is larger than the copy size {}: {}", in.opname, n, size,
                          describe_site(in, w, l)));
      return;
    }
    if (n) {
      if (src % size) {
        w.fault(LaunchStatus::MisalignedAddress,
                fmt::format("'{}': global source address {:#x} is not aligned to the copy size {}: {}",
                            in.opname, src, size, describe_site(in, w, l)));
        return;
      }
      const uint8_t* s = resolve_one(in, w, l, ptx::Space::Global, src, static_cast<uint32_t>(n), false, false);
      if (!s) return;
      std::memcpy(dptr[l], s, n);
    }
    std::memset(dptr[l] + n, 0, size - n);
  }
}

bool lower_cp_bulk(const ptx::Instruction& in, LowerContext& ctx, LInstr& out);

bool lower_cp(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string name = full_opcode(in);
  const auto& mods = in.modifiers;
  if (mods.empty() || mods[0] != "async") return ctx.fail(in, fmt::format("unsupported instruction '{}'", name));
  if (mods.size() >= 2 && (mods[1] == "commit_group" || mods[1] == "wait_all" || mods[1] == "wait_group")) {
    const size_t want = mods[1] == "wait_group" ? 1 : 0;
    if (mods.size() != 2 || in.operands.size() != want)
      return ctx.fail(in, fmt::format("unsupported instruction '{}' (form)", name));
    if (want && in.operands[0].kind != ptx::Operand::Kind::IntImm)
      return ctx.fail(in, fmt::format("'{}' needs an integer constant group count", name));
    out.fn = h_nop;
    return true;
  }
  if (mods.size() >= 2 && mods[1] == "bulk") return lower_cp_bulk(in, ctx, out);
  bool ca_cg = false, dst_shared = false, src_global = false, hint = false;
  for (size_t i = 1; i < mods.size(); ++i) {
    const std::string& m = mods[i];
    if (m == "ca" || m == "cg") ca_cg = true;
    else if (m == "shared" || m == "shared::cta") dst_shared = true;
    else if (m == "global" && dst_shared) src_global = true;
    else if (m == "L2::cache_hint") hint = true;
    else if (m == "L2::64B" || m == "L2::128B" || m == "L2::256B") continue;
    else return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", name, m));
  }
  if (!ca_cg || !dst_shared || !src_global)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (expected cp.async.ca/cg.shared.global)", name));
  const auto& ops = in.operands;
  if (ops.size() < 3 || ops.size() > 5) return ctx.fail(in, fmt::format("operand count of '{}'", name));
  if (ops[2].kind != ptx::Operand::Kind::IntImm)
    return ctx.fail(in, fmt::format("copy size of '{}' must be a constant", name));
  const auto size = static_cast<uint32_t>(ops[2].ivalue);
  const bool cg = std::find(mods.begin(), mods.end(), "cg") != mods.end();
  if ((cg && size != 16) || (size != 4 && size != 8 && size != 16))
    return ctx.fail(in, fmt::format("'{}': copy size {} (.ca takes 4, 8 or 16, .cg 16)", name, size));
  MemRef dm, sm;
  if (!c.address(ops[0], ptx::Space::Shared, &out.s[0], &dm) || !c.address(ops[1], ptx::Space::Global, &out.s[1], &sm))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", name));
  out.offset = dm.offset;
  out.s[4].kind = LOperand::Kind::Imm;
  out.s[4].imm = static_cast<uint64_t>(sm.offset);
  out.s[2].kind = LOperand::Kind::Imm;
  out.s[2].imm = size;
  out.s[3] = LOperand{};
  size_t next = 3;
  const size_t extra = ops.size() - 3 - (hint ? 1 : 0);
  if (extra > 1) return ctx.fail(in, fmt::format("operand count of '{}'", name));
  if (extra == 1) {
    const ptx::Operand& o = ops[next++];
    LOperand p;
    if (o.kind == ptx::Operand::Kind::Register && ctx.pred(o, &p)) {
      out.s[3] = p;
    } else if (!ctx.src(o, ptx::Type::U32, &out.s[2])) {
      return ctx.fail(in, fmt::format("src-size of '{}'", name));
    }
  }
  if (hint) {  // the cache policy is read and ignored
    LOperand pol;
    if (!ctx.src(ops[next], ptx::Type::B64, &pol)) return ctx.fail(in, fmt::format("cache policy of '{}'", name));
  }
  out.ns = 5;
  out.aux = size;
  out.fn = h_cp_async;
  return true;
}

// ---- mbarrier -----------------------------------------------------------------------

enum class MbarOp : uint32_t {
  Init, Inval, Arrive, ArriveDrop, ArriveExpectTx, ArriveDropExpectTx, ExpectTx, CompleteTx, TestWait,
  TestWaitParity, PendingCount, CpAsyncArrive,
};

constexpr uint64_t kCountMask = (1u << 20) - 1;
constexpr uint64_t kTxMask = (1u << 21) - 1;

struct Mbar {
  uint64_t pending, expected;
  int64_t tx;
  uint64_t phase;
  static Mbar read(uint64_t v) {
    Mbar b;
    b.pending = v & kCountMask;
    b.expected = (v >> 20) & kCountMask;
    const uint64_t t = (v >> 40) & kTxMask;
    b.tx = (t & (1u << 20)) ? static_cast<int64_t>(t) - (int64_t{1} << 21) : static_cast<int64_t>(t);
    b.phase = v >> 63;
    return b;
  }
  uint64_t bits() const {
    return (pending & kCountMask) | ((expected & kCountMask) << 20) |
           ((static_cast<uint64_t>(tx) & kTxMask) << 40) | (phase << 63);
  }
  void maybe_complete() {
    if (pending == 0 && tx == 0) {
      phase ^= 1;
      pending = expected;
    }
  }
};

// The mbarrier object of one lane, or nullptr after faulting.
uint8_t* mbar_ptr(const LInstr& in, WarpState& w, int lane, uint64_t addr) {
  const auto space = static_cast<ptx::Space>(in.aux2);
  if (addr % 8) {
    w.fault(LaunchStatus::MisalignedAddress, fmt::format("'{}': mbarrier address {:#x} is not 8-byte aligned: {}",
                                                         in.opname, addr, describe_site(in, w, lane)));
    return nullptr;
  }
  if (space == ptx::Space::Generic && generic_space(addr) != ptx::Space::Shared) {
    w.fault(LaunchStatus::IllegalAddress, fmt::format("'{}': address {:#x} is not shared memory (an mbarrier "
                                                      "object must be in .shared): {}",
                                                      in.opname, addr, describe_site(in, w, lane)));
    return nullptr;
  }
  return resolve_one(in, w, lane, space, addr, 8, true, false);
}

void h_mbarrier(const LInstr& in, WarpState& w, LaneMask active) {
  const auto op = static_cast<MbarOp>(in.aux);
  uint64_t addr[kWarpSize];
  lane_addresses(in, w, active, addr);
  LaneMask result = 0;
  for (LaneMask m = active; m; m &= m - 1) {
    const int l = std::countr_zero(m);
    uint8_t* p = mbar_ptr(in, w, l, addr[l]);
    if (!p) return;
    uint64_t v;
    std::memcpy(&v, p, 8);
    Mbar b = Mbar::read(v);
    const uint64_t arg = in.s[1].kind == LOperand::Kind::None ? 1 : w.get(in.s[1], l);
    uint64_t out = v;
    auto arrive = [&](uint64_t count) {
      if (count > b.pending) {
        w.fault(LaunchStatus::IllegalInstruction,
                fmt::format("'{}': {} arrival(s) on an mbarrier with {} pending in its phase: {}", in.opname,
                            count, b.pending, describe_site(in, w, l)));
        return false;
      }
      b.pending -= count;
      b.maybe_complete();
      return true;
    };
    switch (op) {
      case MbarOp::Init:
        if (arg == 0 || arg > kCountMask) {
          w.fault(LaunchStatus::IllegalInstruction, fmt::format("'{}': count {} outside 1..{}: {}", in.opname,
                                                                arg, kCountMask, describe_site(in, w, l)));
          return;
        }
        b = Mbar{arg, arg, 0, 0};
        break;
      case MbarOp::Inval: b = Mbar{0, 0, 0, 0}; break;
      case MbarOp::Arrive:
      case MbarOp::CpAsyncArrive:
        if (!arrive(arg)) return;
        break;
      case MbarOp::ArriveDrop:
        if (b.expected < arg) b.expected = 0;
        else b.expected -= arg;
        if (!arrive(arg)) return;
        break;
      case MbarOp::ArriveExpectTx:
      case MbarOp::ArriveDropExpectTx:
        b.tx += static_cast<int64_t>(arg);
        if (op == MbarOp::ArriveDropExpectTx) b.expected = b.expected ? b.expected - 1 : 0;
        if (!arrive(1)) return;
        break;
      case MbarOp::ExpectTx: b.tx += static_cast<int64_t>(arg); break;
      case MbarOp::CompleteTx:
        b.tx -= static_cast<int64_t>(arg);
        b.maybe_complete();
        break;
      case MbarOp::TestWait:
        result |= static_cast<LaneMask>((arg >> 63) != b.phase) << l;
        break;
      case MbarOp::TestWaitParity:
        result |= static_cast<LaneMask>((arg & 1) != b.phase) << l;
        break;
      case MbarOp::PendingCount: break;
    }
    if (op != MbarOp::TestWait && op != MbarOp::TestWaitParity) {
      const uint64_t nv = b.bits();
      std::memcpy(p, &nv, 8);
    }
    if (in.d[0].kind == LOperand::Kind::Reg) w.reg(in.d[0].index)[l] = out;
  }
  if (in.d[0].kind == LOperand::Kind::Pred) {
    LaneMask& p = w.preds[in.d[0].index];
    p = (p & ~active) | (result & active);
  }
}

void h_mbar_pending(const LInstr& in, WarpState& w, LaneMask active) {
  for (LaneMask m = active; m; m &= m - 1) {
    const int l = std::countr_zero(m);
    w.reg(in.d[0].index)[l] = w.get(in.s[1], l) & kCountMask;
  }
}

bool lower_mbarrier(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string name = full_opcode(in);
  std::vector<std::string> words;
  ptx::Space space = ptx::Space::Generic;
  bool b64 = false;
  for (const auto& m : in.modifiers) {
    if (m == "shared" || m == "shared::cta") space = ptx::Space::Shared;
    else if (m == "b64") b64 = true;
    else if (m == "release" || m == "acquire" || m == "relaxed" || m == "cta" || m == "cluster") continue;
    else words.push_back(m);
  }
  std::string form;
  for (const auto& wd : words) form += (form.empty() ? "" : ".") + wd;
  const auto& ops = in.operands;
  MbarOp op;
  // Operand shapes: 'a' = [addr] only, 'c' = [addr], count; 's' = state, [addr]{, n}; 'w' = p, [addr], arg.
  char shape;
  if (form == "init") op = MbarOp::Init, shape = 'c';
  else if (form == "inval") op = MbarOp::Inval, shape = 'a';
  else if (form == "arrive" || form == "arrive.noComplete") op = MbarOp::Arrive, shape = 's';
  else if (form == "arrive_drop" || form == "arrive_drop.noComplete") op = MbarOp::ArriveDrop, shape = 's';
  else if (form == "arrive.expect_tx") op = MbarOp::ArriveExpectTx, shape = 's';
  else if (form == "arrive_drop.expect_tx") op = MbarOp::ArriveDropExpectTx, shape = 's';
  else if (form == "expect_tx") op = MbarOp::ExpectTx, shape = 'c';
  else if (form == "complete_tx") op = MbarOp::CompleteTx, shape = 'c';
  else if (form == "test_wait" || form == "try_wait") op = MbarOp::TestWait, shape = 'w';
  else if (form == "test_wait.parity" || form == "try_wait.parity") op = MbarOp::TestWaitParity, shape = 'w';
  else if (form == "pending_count") op = MbarOp::PendingCount, shape = 'p';
  else return ctx.fail(in, fmt::format("unsupported instruction '{}'", name));
  if (!b64) return ctx.fail(in, fmt::format("unsupported instruction '{}' (expected .b64)", name));
  out.aux = static_cast<uint32_t>(op);
  out.s[1] = LOperand{};
  if (shape == 'p') {
    if (ops.size() != 2 || !c.dst_reg(ops[0], ptx::Type::B64, &out.d[0]) || !ctx.src(ops[1], ptx::Type::B64, &out.s[1]))
      return ctx.fail(in, fmt::format("operands of '{}'", name));
    out.nd = 1;
    out.ns = 2;
    out.fn = h_mbar_pending;
    return true;
  }
  size_t a = 0;
  if (shape == 's') {
    if (ops.size() < 2 || ops.size() > 3) return ctx.fail(in, fmt::format("operand count of '{}'", name));
    if (!c.dst_reg(ops[0], ptx::Type::B64, &out.d[0])) return ctx.fail(in, fmt::format("state operand of '{}'", name));
    out.nd = 1;
    a = 1;
    if (ops.size() == 3 && !ctx.src(ops[2], ptx::Type::U32, &out.s[1]))
      return ctx.fail(in, fmt::format("count operand of '{}'", name));
    if ((op == MbarOp::ArriveExpectTx || op == MbarOp::ArriveDropExpectTx) && ops.size() != 3)
      return ctx.fail(in, fmt::format("'{}' needs a transaction count", name));
  } else if (shape == 'w') {
    if (ops.size() != 3 && ops.size() != 4) return ctx.fail(in, fmt::format("operand count of '{}'", name));
    if (!ctx.pred(ops[0], &out.d[0])) return ctx.fail(in, fmt::format("predicate operand of '{}'", name));
    out.nd = 1;
    a = 1;
    if (!ctx.src(ops[2], op == MbarOp::TestWait ? ptx::Type::B64 : ptx::Type::U32, &out.s[1]))
      return ctx.fail(in, fmt::format("state operand of '{}'", name));
    if (ops.size() == 4) {  // suspend-time hint: read, ignored
      LOperand hint;
      if (!ctx.src(ops[3], ptx::Type::U32, &hint)) return ctx.fail(in, fmt::format("time hint of '{}'", name));
    }
  } else if (shape == 'c') {
    if (ops.size() != 2 || !ctx.src(ops[1], ptx::Type::U32, &out.s[1]))
      return ctx.fail(in, fmt::format("operands of '{}'", name));
  } else if (ops.size() != 1) {
    return ctx.fail(in, fmt::format("operand count of '{}'", name));
  }
  MemRef mr;
  if (!c.address(ops[a], space, &out.s[0], &mr))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", name));
  out.offset = mr.offset;
  out.aux2 = static_cast<uint32_t>(mr.space);
  out.ns = 2;
  out.fn = h_mbarrier;
  return true;
}


// ---- cp.async.bulk (non-tensor) ----------------------------------------------------
//
// cp.async.bulk.{shared::cluster|shared::cta}.{global|shared::cta}.mbarrier::complete_tx::bytes
//   [dst], [src], size, [mbar]: copies at once, then performs complete_tx(size) on the mbarrier.
// cp.async.bulk.global.shared::cta.bulk_group [dst], [src], size: copies at once; its
//   commit_group / wait_group{.read} are no-ops. cp.async.bulk.prefetch.L2: no effect.
// A cluster is one block here, so a shared::cluster address is the block's shared address.
// Layout: s[0] = dst base, offset; s[1] = src base, s[4] = Imm src offset; s[2] = size;
// s[3] = mbarrier base or None, aux2 = its offset (int32); aux = dst space | src space << 8.

void h_cp_bulk(const LInstr& in, WarpState& w, LaneMask active) {
  const auto dspace = static_cast<ptx::Space>(in.aux & 0xff), sspace = static_cast<ptx::Space>(in.aux >> 8);
  for (LaneMask m = active; m; m &= m - 1) {
    const int l = std::countr_zero(m);
    const uint64_t dst = w.get(in.s[0], l) + static_cast<uint64_t>(in.offset);
    const uint64_t src = w.get(in.s[1], l) + in.s[4].imm;
    const uint64_t size = w.get(in.s[2], l) & 0xffffffffu;
    if (size % 16 || dst % 16 || src % 16) {
      w.fault(LaunchStatus::MisalignedAddress,
              fmt::format("'{}': size {} and addresses {:#x} <- {:#x} must be multiples of 16: {}", in.opname, size,
                          dst, src, describe_site(in, w, l)));
      return;
    }
    if (size) {
      const uint8_t* s = resolve_one(in, w, l, sspace, src, static_cast<uint32_t>(size), false, false);
      if (!s) return;
      uint8_t* d = resolve_one(in, w, l, dspace, dst, static_cast<uint32_t>(size), true, false);
      if (!d) return;
      std::memmove(d, s, size);
    }
    if (in.s[3].kind == LOperand::Kind::None) continue;
    const uint64_t maddr = w.get(in.s[3], l) + static_cast<uint64_t>(static_cast<int32_t>(in.aux2));
    if (maddr % 8) {
      w.fault(LaunchStatus::MisalignedAddress, fmt::format("'{}': mbarrier address {:#x} is not 8-byte aligned: {}",
                                                           in.opname, maddr, describe_site(in, w, l)));
      return;
    }
    uint8_t* p = resolve_one(in, w, l, ptx::Space::Shared, maddr, 8, true, false);
    if (!p) return;
    uint64_t v;
    std::memcpy(&v, p, 8);
    Mbar b = Mbar::read(v);
    b.tx -= static_cast<int64_t>(size);
    b.maybe_complete();
    v = b.bits();
    std::memcpy(p, &v, 8);
  }
}

bool lower_cp_bulk(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string name = full_opcode(in);
  const auto& mods = in.modifiers;  // mods[0] = async, mods[1] = bulk
  if (mods.size() >= 3 && (mods[2] == "commit_group" || mods[2] == "wait_group")) {
    const bool wait = mods[2] == "wait_group";
    if (mods.size() > (wait ? 4u : 3u) || (mods.size() == 4 && mods[3] != "read") ||
        in.operands.size() != (wait ? 1u : 0u) ||
        (wait && in.operands[0].kind != ptx::Operand::Kind::IntImm))
      return ctx.fail(in, fmt::format("unsupported instruction '{}' (form)", name));
    out.fn = h_nop;
    return true;
  }
  if (mods.size() >= 3 && mods[2] == "prefetch") {
    if (in.operands.size() < 2) return ctx.fail(in, fmt::format("operand count of '{}'", name));
    for (size_t i = 3; i < mods.size(); ++i)
      if (mods[i] != "L2" && mods[i] != "global" && mods[i] != "L2::cache_hint")
        return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", name, mods[i]));
    out.fn = h_nop;
    return true;
  }
  std::vector<ptx::Space> spaces;
  bool mbar = false, group = false, hint = false;
  for (size_t i = 2; i < mods.size(); ++i) {
    const std::string& m = mods[i];
    if (m == "shared::cluster" || m == "shared::cta" || m == "shared") spaces.push_back(ptx::Space::Shared);
    else if (m == "global") spaces.push_back(ptx::Space::Global);
    else if (m == "mbarrier::complete_tx::bytes") mbar = true;
    else if (m == "bulk_group") group = true;
    else if (m == "L2::cache_hint") hint = true;
    else return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{}: tensor, multicast and "
                                         "reduction bulk copies are not emulated)", name, m));
  }
  if (spaces.size() != 2 || mbar == group || (group && (spaces[0] != ptx::Space::Global || spaces[1] != ptx::Space::Shared)) ||
      (mbar && spaces[0] != ptx::Space::Shared))
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (form)", name));
  const auto& ops = in.operands;
  const size_t want = 3 + (mbar ? 1 : 0) + (hint ? 1 : 0);
  if (ops.size() != want) return ctx.fail(in, fmt::format("operand count of '{}'", name));
  MemRef dm, sm;
  if (!c.address(ops[0], spaces[0], &out.s[0], &dm) || !c.address(ops[1], spaces[1], &out.s[1], &sm))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", name));
  if (!ctx.src(ops[2], ptx::Type::U32, &out.s[2])) return ctx.fail(in, fmt::format("size of '{}'", name));
  out.s[3] = LOperand{};
  if (mbar) {
    MemRef mm;
    if (!c.address(ops[3], ptx::Space::Shared, &out.s[3], &mm) || mm.offset != static_cast<int32_t>(mm.offset))
      return ctx.fail(in, fmt::format("mbarrier operand of '{}'", name));
    out.aux2 = static_cast<uint32_t>(static_cast<int32_t>(mm.offset));
  }
  if (hint) {
    LOperand pol;
    if (!ctx.src(ops.back(), ptx::Type::B64, &pol)) return ctx.fail(in, fmt::format("cache policy of '{}'", name));
  }
  out.offset = dm.offset;
  out.s[4].kind = LOperand::Kind::Imm;
  out.s[4].imm = static_cast<uint64_t>(sm.offset);
  out.ns = 5;
  out.aux = static_cast<uint32_t>(dm.space) | (static_cast<uint32_t>(sm.space) << 8);
  out.fn = h_cp_bulk;
  return true;
}

// cp.async.mbarrier.arrive{.noinc}.shared{::cta}.b64 [addr]: the copies it
// tracks are complete already, so the arrival happens now. Without .noinc
// the ISA first adds one to the pending count, which this arrival takes off
// again: no change.
bool lower_cp_async_mbarrier(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string name = full_opcode(in);
  bool noinc = false, arrive = false, b64 = false;
  ptx::Space space = ptx::Space::Generic;
  for (size_t i = 2; i < in.modifiers.size(); ++i) {
    const std::string& m = in.modifiers[i];
    if (m == "arrive") arrive = true;
    else if (m == "noinc") noinc = true;
    else if (m == "shared" || m == "shared::cta") space = ptx::Space::Shared;
    else if (m == "b64") b64 = true;
    else return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", name, m));
  }
  if (!arrive || !b64 || in.operands.size() != 1) return ctx.fail(in, fmt::format("unsupported instruction '{}'", name));
  MemRef mr;
  if (!c.address(in.operands[0], space, &out.s[0], &mr))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", name));
  out.offset = mr.offset;
  out.aux2 = static_cast<uint32_t>(mr.space);
  out.ns = 2;
  out.s[1] = LOperand{};
  out.aux = static_cast<uint32_t>(MbarOp::CpAsyncArrive);
  out.fn = noinc ? h_mbarrier : h_nop;
  return true;
}

bool lower_cp_any(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  if (in.modifiers.size() >= 2 && in.modifiers[0] == "async" && in.modifiers[1] == "mbarrier")
    return lower_cp_async_mbarrier(in, ctx, out);
  return lower_cp(in, ctx, out);
}

// ---- griddepcontrol -------------------------------------------------------------------

bool lower_griddepcontrol(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  if (in.modifiers.size() != 1 || (in.modifiers[0] != "launch_dependents" && in.modifiers[0] != "wait") ||
      !in.operands.empty())
    return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
  out.fn = h_nop;
  return true;
}

}  // namespace

void register_async_ops(OpTable& t) {
  t.add("cp", lower_cp_any);
  t.add("mbarrier", lower_mbarrier);
  t.add("griddepcontrol", lower_griddepcontrol);
}

}  // namespace gpool::emu::exec
