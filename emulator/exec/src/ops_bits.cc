// Bitwise and bit-manipulation ops: and or xor not cnot (integer and .pred),
// shl shr shf lop3 popc clz brev bfe bfi bfind fns prmt dp4a dp2a bmsk, and
// the scalar video shifts vshl/vshr (without byte or half-word selectors).
#include "int_kernels.h"
#include "ops.h"

#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

template <class T> using U = std::make_unsigned_t<T>;

template <class T> struct And { static T f(T a, T b) { return a & b; } };
template <class T> struct Or { static T f(T a, T b) { return a | b; } };
template <class T> struct Xor { static T f(T a, T b) { return a ^ b; } };
template <class T> struct Not { static T f(T a) { return static_cast<T>(~a); } };
template <class T> struct CNot { static T f(T a) { return a == 0 ? 1 : 0; } };
template <class T> struct Shl {
  static T f(T a, T b) {
    uint32_t s = static_cast<uint32_t>(static_cast<U<T>>(b));
    return s >= sizeof(T) * 8 ? T{0} : static_cast<T>(static_cast<U<T>>(a) << s);
  }
};
template <class T> struct Shr {
  static T f(T a, T b) {
    uint32_t s = static_cast<uint32_t>(static_cast<U<T>>(b));
    if (s >= sizeof(T) * 8) return std::is_signed_v<T> && a < 0 ? T(-1) : T{0};
    return static_cast<T>(a >> s);
  }
};

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

template <template <class> class F>
struct BinPick {
  template <class T> struct P { static Handler get(const LInstr& o) { return bin_handler<T, T, F<T>>(o); } };
};
template <template <class> class F>
struct UnPick {
  template <class T> struct P { static Handler get(const LInstr&) { return &h_un<T, T, F<T>>; } };
};

// ---- predicate logic

template <int Op>
void h_pred_logic(const LInstr& in, WarpState& w, LaneMask act) {
  LaneMask a = w.pred(in.s[0]);
  LaneMask b = Op < 3 ? w.pred(in.s[1]) : 0;
  LaneMask r = Op == 0 ? (a & b) : Op == 1 ? (a | b) : Op == 2 ? (a ^ b) : ~a;
  LaneMask& d = w.preds[in.d[0].index];
  d = (d & ~act) | (r & act);
}

bool lower_logic(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Type t = last_type(in);
  bool unary = in.opcode == "not" || in.opcode == "cnot";
  if (in.operands.size() != (unary ? 2u : 3u) || in.modifiers.size() != 1) return bad(in, ctx);
  if (t == ptx::Type::Pred) {
    if (in.opcode == "cnot") return bad(in, ctx);
    if (!c.dst(in.operands[0], ptx::Type::Pred, &out.d[0]) || out.d[0].kind != LOperand::Kind::Pred) return bad(in, ctx);
    for (size_t i = 1; i < in.operands.size(); ++i)
      if (!c.pred(in.operands[i], &out.s[i - 1])) return bad(in, ctx);
    out.fn = in.opcode == "and" ? &h_pred_logic<0> : in.opcode == "or" ? &h_pred_logic<1>
             : in.opcode == "xor" ? &h_pred_logic<2> : &h_pred_logic<3>;
    return true;
  }
  if (t != ptx::Type::B16 && t != ptx::Type::B32 && t != ptx::Type::B64 && t != ptx::Type::U16 &&
      t != ptx::Type::U32 && t != ptx::Type::U64 && t != ptx::Type::S16 && t != ptx::Type::S32 &&
      t != ptx::Type::S64)
    return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], t, &out.d[0])) return bad(in, ctx);
  for (size_t i = 1; i < in.operands.size(); ++i)
    if (!c.src(in.operands[i], t, &out.s[i - 1])) return bad(in, ctx);
  out.nd = 1;
  out.ns = static_cast<uint8_t>(in.operands.size() - 1);
  const std::string& o = in.opcode;
  if (o == "and") out.fn = by_int_type<BinPick<And>::P>(t, out, false);
  else if (o == "or") out.fn = by_int_type<BinPick<Or>::P>(t, out, false);
  else if (o == "xor") out.fn = by_int_type<BinPick<Xor>::P>(t, out, false);
  else if (o == "not") out.fn = by_int_type<UnPick<Not>::P>(t, out, false);
  else out.fn = by_int_type<UnPick<CNot>::P>(t, out, false);
  return out.fn != nullptr;
}

bool lower_shift(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Type t = last_type(in);
  uint32_t sz = ptx::type_size(t);
  if (in.operands.size() != 3 || in.modifiers.size() != 1 || sz < 2 || sz > 8 || is_float_type(t)) return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], t, &out.d[0]) || !c.src(in.operands[1], t, &out.s[0]) ||
      !c.src(in.operands[2], ptx::Type::U32, &out.s[1]))
    return bad(in, ctx);
  out.nd = 1;
  out.ns = 2;
  if (in.opcode == "shl") out.fn = by_int_type<BinPick<Shl>::P>(t, out, false);
  else out.fn = by_int_type<BinPick<Shr>::P>(t, out, true);  // .b and .u shift logically, .s arithmetically
  return out.fn != nullptr;
}

// ---- single-source bit counts

template <class T> struct Popc { static uint32_t f(T a) { return static_cast<uint32_t>(std::popcount(static_cast<U<T>>(a))); } };
template <class T> struct Clz { static uint32_t f(T a) { return static_cast<uint32_t>(std::countl_zero(static_cast<U<T>>(a))); } };
template <class T> struct Brev {
  static T f(T a) {
    U<T> x = static_cast<U<T>>(a), r = 0;
    for (size_t i = 0; i < sizeof(T) * 8; ++i) r = static_cast<U<T>>((r << 1) | ((x >> i) & 1));
    return static_cast<T>(r);
  }
};
template <class T> struct Bfind {
  static uint32_t f(T a) {
    U<T> x = static_cast<U<T>>(a);
    if (std::is_signed_v<T> && a < 0) x = static_cast<U<T>>(~x);
    if (x == 0) return 0xffffffffu;
    return static_cast<uint32_t>(sizeof(T) * 8 - 1 - std::countl_zero(x));
  }
};
template <class T> struct BfindShift {
  static uint32_t f(T a) {
    uint32_t r = Bfind<T>::f(a);
    return r == 0xffffffffu ? r : static_cast<uint32_t>(sizeof(T) * 8 - 1 - r);
  }
};

bool lower_bitcount(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Type t = last_type(in);
  uint32_t sz = ptx::type_size(t);
  if (in.operands.size() != 2 || (sz != 4 && sz != 8)) return bad(in, ctx);
  const std::string& o = in.opcode;
  bool shiftamt = has_mod(in, "shiftamt");
  if (in.modifiers.size() != (shiftamt ? 2u : 1u)) return bad(in, ctx);
  ptx::Type dt = o == "brev" ? t : ptx::Type::U32;
  if (!c.dst_reg(in.operands[0], dt, &out.d[0]) || !c.src(in.operands[1], t, &out.s[0])) return bad(in, ctx);
  out.nd = out.ns = 1;
  bool s = is_signed_type(t);
  if (o == "popc") out.fn = sz == 4 ? &h_un<uint32_t, uint32_t, Popc<uint32_t>> : &h_un<uint64_t, uint32_t, Popc<uint64_t>>;
  else if (o == "clz") out.fn = sz == 4 ? &h_un<uint32_t, uint32_t, Clz<uint32_t>> : &h_un<uint64_t, uint32_t, Clz<uint64_t>>;
  else if (o == "brev") out.fn = sz == 4 ? &h_un<uint32_t, uint32_t, Brev<uint32_t>> : &h_un<uint64_t, uint64_t, Brev<uint64_t>>;
  else if (shiftamt)
    out.fn = sz == 4 ? (s ? &h_un<int32_t, uint32_t, BfindShift<int32_t>> : &h_un<uint32_t, uint32_t, BfindShift<uint32_t>>)
                     : (s ? &h_un<int64_t, uint32_t, BfindShift<int64_t>> : &h_un<uint64_t, uint32_t, BfindShift<uint64_t>>);
  else
    out.fn = sz == 4 ? (s ? &h_un<int32_t, uint32_t, Bfind<int32_t>> : &h_un<uint32_t, uint32_t, Bfind<uint32_t>>)
                     : (s ? &h_un<int64_t, uint32_t, Bfind<int64_t>> : &h_un<uint64_t, uint32_t, Bfind<uint64_t>>);
  return true;
}

// ---- per-lane generic handlers for the multi-operand bit ops

template <class T>
void h_bfe(const LInstr& in, WarpState& w, LaneMask act) {
  constexpr uint32_t width = sizeof(T) * 8;
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    U<T> a = static_cast<U<T>>(w.get(in.s[0], l));
    uint32_t pos = static_cast<uint32_t>(w.get(in.s[1], l)) & 0xff;
    uint32_t len = static_cast<uint32_t>(w.get(in.s[2], l)) & 0xff;
    uint32_t msb = width - 1;
    bool sbit = false;
    if (std::is_signed_v<T> && len != 0) {
      uint32_t top = std::min(pos + len - 1, msb);
      sbit = (a >> top) & 1;
    }
    U<T> r = 0;
    for (uint32_t i = 0; i < width; ++i) {
      bool bit = (i < len && pos + i <= msb) ? ((a >> (pos + i)) & 1) : sbit;
      r |= static_cast<U<T>>(static_cast<U<T>>(bit) << i);
    }
    d[l] = static_cast<uint64_t>(r);
  }
}

template <class T>
void h_bfi(const LInstr& in, WarpState& w, LaneMask act) {
  constexpr uint32_t width = sizeof(T) * 8;
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    T a = static_cast<T>(w.get(in.s[0], l)), b = static_cast<T>(w.get(in.s[1], l));
    uint32_t pos = static_cast<uint32_t>(w.get(in.s[2], l)) & 0xff;
    uint32_t len = static_cast<uint32_t>(w.get(in.s[3], l)) & 0xff;
    T r = b;
    for (uint32_t i = 0; i < len && pos + i < width; ++i) {
      T bit = static_cast<T>(T{1} << (pos + i));
      r = ((a >> i) & 1) ? (r | bit) : (r & static_cast<T>(~bit));
    }
    d[l] = static_cast<uint64_t>(r);
  }
}

void h_fns(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint32_t mask = static_cast<uint32_t>(w.get(in.s[0], l));
    uint32_t base = static_cast<uint32_t>(w.get(in.s[1], l));
    int32_t offset = static_cast<int32_t>(w.get(in.s[2], l));
    uint32_t result = 0xffffffffu;
    if (base < 32) {
      if (offset == 0) {
        if ((mask >> base) & 1) result = base;
      } else if (offset > 0) {
        int n = offset;
        for (uint32_t i = base; i < 32; ++i)
          if (((mask >> i) & 1) && --n == 0) { result = i; break; }
      } else {
        int n = -offset;
        for (int i = static_cast<int>(base); i >= 0; --i)
          if (((mask >> i) & 1) && --n == 0) { result = static_cast<uint32_t>(i); break; }
      }
    }
    d[l] = result;
  }
}

// prmt modes: aux = 0 default, 1 f4e, 2 b4e, 3 rc8, 4 ecl, 5 ecr, 6 rc16
void h_prmt(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t x = (w.get(in.s[0], l) & 0xffffffffu) | ((w.get(in.s[1], l) & 0xffffffffu) << 32);
    uint32_t c = static_cast<uint32_t>(w.get(in.s[2], l));
    auto byte = [&](uint32_t i) { return static_cast<uint32_t>((x >> (8 * (i & 7))) & 0xff); };
    uint32_t r = 0;
    uint32_t sel[4];
    switch (in.aux) {
      case 0:
        for (int i = 0; i < 4; ++i) {
          uint32_t s = (c >> (4 * i)) & 0xf;
          uint32_t b = byte(s & 7);
          if (s & 8) b = (b & 0x80) ? 0xff : 0;
          r |= b << (8 * i);
        }
        d[l] = r;
        continue;
      case 1: { uint32_t s = c & 3; for (uint32_t i = 0; i < 4; ++i) sel[i] = (s + i) & 7; break; }
      case 2: { uint32_t s = c & 3; for (uint32_t i = 0; i < 4; ++i) sel[i] = (s - i) & 7; break; }
      case 3: { uint32_t s = c & 3; for (auto& v : sel) v = s; break; }
      case 4: { uint32_t s = c & 3; for (uint32_t i = 0; i < 4; ++i) sel[i] = i <= s ? s : i; break; }
      case 5: { uint32_t s = c & 3; for (uint32_t i = 0; i < 4; ++i) sel[i] = i >= s ? s : i; break; }
      default: { uint32_t s = c & 1; sel[0] = sel[2] = 2 * s; sel[1] = sel[3] = 2 * s + 1; break; }
    }
    for (int i = 0; i < 4; ++i) r |= byte(sel[i]) << (8 * i);
    d[l] = r;
  }
}

// shf: aux bit0 = right, bit1 = clamp
template <bool Right, bool Clamp>
void h_shf(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t x = (w.get(in.s[0], l) & 0xffffffffu) | ((w.get(in.s[1], l) & 0xffffffffu) << 32);
    uint32_t n = static_cast<uint32_t>(w.get(in.s[2], l));
    n = Clamp ? std::min(n, 32u) : (n & 31);
    d[l] = Right ? static_cast<uint32_t>(x >> n) : static_cast<uint32_t>((x << n) >> 32);
  }
}

// bmsk.{clamp,wrap}.b32 d, a, b: a mask of b ones starting at bit a. .wrap
// takes a and b modulo 32, .clamp limits them to 32; bits past 31 drop out.
template <bool Clamp>
void h_bmsk(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint32_t a = static_cast<uint32_t>(w.get(in.s[0], l)), b = static_cast<uint32_t>(w.get(in.s[1], l));
    if (Clamp) {
      a = std::min(a, 32u);
      b = std::min(b, 32u);
    } else {
      a &= 31;
      b &= 31;
    }
    const uint64_t ones = (uint64_t{1} << b) - 1;  // b <= 32
    d[l] = static_cast<uint32_t>(ones << a);        // a <= 32, bits past 31 drop out
  }
}

// vshl/vshr.dtype.atype.u32{.sat}.mode{.op2} d, a, b{, c} (PTX ISA "Scalar video
// instructions"): a is sign- or zero-extended per atype, b is limited to 32 (.clamp) or taken
// modulo 32 (.wrap), the shift is exact, .sat clamps the result to dtype's range, then
// .add/.min/.max combine it with c (compared as dtype), keeping the low 32 bits.
// aux: kVshSigned (atype) | kVshDSigned | kVshSat | kVshClamp | kVshRight; aux2: op2.
constexpr uint32_t kVshSigned = 1, kVshDSigned = 2, kVshSat = 4, kVshClamp = 8, kVshRight = 16;
constexpr uint32_t kOp2None = 0, kOp2Add = 1, kOp2Min = 2, kOp2Max = 3;

void h_vsh(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  const uint32_t f = in.aux;
  for (LaneMask m = act; m; m &= m - 1) {
    const int l = std::countr_zero(m);
    const auto a = static_cast<uint32_t>(w.get(in.s[0], l));
    uint32_t n = static_cast<uint32_t>(w.get(in.s[1], l));
    n = (f & kVshClamp) ? std::min(n, 32u) : (n & 31);
    const __int128 ta = (f & kVshSigned) ? static_cast<__int128>(static_cast<int32_t>(a)) : static_cast<__int128>(a);
    // n <= 32 and |ta| < 2^32: the exact shifted value fits in 65 bits.
    __int128 tmp = (f & kVshRight) ? (ta >> n) : (ta * (static_cast<__int128>(1) << n));
    if (f & kVshSat) {
      const __int128 lo = (f & kVshDSigned) ? static_cast<__int128>(INT32_MIN) : 0;
      const __int128 hi = (f & kVshDSigned) ? static_cast<__int128>(INT32_MAX) : static_cast<__int128>(UINT32_MAX);
      tmp = std::clamp(tmp, lo, hi);
    }
    auto r = static_cast<uint32_t>(static_cast<uint64_t>(tmp));
    if (in.aux2 != kOp2None) {
      const auto c = static_cast<uint32_t>(w.get(in.s[2], l));
      const bool sgn = (f & kVshDSigned) != 0;
      const bool less = sgn ? static_cast<int32_t>(r) < static_cast<int32_t>(c) : r < c;
      if (in.aux2 == kOp2Add) r += c;
      else if (in.aux2 == kOp2Min) r = less ? r : c;
      else r = less ? c : r;
    }
    d[l] = r;
  }
}

void h_lop3(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  uint32_t lut = in.aux;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint32_t a = static_cast<uint32_t>(w.get(in.s[0], l)), b = static_cast<uint32_t>(w.get(in.s[1], l)),
             c = static_cast<uint32_t>(w.get(in.s[2], l));
    uint32_t r = 0;
    if (lut & 0x01) r |= ~a & ~b & ~c;
    if (lut & 0x02) r |= ~a & ~b & c;
    if (lut & 0x04) r |= ~a & b & ~c;
    if (lut & 0x08) r |= ~a & b & c;
    if (lut & 0x10) r |= a & ~b & ~c;
    if (lut & 0x20) r |= a & ~b & c;
    if (lut & 0x40) r |= a & b & ~c;
    if (lut & 0x80) r |= a & b & c;
    d[l] = r;
  }
}

// dp4a/dp2a: aux bit0 = a signed, bit1 = b signed, bit2 = dp2a .hi
template <bool Dp4>
void h_dp(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  bool as = in.aux & 1, bs = in.aux & 2, hi = in.aux & 4;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint32_t a = static_cast<uint32_t>(w.get(in.s[0], l)), b = static_cast<uint32_t>(w.get(in.s[1], l));
    int64_t acc = (as || bs) ? static_cast<int64_t>(static_cast<int32_t>(w.get(in.s[2], l)))
                             : static_cast<int64_t>(static_cast<uint32_t>(w.get(in.s[2], l)));
    for (int i = 0; i < (Dp4 ? 4 : 2); ++i) {
      int64_t x, y;
      if (Dp4) {
        uint32_t xa = (a >> (8 * i)) & 0xff;
        x = as ? static_cast<int8_t>(xa) : static_cast<int64_t>(xa);
      } else {
        uint32_t xa = (a >> (16 * i)) & 0xffff;
        x = as ? static_cast<int16_t>(xa) : static_cast<int64_t>(xa);
      }
      uint32_t yb = (b >> (8 * (Dp4 ? i : i + (hi ? 2 : 0)))) & 0xff;
      y = bs ? static_cast<int8_t>(yb) : static_cast<int64_t>(yb);
      acc += x * y;
    }
    d[l] = static_cast<uint32_t>(acc);
  }
}

bool lower_multi(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string& o = in.opcode;
  ptx::Type t = last_type(in);
  size_t nsrc = in.operands.size() - 1;
  if (in.operands.size() < 2) return bad(in, ctx);
  ptx::Type st = t;
  if (o == "dp4a" || o == "dp2a") st = ptx::Type::B32;
  if (!c.dst_reg(in.operands[0], st, &out.d[0])) return bad(in, ctx);
  for (size_t i = 0; i < nsrc; ++i) {
    ptx::Type ti = st;
    if ((o == "bfe" && i > 0) || (o == "bfi" && i > 1) || o == "fns" || o == "shf" || o == "prmt") ti = ptx::Type::B32;
    if (o == "lop3" && i == 3) {
      if (in.operands[4].kind != ptx::Operand::Kind::IntImm) return bad(in, ctx);
      out.aux = static_cast<uint32_t>(in.operands[4].ivalue) & 0xff;
      nsrc = 3;
      break;
    }
    if (!c.src(in.operands[1 + i], ti, &out.s[i])) return bad(in, ctx);
  }
  out.nd = 1;
  out.ns = static_cast<uint8_t>(nsrc);
  uint32_t sz = ptx::type_size(t);
  if (o == "bfe" && nsrc == 3) {
    switch (t) {
      case ptx::Type::U32: case ptx::Type::B32: out.fn = &h_bfe<uint32_t>; break;
      case ptx::Type::S32: out.fn = &h_bfe<int32_t>; break;
      case ptx::Type::U64: case ptx::Type::B64: out.fn = &h_bfe<uint64_t>; break;
      case ptx::Type::S64: out.fn = &h_bfe<int64_t>; break;
      default: return bad(in, ctx);
    }
  } else if (o == "bfi" && nsrc == 4) {
    out.fn = sz == 4 ? &h_bfi<uint32_t> : sz == 8 ? &h_bfi<uint64_t> : nullptr;
  } else if (o == "fns" && nsrc == 3) {
    out.fn = h_fns;
  } else if (o == "prmt" && nsrc == 3) {
    static const char* modes[] = {"f4e", "b4e", "rc8", "ecl", "ecr", "rc16"};
    for (auto& m : in.modifiers) {
      if (m == "b32") continue;
      bool found = false;
      for (uint32_t i = 0; i < 6; ++i)
        if (m == modes[i]) out.aux = i + 1, found = true;
      if (!found) return bad(in, ctx);
    }
    out.fn = h_prmt;
  } else if (o == "shf" && nsrc == 3) {
    bool right = has_mod(in, "r"), clamp = has_mod(in, "clamp");
    // shf.{l,r}.{wrap,clamp}.b32: exactly a direction, a mode and the type.
    if (right == has_mod(in, "l") || clamp == has_mod(in, "wrap") || in.modifiers.size() != 3 || t != ptx::Type::B32)
      return bad(in, ctx);
    out.fn = right ? (clamp ? &h_shf<true, true> : &h_shf<true, false>) : (clamp ? &h_shf<false, true> : &h_shf<false, false>);
  } else if (o == "lop3" && nsrc == 3) {
    out.fn = h_lop3;
  } else if ((o == "dp4a" || o == "dp2a") && nsrc == 3) {
    ptx::Type ta = first_type(in);
    out.aux = (is_signed_type(ta) ? 1 : 0) | (is_signed_type(t) ? 2 : 0) | (has_mod(in, "hi") ? 4 : 0);
    out.fn = o == "dp4a" ? &h_dp<true> : &h_dp<false>;
  }
  return out.fn != nullptr || bad(in, ctx);
}

bool lower_bmsk(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const bool clamp = has_mod(in, "clamp"), wrap = has_mod(in, "wrap");
  if (clamp == wrap || last_type(in) != ptx::Type::B32 || in.modifiers.size() != 2 || in.operands.size() != 3)
    return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], ptx::Type::B32, &out.d[0]) || !c.src(in.operands[1], ptx::Type::U32, &out.s[0]) ||
      !c.src(in.operands[2], ptx::Type::U32, &out.s[1]))
    return bad(in, ctx);
  out.nd = 1;
  out.ns = 2;
  out.fn = clamp ? &h_bmsk<true> : &h_bmsk<false>;
  return true;
}

bool lower_vsh(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const auto& m = in.modifiers;
  // dtype atype u32 [sat] mode [op2]
  if (m.size() < 4) return bad(in, ctx);
  const auto int32 = [](const std::string& x) { return x == "u32" || x == "s32"; };
  if (!int32(m[0]) || !int32(m[1]) || m[2] != "u32") return bad(in, ctx);
  size_t i = 3;
  uint32_t f = (m[1] == "s32" ? kVshSigned : 0) | (m[0] == "s32" ? kVshDSigned : 0) |
               (in.opcode == "vshr" ? kVshRight : 0);
  if (m[i] == "sat") f |= kVshSat, ++i;
  if (i >= m.size() || (m[i] != "clamp" && m[i] != "wrap")) return bad(in, ctx);
  if (m[i++] == "clamp") f |= kVshClamp;
  uint32_t op2 = kOp2None;
  if (i < m.size()) {
    if (m[i] == "add") op2 = kOp2Add;
    else if (m[i] == "min") op2 = kOp2Min;
    else if (m[i] == "max") op2 = kOp2Max;
    else return bad(in, ctx);
    ++i;
  }
  // Without .op2 a fourth operand would be a data merge (d.dsel), which is not emulated.
  if (i != m.size() || in.operands.size() != (op2 == kOp2None ? 3u : 4u)) return bad(in, ctx);
  auto& c = static_cast<LowerCtx&>(ctx);
  if (!c.dst_reg(in.operands[0], ptx::Type::B32, &out.d[0])) return bad(in, ctx);
  for (size_t k = 1; k < in.operands.size(); ++k)
    if (!c.src(in.operands[k], ptx::Type::U32, &out.s[k - 1])) return bad(in, ctx);
  out.nd = 1;
  out.ns = static_cast<uint8_t>(in.operands.size() - 1);
  out.aux = f;
  out.aux2 = op2;
  out.fn = h_vsh;
  return true;
}

}  // namespace

void register_bit_ops(OpTable& t) {
  t.add("vshl", lower_vsh);
  t.add("vshr", lower_vsh);
  t.add("bmsk", lower_bmsk);
  for (const char* o : {"and", "or", "xor", "not", "cnot"}) t.add(o, lower_logic);
  t.add("shl", lower_shift);
  t.add("shr", lower_shift);
  for (const char* o : {"popc", "clz", "brev", "bfind"}) t.add(o, lower_bitcount);
  for (const char* o : {"bfe", "bfi", "fns", "prmt", "shf", "lop3", "dp4a", "dp2a"}) t.add(o, lower_multi);
}

}  // namespace gpool::emu::exec
