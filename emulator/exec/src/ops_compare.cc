// setp, set (integer and bit types; float types are forwarded to the float
// family's lower_float_compare), selp and slct (any type: bit selects).
#include "int_kernels.h"
#include "ops.h"

#include <bit>
#include <fmt/format.h>

namespace gpool::emu::exec {

namespace {

enum Cmp : uint32_t { Eq, Ne, Lt, Le, Gt, Ge, Lo, Ls, Hi, Hs };

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

bool parse_cmp(const std::string& m, uint32_t* out) {
  static const char* names[] = {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs"};
  for (uint32_t i = 0; i < 10; ++i)
    if (m == names[i]) {
      *out = i;
      return true;
    }
  return false;
}

template <class T>
inline bool compare(uint32_t c, T a, T b) {
  using UT = std::make_unsigned_t<T>;
  switch (c) {
    case Eq: return a == b;
    case Ne: return a != b;
    case Lt: return a < b;
    case Le: return a <= b;
    case Gt: return a > b;
    case Ge: return a >= b;
    case Lo: return static_cast<UT>(a) < static_cast<UT>(b);
    case Ls: return static_cast<UT>(a) <= static_cast<UT>(b);
    case Hi: return static_cast<UT>(a) > static_cast<UT>(b);
    default: return static_cast<UT>(a) >= static_cast<UT>(b);
  }
}

template <class T, uint32_t C>
LaneMask compare_lanes(const LInstr& in, const WarpState& w, LaneMask act) {
  LaneMask r = 0;
  const uint64_t* a = w.reg(in.s[0].index);
  if (in.s[1].kind == LOperand::Kind::Imm) {
    T b = static_cast<T>(in.s[1].imm);
    for (int l = 0; l < kWarpSize; ++l) r |= static_cast<LaneMask>(compare<T>(C, static_cast<T>(a[l]), b)) << l;
  } else {
    const uint64_t* b = w.reg(in.s[1].index);
    for (int l = 0; l < kWarpSize; ++l)
      r |= static_cast<LaneMask>(compare<T>(C, static_cast<T>(a[l]), static_cast<T>(b[l]))) << l;
  }
  return r & act;
}

inline LaneMask boolop(uint32_t op, LaneMask r, LaneMask c) {
  switch (op) {
    case 1: return r & c;
    case 2: return r | c;
    case 3: return r ^ c;
    default: return r;
  }
}

inline void write_pred(WarpState& w, const LOperand& d, LaneMask act, LaneMask v) {
  if (d.kind != LOperand::Kind::Pred) return;
  LaneMask& p = w.preds[d.index];
  p = (p & ~act) | (v & act);
}

template <class T, uint32_t C>
void h_setp(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask r = compare_lanes<T, C>(in, w, act);
  if (in.aux2 == 0 && in.d[1].kind == LOperand::Kind::None) {
    LaneMask& p = w.preds[in.d[0].index];
    p = (p & ~act) | r;
    return;
  }
  LaneMask c = in.aux2 ? w.pred(in.s[2]) : 0;
  write_pred(w, in.d[0], act, boolop(in.aux2, r, c));
  write_pred(w, in.d[1], act, boolop(in.aux2, ~r, c));
}

// set: d = all ones (integer) or 1.0f (f32 destination, aux bit 8) when true.
template <class T, uint32_t C>
void h_set(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask r = compare_lanes<T, C>(in, w, act);
  if (in.aux2) r = boolop(in.aux2, r, w.pred(in.s[2]));
  uint64_t* d = w.reg(in.d[0].index);
  uint64_t t = in.aux ? 0x3f800000u : 0xffffffffu;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    d[l] = (r >> l & 1) ? t : 0;
  }
}

template <class T, template <class, uint32_t> class H>
Handler pick_cmp(uint32_t c) {
  switch (c) {
    case Eq: return &H<T, Eq>::run;
    case Ne: return &H<T, Ne>::run;
    case Lt: return &H<T, Lt>::run;
    case Le: return &H<T, Le>::run;
    case Gt: return &H<T, Gt>::run;
    case Ge: return &H<T, Ge>::run;
    case Lo: return &H<T, Lo>::run;
    case Ls: return &H<T, Ls>::run;
    case Hi: return &H<T, Hi>::run;
    default: return &H<T, Hs>::run;
  }
}
template <class T, uint32_t C> struct SetpH { static void run(const LInstr& i, WarpState& w, LaneMask a) { h_setp<T, C>(i, w, a); } };
template <class T, uint32_t C> struct SetH { static void run(const LInstr& i, WarpState& w, LaneMask a) { h_set<T, C>(i, w, a); } };

template <template <class, uint32_t> class H>
Handler pick_typed(ptx::Type t, uint32_t c) {
  switch (t) {
    case ptx::Type::U16: case ptx::Type::B16: return pick_cmp<uint16_t, H>(c);
    case ptx::Type::S16: return pick_cmp<int16_t, H>(c);
    case ptx::Type::U32: case ptx::Type::B32: return pick_cmp<uint32_t, H>(c);
    case ptx::Type::S32: return pick_cmp<int32_t, H>(c);
    case ptx::Type::U64: case ptx::Type::B64: return pick_cmp<uint64_t, H>(c);
    case ptx::Type::S64: return pick_cmp<int64_t, H>(c);
    default: return nullptr;
  }
}

bool lower_setp_set(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  bool setp = in.opcode == "setp";
  ptx::Type st = last_type(in);
  if (is_float_type(st)) {
    return lower_float_compare(in, ctx, out);
  }
  uint32_t cmp = 0, bop = 0;
  bool have_cmp = false;
  for (auto& m : in.modifiers) {
    if (ptx::type_from_name(m)) continue;
    if (!have_cmp && parse_cmp(m, &cmp)) have_cmp = true;
    else if (m == "and") bop = 1;
    else if (m == "or") bop = 2;
    else if (m == "xor") bop = 3;
    else return bad(in, ctx);
  }
  if (!have_cmp) return bad(in, ctx);
  size_t n = bop ? 4 : 3;
  if (in.operands.size() != n) return bad(in, ctx);
  const auto& d = in.operands[0];
  if (setp) {
    if (!c.dst(d, ptx::Type::Pred, &out.d[0]) || out.d[0].kind != LOperand::Kind::Pred) return bad(in, ctx);
    out.nd = 1;
    if (!d.pipe.empty()) {
      ptx::Operand q;
      q.kind = ptx::Operand::Kind::Register;
      q.name = d.pipe;
      if (!c.dst(q, ptx::Type::Pred, &out.d[1]) || out.d[1].kind != LOperand::Kind::Pred) return bad(in, ctx);
      out.nd = 2;
    }
  } else {
    ptx::Type dt = first_type(in);
    if (dt != ptx::Type::U32 && dt != ptx::Type::S32 && dt != ptx::Type::F32) return bad(in, ctx);
    if (!c.dst_reg(d, dt, &out.d[0])) return bad(in, ctx);
    out.aux = dt == ptx::Type::F32 ? 1 : 0;
    out.nd = 1;
  }
  // The register-first fast path wants s[0] in a register.
  LOperand a, b;
  if (!c.src(in.operands[1], st, &a) || !c.src(in.operands[2], st, &b)) return bad(in, ctx);
  if (a.kind != LOperand::Kind::Reg) {
    // Materialise an immediate first operand by swapping with a mirrored comparison.
    if (b.kind != LOperand::Kind::Reg) return bad(in, ctx);
    std::swap(a, b);
    static const uint32_t mirror[] = {Eq, Ne, Gt, Ge, Lt, Le, Hi, Hs, Lo, Ls};
    cmp = mirror[cmp];
  }
  out.s[0] = a;
  out.s[1] = b;
  out.ns = 2;
  if (bop) {
    if (!c.pred(in.operands[3], &out.s[2])) return bad(in, ctx);
    out.ns = 3;
  }
  out.aux2 = bop;
  out.type = st;
  out.fn = setp ? pick_typed<SetpH>(st, cmp) : pick_typed<SetH>(st, cmp);
  return out.fn != nullptr || bad(in, ctx);
}

void h_selp(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  LaneMask p = w.pred(in.s[2]);
  if (in.s[0].kind == LOperand::Kind::Reg && in.s[1].kind == LOperand::Kind::Reg) {
    const uint64_t* a = w.reg(in.s[0].index);
    const uint64_t* b = w.reg(in.s[1].index);
    for (int l = 0; l < kWarpSize; ++l) d[l] = (act >> l & 1) ? ((p >> l & 1) ? a[l] : b[l]) : d[l];
    return;
  }
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    d[l] = (p >> l & 1) ? w.get(in.s[0], l) : w.get(in.s[1], l);
  }
}

bool lower_selp(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Type t = last_type(in);
  if (in.operands.size() != 4 || in.modifiers.size() != 1 || ptx::type_size(t) < 2 || t == ptx::Type::Pred)
    return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], t, &out.d[0]) || !c.src(in.operands[1], t, &out.s[0]) ||
      !c.src(in.operands[2], t, &out.s[1]) || !c.pred(in.operands[3], &out.s[2]))
    return bad(in, ctx);
  out.nd = 1;
  out.ns = 3;
  out.type = t;
  out.fn = h_selp;
  return true;
}

// slct: aux = 1 when c is f32 (ftz: aux2 = 1)
void h_slct(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t cv = w.get(in.s[2], l);
    bool ge;
    if (in.aux) {
      uint32_t bits = static_cast<uint32_t>(cv);
      if (in.aux2 && (bits & 0x7f800000u) == 0) bits &= 0x80000000u;  // flush subnormal
      float f = std::bit_cast<float>(bits);
      ge = f >= 0.0f;
    } else {
      ge = static_cast<int32_t>(cv) >= 0;
    }
    d[l] = ge ? w.get(in.s[0], l) : w.get(in.s[1], l);
  }
}

bool lower_slct(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Type dt = first_type(in), ct = last_type(in);
  if (in.operands.size() != 4 || (ct != ptx::Type::S32 && ct != ptx::Type::F32)) return bad(in, ctx);
  for (auto& m : in.modifiers)
    if (!ptx::type_from_name(m) && m != "ftz") return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], dt, &out.d[0]) || !c.src(in.operands[1], dt, &out.s[0]) ||
      !c.src(in.operands[2], dt, &out.s[1]) || !c.src(in.operands[3], ct, &out.s[2]))
    return bad(in, ctx);
  out.nd = 1;
  out.ns = 3;
  out.aux = ct == ptx::Type::F32 ? 1 : 0;
  out.aux2 = has_mod(in, "ftz") ? 1 : 0;
  out.fn = h_slct;
  return true;
}

}  // namespace

void register_compare_ops(OpTable& t) {
  t.add("setp", lower_setp_set);
  t.add("set", lower_setp_set);
  t.add("selp", lower_selp);
  t.add("slct", lower_slct);
}

}  // namespace gpool::emu::exec
