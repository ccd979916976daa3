// Float comparisons: setp and set whose comparison type is f16, f16x2, bf16,
// bf16x2, f32 or f64 (the core forwards them here; see lower_float_compare
// in engine.h). All PTX comparison operators, ordered (eq ne lt le gt ge:
// false when either operand is NaN) and unordered (equ neu ltu leu gtu geu:
// true when either is NaN), num and nan; the .and/.or/.xor combination with
// a predicate; .ftz (subnormal inputs compare as zero).
//
// Packed forms compare the low and high halves separately: setp ... p|q
// writes the low result to p and the high result to q; set writes a result
// into each half.
//
// Owner: the float family (exec-float).
#include "float_family.h"

namespace gpool::emu::exec {
namespace fl {
namespace {

enum class Cmp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, Equ, Neu, Ltu, Leu, Gtu, Geu, Num, Nan };
enum class BoolOp : uint8_t { None, And, Or, Xor };
enum class Kind : uint8_t { F32, F64, F16, BF16, F16x2, BF16x2 };

constexpr uint32_t kCmpFtz = 1u << 8;

template <Cmp c, class T>
inline bool compare(T a, T b) {
  const bool un = a != a || b != b;
  if constexpr (c == Cmp::Eq) return a == b;
  if constexpr (c == Cmp::Ne) return !un && a != b;
  if constexpr (c == Cmp::Lt) return a < b;
  if constexpr (c == Cmp::Le) return a <= b;
  if constexpr (c == Cmp::Gt) return a > b;
  if constexpr (c == Cmp::Ge) return a >= b;
  if constexpr (c == Cmp::Equ) return un || a == b;
  if constexpr (c == Cmp::Neu) return a != b;
  if constexpr (c == Cmp::Ltu) return un || a < b;
  if constexpr (c == Cmp::Leu) return un || a <= b;
  if constexpr (c == Cmp::Gtu) return un || a > b;
  if constexpr (c == Cmp::Geu) return un || a >= b;
  if constexpr (c == Cmp::Num) return !un;
  if constexpr (c == Cmp::Nan) return un;
}

// Widened operand `half` (0 low, 1 high) of kind K, with .ftz applied.
template <Kind K>
inline auto value(uint64_t bits, int half, bool ftz) {
  if constexpr (K == Kind::F32) {
    return ftz ? fp::ftz(fp::f32_from_bits(bits)) : fp::f32_from_bits(bits);
  } else if constexpr (K == Kind::F64) {
    return fp::f64_from_bits(bits);
  } else {
    constexpr bool bf = K == Kind::BF16 || K == Kind::BF16x2;
    constexpr const fp::Format& F = bf ? fp::kBF16 : fp::kF16;
    uint64_t h = (bits >> (16 * half)) & 0xffff;
    if (ftz) h = fp::flush_subnormal(F, h);
    return bf ? fp::bf16_bits_to_f32(h) : fp::f16_bits_to_f32(h);
  }
}

// Lanes of `active` where `a cmp b` holds, for the low (half 0) or high half.
template <Kind K, Cmp c>
LaneMask cmp_mask(Src a, Src b, LaneMask active, bool ftz, int half) {
  LaneMask r = 0;
  for_lanes(active, [&](int l) {
    r |= static_cast<LaneMask>(compare<c>(value<K>(a[l], half, ftz), value<K>(b[l], half, ftz))) << l;
  });
  return r;
}

template <Kind K>
LaneMask cmp_mask(Cmp c, Src a, Src b, LaneMask active, bool ftz, int half) {
  switch (c) {
    case Cmp::Eq: return cmp_mask<K, Cmp::Eq>(a, b, active, ftz, half);
    case Cmp::Ne: return cmp_mask<K, Cmp::Ne>(a, b, active, ftz, half);
    case Cmp::Lt: return cmp_mask<K, Cmp::Lt>(a, b, active, ftz, half);
    case Cmp::Le: return cmp_mask<K, Cmp::Le>(a, b, active, ftz, half);
    case Cmp::Gt: return cmp_mask<K, Cmp::Gt>(a, b, active, ftz, half);
    case Cmp::Ge: return cmp_mask<K, Cmp::Ge>(a, b, active, ftz, half);
    case Cmp::Equ: return cmp_mask<K, Cmp::Equ>(a, b, active, ftz, half);
    case Cmp::Neu: return cmp_mask<K, Cmp::Neu>(a, b, active, ftz, half);
    case Cmp::Ltu: return cmp_mask<K, Cmp::Ltu>(a, b, active, ftz, half);
    case Cmp::Leu: return cmp_mask<K, Cmp::Leu>(a, b, active, ftz, half);
    case Cmp::Gtu: return cmp_mask<K, Cmp::Gtu>(a, b, active, ftz, half);
    case Cmp::Geu: return cmp_mask<K, Cmp::Geu>(a, b, active, ftz, half);
    case Cmp::Num: return cmp_mask<K, Cmp::Num>(a, b, active, ftz, half);
    case Cmp::Nan: return cmp_mask<K, Cmp::Nan>(a, b, active, ftz, half);
  }
  return 0;
}

inline LaneMask combine(BoolOp op, LaneMask x, LaneMask c) {
  switch (op) {
    case BoolOp::None: return x;
    case BoolOp::And: return x & c;
    case BoolOp::Or: return x | c;
    case BoolOp::Xor: return x ^ c;
  }
  return x;
}

inline void write_pred(WarpState& w, const LOperand& d, LaneMask v, LaneMask active) {
  if (d.kind != LOperand::Kind::Pred) return;
  LaneMask& p = w.preds[d.index];
  p = (p & ~active) | (v & active);
}

constexpr bool is_x2(Kind k) { return k == Kind::F16x2 || k == Kind::BF16x2; }

template <Kind K>
void h_setp(const LInstr& in, WarpState& w, LaneMask active) {
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const Cmp c = static_cast<Cmp>(in.aux & 0xff);
  const BoolOp op = static_cast<BoolOp>(in.aux2 & 0xff);
  const bool ftz = (in.aux2 & kCmpFtz) != 0;
  const LaneMask cv = op == BoolOp::None ? 0 : w.pred(in.s[2]);
  const LaneMask lo = cmp_mask<K>(c, a, b, active, ftz, 0);
  if constexpr (is_x2(K)) {
    const LaneMask hi = cmp_mask<K>(c, a, b, active, ftz, 1);
    write_pred(w, in.d[0], combine(op, lo, cv), active);
    write_pred(w, in.d[1], combine(op, hi, cv), active);
  } else {
    write_pred(w, in.d[0], combine(op, lo, cv), active);
    write_pred(w, in.d[1], combine(op, ~lo, cv), active);
  }
}

// set: in.type is the destination type; `one` the value written for true
// (per half for packed comparisons).
template <Kind K>
void h_set(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const Cmp c = static_cast<Cmp>(in.aux & 0xff);
  const BoolOp op = static_cast<BoolOp>(in.aux2 & 0xff);
  const bool ftz = (in.aux2 & kCmpFtz) != 0;
  const uint64_t one = in.offset;  // true value, stashed by the lowerer
  const LaneMask cv = op == BoolOp::None ? 0 : w.pred(in.s[2]);
  const LaneMask lo = combine(op, cmp_mask<K>(c, a, b, active, ftz, 0), cv);
  const LaneMask hi = is_x2(K) ? combine(op, cmp_mask<K>(c, a, b, active, ftz, 1), cv) : 0;
  for_lanes(active, [&](int l) {
    uint64_t r = ((lo >> l) & 1) ? one : 0;
    if constexpr (is_x2(K)) r |= (((hi >> l) & 1) ? one : 0) << 16;
    d[l] = r;
  });
}

Handler pick_setp(Kind k) {
  switch (k) {
    case Kind::F32: return h_setp<Kind::F32>;
    case Kind::F64: return h_setp<Kind::F64>;
    case Kind::F16: return h_setp<Kind::F16>;
    case Kind::BF16: return h_setp<Kind::BF16>;
    case Kind::F16x2: return h_setp<Kind::F16x2>;
    case Kind::BF16x2: return h_setp<Kind::BF16x2>;
  }
  return nullptr;
}
Handler pick_set(Kind k) {
  switch (k) {
    case Kind::F32: return h_set<Kind::F32>;
    case Kind::F64: return h_set<Kind::F64>;
    case Kind::F16: return h_set<Kind::F16>;
    case Kind::BF16: return h_set<Kind::BF16>;
    case Kind::F16x2: return h_set<Kind::F16x2>;
    case Kind::BF16x2: return h_set<Kind::BF16x2>;
  }
  return nullptr;
}

bool kind_of(ptx::Type t, Kind* k) {
  switch (t) {
    case ptx::Type::F32: *k = Kind::F32; return true;
    case ptx::Type::F64: *k = Kind::F64; return true;
    case ptx::Type::F16: *k = Kind::F16; return true;
    case ptx::Type::BF16: *k = Kind::BF16; return true;
    case ptx::Type::F16x2: *k = Kind::F16x2; return true;
    case ptx::Type::BF16x2: *k = Kind::BF16x2; return true;
    default: return false;
  }
}

bool pred_or_sink(const ptx::Operand& op, LowerContext& ctx, LOperand* out) {
  if (op.kind == ptx::Operand::Kind::Sink) {
    *out = LOperand{};
    return true;
  }
  return ctx.pred(op, out);
}

}  // namespace
}  // namespace fl

bool lower_float_compare(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  using namespace fl;
  static constexpr struct { const char* n; Cmp c; } kCmps[] = {
      {"eq", Cmp::Eq},   {"ne", Cmp::Ne},   {"lt", Cmp::Lt},   {"le", Cmp::Le},   {"gt", Cmp::Gt},
      {"ge", Cmp::Ge},   {"equ", Cmp::Equ}, {"neu", Cmp::Neu}, {"ltu", Cmp::Ltu}, {"leu", Cmp::Leu},
      {"gtu", Cmp::Gtu}, {"geu", Cmp::Geu}, {"num", Cmp::Num}, {"nan", Cmp::Nan},
  };
  const std::string name = full_opcode(in);
  const bool is_setp = in.opcode == "setp";
  if (!is_setp && in.opcode != "set") return ctx.fail(in, "instruction " + name + " (not a float comparison)");
  const Mods m = decode_mods(in);
  if (m.rnd || m.irnd || (m.flags & ~kFtz)) return ctx.fail(in, "modifier combination " + name);
  std::optional<Cmp> cmp;
  BoolOp bop = BoolOp::None;
  for (const auto& o : m.others) {
    bool known = false;
    for (const auto& e : kCmps)
      if (o == e.n && !cmp) {
        cmp = e.c;
        known = true;
      }
    if (!known && bop == BoolOp::None && cmp) {
      if (o == "and") bop = BoolOp::And, known = true;
      else if (o == "or") bop = BoolOp::Or, known = true;
      else if (o == "xor") bop = BoolOp::Xor, known = true;
    }
    if (!known) return ctx.fail(in, "modifier ." + o + " on " + name);
  }
  if (!cmp) return ctx.fail(in, "comparison operator missing in " + name);
  if (m.types.size() != (is_setp ? 1u : 2u)) return ctx.fail(in, "types of " + name);
  const ptx::Type st = m.types.back();
  Kind k;
  if (!kind_of(st, &k)) return ctx.fail(in, "comparison type of " + name);
  if ((m.flags & kFtz) && (k == Kind::F64 || k == Kind::BF16 || k == Kind::BF16x2))
    return ctx.fail(in, "modifier .ftz on " + name);

  out.type = st;
  out.aux = static_cast<uint32_t>(*cmp);
  out.aux2 = static_cast<uint32_t>(bop) | ((m.flags & kFtz) ? kCmpFtz : 0);
  const size_t n = in.operands.size();
  const size_t nsrc = bop == BoolOp::None ? 2 : 3;
  if (n == 0) return ctx.fail(in, "operand count of " + name);
  size_t first_src;
  if (is_setp) {
    if (!pred_or_sink(in.operands[0], ctx, &out.d[0])) return false;
    out.nd = 1;
    if (!in.operands[0].pipe.empty()) {
      ptx::Operand q;
      q.kind = ptx::Operand::Kind::Register;
      q.name = in.operands[0].pipe;
      if (q.name == "_") q.kind = ptx::Operand::Kind::Sink;
      if (!pred_or_sink(q, ctx, &out.d[1])) return false;
      out.nd = 2;
      first_src = 1;
    } else if (n == nsrc + 2) {  // d, d2, a, b[, c] as separate operands
      if (!pred_or_sink(in.operands[1], ctx, &out.d[1])) return false;
      out.nd = 2;
      first_src = 2;
    } else {
      first_src = 1;
    }
    if ((k == Kind::F16x2 || k == Kind::BF16x2) && out.nd != 2)
      return ctx.fail(in, name + " needs two destination predicates (p|q)");
    out.fn = pick_setp(k);
  } else {
    const ptx::Type dt = m.types.front();
    uint64_t one;
    switch (dt) {
      case ptx::Type::U32: case ptx::Type::S32: case ptx::Type::B32:
        one = (k == Kind::F16x2 || k == Kind::BF16x2) ? 0xffff : 0xffffffff;
        break;
      case ptx::Type::F32: one = 0x3f800000; break;
      case ptx::Type::F16: case ptx::Type::F16x2: one = 0x3c00; break;
      case ptx::Type::BF16: case ptx::Type::BF16x2: one = 0x3f80; break;
      default: return ctx.fail(in, "destination type of " + name);
    }
    if (dt == ptx::Type::F32 && (k == Kind::F16x2 || k == Kind::BF16x2))
      return ctx.fail(in, "destination type of " + name);
    out.offset = static_cast<int64_t>(one);
    if (!ctx.dst(in.operands[0], dt, &out.d[0])) return false;
    out.nd = 1;
    first_src = 1;
    out.fn = pick_set(k);
  }
  if (n != first_src + nsrc) return ctx.fail(in, "operand count of " + name);
  if (!ctx.src(in.operands[first_src], st, &out.s[0])) return false;
  if (!ctx.src(in.operands[first_src + 1], st, &out.s[1])) return false;
  out.ns = 2;
  if (bop != BoolOp::None) {
    if (!ctx.pred(in.operands[first_src + 2], &out.s[2])) return false;
    out.ns = 3;
  }
  return true;
}

}  // namespace gpool::emu::exec
