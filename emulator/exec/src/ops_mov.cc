// mov (registers, immediates, special registers, symbol addresses, vector
// pack/unpack, predicates), cvta / cvta.to and isspacep over the generic
// address windows of program.h.
#include "block.h"
#include "int_kernels.h"
#include "mem_access.h"
#include "ops.h"

#include <chrono>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

uint64_t width_mask(uint32_t bytes) { return bytes >= 8 ? ~0ull : ((1ull << (bytes * 8)) - 1); }

void h_mov_reg(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  const uint64_t* a = w.reg(in.s[0].index);
  uint64_t mask = in.aux2 ? in.aux2 == 8 ? ~0ull : width_mask(in.aux2) : ~0ull;
  if (act == kFullMask) {
    for (int l = 0; l < kWarpSize; ++l) d[l] = a[l] & mask;
  } else {
    for (int l = 0; l < kWarpSize; ++l) d[l] = (act >> l & 1) ? (a[l] & mask) : d[l];
  }
}

void h_mov_imm(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  uint64_t v = in.s[0].imm;
  for (int l = 0; l < kWarpSize; ++l) d[l] = (act >> l & 1) ? v : d[l];
}

void h_mov_pred(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask v = in.s[0].kind == LOperand::Kind::Imm ? (in.s[0].imm ? kFullMask : 0) : w.pred(in.s[0]);
  LaneMask& p = w.preds[in.d[0].index];
  p = (p & ~act) | (v & act);
}

// aux: 0 %clock (32-bit), 1 %clock64, 2 %globaltimer, 3 %globaltimer_lo, 4 %globaltimer_hi,
// 5 %clock_hi (the upper half of %clock64)
// %envreg1 / %envreg2: high / low half of the launch's grid-barrier workspace
// address (aux = 1 / 2). Cooperative groups' grid.sync() reads them.
void h_mov_envreg(const LInstr& in, WarpState& w, LaneMask act) {
  const uint64_t ws = w.block->launch->grid_workspace;
  const uint64_t v = in.aux == 1 ? (ws >> 32) : (ws & 0xffffffffu);
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) d[std::countr_zero(m)] = v;
}

void h_mov_time(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t v;
  if (in.aux <= 1 || in.aux == 5) {
    v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  } else {
    v = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
  }
  if (in.aux == 0 || in.aux == 3) v &= 0xffffffffu;
  if (in.aux == 4 || in.aux == 5) v >>= 32;
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) d[std::countr_zero(m)] = v;
}

// Pack: d = elements (each aux bytes wide) s[0..ns) from low to high.
void h_mov_pack(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  uint32_t bits = in.aux * 8;
  uint64_t mask = width_mask(in.aux);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t v = 0;
    for (int i = 0; i < in.ns; ++i) v |= (w.get(in.s[i], l) & mask) << (bits * static_cast<uint32_t>(i));
    d[l] = v;
  }
}

// Unpack: d[i] = element i (aux bytes wide) of s[0].
void h_mov_unpack(const LInstr& in, WarpState& w, LaneMask act) {
  uint32_t bits = in.aux * 8;
  uint64_t mask = width_mask(in.aux);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t v = w.get(in.s[0], l);
    for (int i = 0; i < in.nd; ++i) w.reg(in.d[i].index)[l] = (v >> (bits * static_cast<uint32_t>(i))) & mask;
  }
}

bool lower_mov(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Type t = last_type(in);
  if (in.operands.size() != 2 || in.modifiers.size() != 1 || t == ptx::Type::None) return bad(in, ctx);
  const auto& d = in.operands[0];
  const auto& s = in.operands[1];
  uint32_t size = ptx::type_size(t);
  if (t == ptx::Type::Pred) {
    if (!c.dst(d, ptx::Type::Pred, &out.d[0]) || out.d[0].kind != LOperand::Kind::Pred) return bad(in, ctx);
    if (s.kind == ptx::Operand::Kind::IntImm) {
      out.s[0].kind = LOperand::Kind::Imm;
      out.s[0].imm = s.ivalue ? 1 : 0;
    } else if (!c.pred(s, &out.s[0])) {
      return bad(in, ctx);
    }
    out.fn = h_mov_pred;
    return true;
  }
  if (size == 0 || size > 8) return bad(in, ctx);
  if (s.kind == ptx::Operand::Kind::Vector) {
    size_t n = s.elems.size();
    if (n < 2 || n > 4 || size % n) return bad(in, ctx);
    uint32_t part = static_cast<uint32_t>(size / n);
    ptx::Type pt = part == 1 ? ptx::Type::B8 : part == 2 ? ptx::Type::B16 : ptx::Type::B32;
    if (!c.dst_reg(d, t, &out.d[0])) return bad(in, ctx);
    for (size_t i = 0; i < n; ++i)
      if (!c.src(s.elems[i], pt, &out.s[i])) return bad(in, ctx);
    out.nd = 1;
    out.ns = static_cast<uint8_t>(n);
    out.aux = part;
    out.fn = h_mov_pack;
    return true;
  }
  if (d.kind == ptx::Operand::Kind::Vector) {
    size_t n = d.elems.size();
    if (n < 2 || n > 4 || size % n) return bad(in, ctx);
    uint32_t part = static_cast<uint32_t>(size / n);
    ptx::Type pt = part == 1 ? ptx::Type::B8 : part == 2 ? ptx::Type::B16 : ptx::Type::B32;
    for (size_t i = 0; i < n; ++i)
      if (!c.dst_reg(d.elems[i], pt, &out.d[i])) return bad(in, ctx);
    if (!c.src(s, t, &out.s[0])) return bad(in, ctx);
    out.nd = static_cast<uint8_t>(n);
    out.ns = 1;
    out.aux = part;
    out.fn = h_mov_unpack;
    return true;
  }
  if (!c.dst_reg(d, t, &out.d[0])) return bad(in, ctx);
  out.nd = out.ns = 1;
  if (s.kind == ptx::Operand::Kind::Special) {
    static const char* timers[] = {"%clock",          "%clock64",        "%globaltimer",
                                   "%globaltimer_lo", "%globaltimer_hi", "%clock_hi"};
    for (uint32_t i = 0; i < 6; ++i)
      if (s.name == timers[i]) {
        out.aux = i;
        out.fn = h_mov_time;
        return true;
      }
    if (s.name == "%envreg1" || s.name == "%envreg2") {
      out.aux = s.name == "%envreg1" ? 1 : 2;
      out.fn = h_mov_envreg;
      return true;
    }
    if (s.name.rfind("%pm", 0) == 0 || s.name.rfind("%envreg", 0) == 0) {
      out.s[0].kind = LOperand::Kind::Imm;
      out.s[0].imm = 0;
      out.fn = h_mov_imm;
      return true;
    }
  }
  if (!c.src(s, t, &out.s[0])) {
    // Name the register: "unsupported instruction 'mov.u32'" alone does not say what is missing
    // (cuSOLVER's hseqr kernels read %reserved_smem_offset_1, the reserved shared memory).
    if (s.kind == ptx::Operand::Kind::Special)
      return ctx.fail(in, fmt::format("unsupported special register '{}' in '{}'", s.name, full_opcode(in)));
    return bad(in, ctx);
  }
  if (out.s[0].kind == LOperand::Kind::Imm) {
    out.fn = h_mov_imm;
  } else {
    out.aux2 = size;  // truncate wider sources to the move's width
    out.fn = h_mov_reg;
  }
  out.type = t;
  return true;
}

// cvta: aux = 0 to generic (add window base aux-selected), 1 from generic;
// imm of s[1] unused; window in `offset`; aux2 = 4 for a .u32 result.
void h_cvta(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  uint64_t window = static_cast<uint64_t>(in.offset);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t a = w.get(in.s[0], l);
    uint64_t r;
    if (window == 0) r = a;
    else if (in.aux == 0) r = window + (a & 0x0000ffffffffffffull);
    else r = (a & 0xffff000000000000ull) == window ? (a & 0x0000ffffffffffffull) : a;
    d[l] = in.aux2 == 4 ? (r & 0xffffffffu) : r;
  }
}

bool space_window(const std::string& m, uint64_t* window) {
  if (m == "global" || m == "const") *window = 0;
  else if (m == "shared" || m == "shared::cta") *window = kSharedWindow;
  else if (m == "local") *window = kLocalWindow;
  else if (m == "param" || m == "param::entry") *window = kParamWindow;
  else return false;
  return true;
}

bool lower_cvta(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  bool to = has_mod(in, "to");
  uint64_t window = 0;
  bool have_space = false;
  for (auto& m : in.modifiers) {
    if (m == "to" || ptx::type_from_name(m)) continue;
    if (!space_window(m, &window)) return bad(in, ctx);
    have_space = true;
  }
  ptx::Type t = last_type(in);
  if (!have_space || (t != ptx::Type::U32 && t != ptx::Type::U64) || in.operands.size() != 2) return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], t, &out.d[0]) || !c.src(in.operands[1], t, &out.s[0])) return bad(in, ctx);
  out.nd = out.ns = 1;
  out.aux = to ? 1 : 0;
  out.aux2 = ptx::type_size(t);
  out.offset = static_cast<int64_t>(window);
  out.fn = h_cvta;
  return true;
}

// isspacep: aux = window tag (0 = global)
void h_isspacep(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask r = 0;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t a = w.get(in.s[0], l);
    bool yes = in.offset == 0 ? a < kWindowBase
                              : (a & 0xffff000000000000ull) == static_cast<uint64_t>(in.offset);
    if (yes) r |= 1u << l;
  }
  LaneMask& p = w.preds[in.d[0].index];
  p = (p & ~act) | r;
}

bool lower_isspacep(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  uint64_t window = 0;
  if (in.modifiers.size() != 1 || !space_window(in.modifiers[0], &window) || in.operands.size() != 2)
    return bad(in, ctx);
  if (!c.dst(in.operands[0], ptx::Type::Pred, &out.d[0]) || out.d[0].kind != LOperand::Kind::Pred ||
      !c.src(in.operands[1], ptx::Type::U64, &out.s[0]))
    return bad(in, ctx);
  out.offset = static_cast<int64_t>(window);
  out.fn = h_isspacep;
  return true;
}

}  // namespace

void register_mov_ops(OpTable& t) {
  t.add("mov", lower_mov);
  t.add("cvta", lower_cvta);
  t.add("isspacep", lower_isspacep);
}

}  // namespace gpool::emu::exec
