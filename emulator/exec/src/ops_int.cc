// Integer arithmetic: add sub mul mad (lo/hi/wide) mul24 mad24 div rem abs
// neg min max sad, and the carry chain add.cc addc sub.cc subc mad.cc madc.
// Float-typed forms of the shared opcodes go to the float family (OpTable's
// float overlay).
#include "int_kernels.h"
#include "ops.h"

#include <fmt/format.h>
#include <limits>

namespace gpool::emu::exec {
namespace {

template <class T> using U = std::make_unsigned_t<T>;
template <class T> struct Wider;
template <> struct Wider<uint16_t> { using type = uint32_t; };
template <> struct Wider<int16_t> { using type = int32_t; };
template <> struct Wider<uint32_t> { using type = uint64_t; };
template <> struct Wider<int32_t> { using type = int64_t; };
template <> struct Wider<uint64_t> { using type = unsigned __int128; };
template <> struct Wider<int64_t> { using type = __int128; };

template <class T> struct Add { static T f(T a, T b) { return static_cast<T>(static_cast<U<T>>(a) + static_cast<U<T>>(b)); } };
template <class T> struct Sub { static T f(T a, T b) { return static_cast<T>(static_cast<U<T>>(a) - static_cast<U<T>>(b)); } };
template <class T> struct MulLo { static T f(T a, T b) { return static_cast<T>(static_cast<U<T>>(a) * static_cast<U<T>>(b)); } };
template <class T> struct MulHi {
  static T f(T a, T b) {
    using W = typename Wider<T>::type;
    return static_cast<T>((static_cast<W>(a) * static_cast<W>(b)) >> (sizeof(T) * 8));
  }
};
template <class T> struct MulWide {
  static typename Wider<T>::type f(T a, T b) {
    using W = typename Wider<T>::type;
    return static_cast<W>(a) * static_cast<W>(b);
  }
};
template <class T> struct AddSat {
  static T f(T a, T b) {
    int64_t r = static_cast<int64_t>(a) + static_cast<int64_t>(b);
    return static_cast<T>(std::clamp<int64_t>(r, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
  }
};
template <class T> struct SubSat {
  static T f(T a, T b) {
    int64_t r = static_cast<int64_t>(a) - static_cast<int64_t>(b);
    return static_cast<T>(std::clamp<int64_t>(r, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
  }
};
template <class T> struct Div {
  static T f(T a, T b) {
    if (b == 0) return static_cast<T>(~U<T>{0});
    if constexpr (std::is_signed_v<T>)
      if (b == -1) return static_cast<T>(U<T>{0} - static_cast<U<T>>(a));
    return a / b;
  }
};
template <class T> struct Rem {
  static T f(T a, T b) {
    if (b == 0) return a;
    if constexpr (std::is_signed_v<T>)
      if (b == -1) return 0;
    return a % b;
  }
};
template <class T> struct Min { static T f(T a, T b) { return a < b ? a : b; } };
template <class T> struct Max { static T f(T a, T b) { return a > b ? a : b; } };
template <class T> struct Abs { static T f(T a) { return a < 0 ? static_cast<T>(U<T>{0} - static_cast<U<T>>(a)) : a; } };
template <class T> struct Neg { static T f(T a) { return static_cast<T>(U<T>{0} - static_cast<U<T>>(a)); } };
template <class T> struct MadLo { static T f(T a, T b, T c) { return Add<T>::f(MulLo<T>::f(a, b), c); } };
template <class T> struct MadHi { static T f(T a, T b, T c) { return Add<T>::f(MulHi<T>::f(a, b), c); } };
template <class T> struct Sad {
  static T f(T a, T b, T c) {
    U<T> diff = a < b ? static_cast<U<T>>(b) - static_cast<U<T>>(a) : static_cast<U<T>>(a) - static_cast<U<T>>(b);
    return static_cast<T>(static_cast<U<T>>(c) + diff);
  }
};
template <class T> struct Mul24 {
  static int64_t ext(T a) {
    if constexpr (std::is_signed_v<T>) return static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(a) << 8) >> 8);
    else return static_cast<int64_t>(static_cast<uint32_t>(a) & 0xffffffu);
  }
  static int64_t prod(T a, T b) { return ext(a) * ext(b); }
};
template <class T> struct Mul24Lo { static T f(T a, T b) { return static_cast<T>(static_cast<uint64_t>(Mul24<T>::prod(a, b))); } };
template <class T> struct Mul24Hi { static T f(T a, T b) { return static_cast<T>(static_cast<uint64_t>(Mul24<T>::prod(a, b)) >> 16); } };
template <class T> struct Mad24Lo { static T f(T a, T b, T c) { return Add<T>::f(Mul24Lo<T>::f(a, b), c); } };
template <class T> struct Mad24Hi { static T f(T a, T b, T c) { return Add<T>::f(Mul24Hi<T>::f(a, b), c); } };

template <template <class> class F>
struct BinPick {
  template <class T> struct P { static Handler get(const LInstr& o) { return bin_handler<T, T, F<T>>(o); } };
};
template <template <class> class F>
struct UnPick {
  template <class T> struct P { static Handler get(const LInstr&) { return &h_un<T, T, F<T>>; } };
};
template <template <class> class F>
struct TernPick {
  template <class T> struct P { static Handler get(const LInstr&) { return &h_tern<T, T, F<T>>; } };
};

template <class T> struct MadWideF {
  static typename Wider<T>::type f(typename Wider<T>::type a, typename Wider<T>::type b, typename Wider<T>::type c) {
    return static_cast<typename Wider<T>::type>(static_cast<T>(a)) * static_cast<typename Wider<T>::type>(static_cast<T>(b)) + c;
  }
};

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

// Operands d, a, b[, c] of type t (sources) into out.
bool operands(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, size_t nsrc, ptx::Type st, ptx::Type dt) {
  auto& c = static_cast<LowerCtx&>(ctx);
  if (in.operands.size() != nsrc + 1) return bad(in, ctx);
  if (!c.dst_reg(in.operands[0], dt, &out.d[0])) return bad(in, ctx);
  for (size_t i = 0; i < nsrc; ++i)
    if (!c.src(in.operands[1 + i], st, &out.s[i])) return bad(in, ctx);
  out.nd = 1;
  out.ns = static_cast<uint8_t>(nsrc);
  out.type = st;
  return true;
}

bool only_mods(const ptx::Instruction& in, std::initializer_list<const char*> allowed) {
  for (auto& m : in.modifiers) {
    if (ptx::type_from_name(m)) continue;
    bool ok = false;
    for (auto* a : allowed) ok |= m == a;
    if (!ok) return false;
  }
  return true;
}

bool is_int(ptx::Type t) { return !is_float_type(t) && t != ptx::Type::None && t != ptx::Type::Pred && ptx::type_size(t) >= 2 && ptx::type_size(t) <= 8; }

// ---- carry chain: add.cc addc sub.cc subc mad.lo.cc madc.{lo,hi}[.cc]

template <class T, int Op, bool UseCarry, bool SetCarry>
void h_carry(const LInstr& in, WarpState& w, LaneMask act) {
  using UT = U<T>;
  uint64_t* d = w.reg(in.d[0].index);
  LaneMask newc = 0;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    UT a = static_cast<UT>(w.get(in.s[0], l)), b = static_cast<UT>(w.get(in.s[1], l));
    UT cin = UseCarry ? ((w.carry >> l) & 1) : 0;
    UT r;
    bool cout;
    if constexpr (Op == 0) {  // add
      r = static_cast<UT>(a + b);
      cout = r < a;
      UT r2 = static_cast<UT>(r + cin);
      cout |= r2 < r;
      r = r2;
    } else if constexpr (Op == 1) {  // sub: a - b - borrow
      r = static_cast<UT>(a - b);
      cout = a < b;
      UT r2 = static_cast<UT>(r - cin);
      cout |= r < cin;
      r = r2;
    } else {  // mad: (a*b).lo or .hi + c + carry; aux = 1 for hi
      using W = typename Wider<UT>::type;
      W p = static_cast<W>(a) * static_cast<W>(b);
      UT part = in.aux ? static_cast<UT>(p >> (sizeof(UT) * 8)) : static_cast<UT>(p);
      UT c = static_cast<UT>(w.get(in.s[2], l));
      r = static_cast<UT>(part + c);
      cout = r < part;
      UT r2 = static_cast<UT>(r + cin);
      cout |= r2 < r;
      r = r2;
    }
    d[l] = static_cast<uint64_t>(r);
    if (cout) newc |= 1u << l;
  }
  if (SetCarry) w.carry = (w.carry & ~act) | newc;
}

template <class T, int Op>
Handler carry_handler(bool use, bool set) {
  if (use && set) return &h_carry<T, Op, true, true>;
  if (use) return &h_carry<T, Op, true, false>;
  if (set) return &h_carry<T, Op, false, true>;
  return &h_carry<T, Op, false, false>;
}

bool lower_carry(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, int op, bool use) {
  bool set = has_mod(in, "cc");
  ptx::Type t = last_type(in);
  bool hi = has_mod(in, "hi");
  if (!only_mods(in, {"cc", "lo", "hi"})) return bad(in, ctx);
  if (!operands(in, ctx, out, op == 2 ? 3 : 2, t, t)) return false;
  out.aux = hi ? 1 : 0;
  switch (ptx::type_size(t)) {
    case 4: out.fn = op == 0 ? carry_handler<uint32_t, 0>(use, set) : op == 1 ? carry_handler<uint32_t, 1>(use, set)
                                                                             : carry_handler<uint32_t, 2>(use, set);
      break;
    case 8: out.fn = op == 0 ? carry_handler<uint64_t, 0>(use, set) : op == 1 ? carry_handler<uint64_t, 1>(use, set)
                                                                             : carry_handler<uint64_t, 2>(use, set);
      break;
    default: return bad(in, ctx);
  }
  return true;
}

// ---- lowerers

bool lower_add_sub(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  bool add = in.opcode == "add";
  if (has_mod(in, "cc")) return lower_carry(in, ctx, out, add ? 0 : 1, false);
  ptx::Type t = last_type(in);
  if (!is_int(t) || !only_mods(in, {"sat"})) return bad(in, ctx);
  if (!operands(in, ctx, out, 2, t, t)) return false;
  if (has_mod(in, "sat")) {
    if (t != ptx::Type::S32) return bad(in, ctx);
    out.fn = add ? bin_handler<int32_t, int32_t, AddSat<int32_t>>(out) : bin_handler<int32_t, int32_t, SubSat<int32_t>>(out);
    return true;
  }
  out.fn = add ? by_int_type<BinPick<Add>::P>(t, out, false) : by_int_type<BinPick<Sub>::P>(t, out, false);
  return out.fn != nullptr;
}

bool lower_addc_subc(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_carry(in, ctx, out, in.opcode == "addc" ? 0 : 1, true);
}

template <class T>
Handler wide_handler(bool mad, const LInstr& out) {
  using W = typename Wider<T>::type;
  if constexpr (sizeof(T) == 8) {
    return nullptr;
  } else {
    if (mad) return &h_tern<W, W, MadWideF<T>>;
    return bin_handler<T, W, MulWide<T>>(out);  // defined for all inputs: lanes may be computed and blended
  }
}

bool lower_mul_mad(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  bool mad = in.opcode == "mad";
  if (mad && has_mod(in, "cc")) return lower_carry(in, ctx, out, 2, false);
  ptx::Type t = last_type(in);
  if (!is_int(t) || !only_mods(in, {"lo", "hi", "wide"})) return bad(in, ctx);
  bool hi = has_mod(in, "hi"), wide = has_mod(in, "wide");
  if (wide) {
    uint32_t sz = ptx::type_size(t);
    if (sz == 8) return bad(in, ctx);
    ptx::Type wt = sz == 2 ? (is_signed_type(t) ? ptx::Type::S32 : ptx::Type::U32)
                           : (is_signed_type(t) ? ptx::Type::S64 : ptx::Type::U64);
    auto& c = static_cast<LowerCtx&>(ctx);
    if (in.operands.size() != (mad ? 4u : 3u)) return bad(in, ctx);
    if (!c.dst_reg(in.operands[0], wt, &out.d[0]) || !c.src(in.operands[1], t, &out.s[0]) ||
        !c.src(in.operands[2], t, &out.s[1]) || (mad && !c.src(in.operands[3], wt, &out.s[2])))
      return bad(in, ctx);
    out.nd = 1;
    out.ns = mad ? 3 : 2;
    switch (t) {
      case ptx::Type::U16: out.fn = wide_handler<uint16_t>(mad, out); break;
      case ptx::Type::S16: out.fn = wide_handler<int16_t>(mad, out); break;
      case ptx::Type::U32: case ptx::Type::B32: out.fn = wide_handler<uint32_t>(mad, out); break;
      case ptx::Type::S32: out.fn = wide_handler<int32_t>(mad, out); break;
      default: return bad(in, ctx);
    }
    return out.fn != nullptr;
  }
  if (!operands(in, ctx, out, mad ? 3 : 2, t, t)) return false;
  if (mad) out.fn = hi ? by_int_type<TernPick<MadHi>::P>(t, out) : by_int_type<TernPick<MadLo>::P>(t, out, false);
  else out.fn = hi ? by_int_type<BinPick<MulHi>::P>(t, out) : by_int_type<BinPick<MulLo>::P>(t, out, false);
  return out.fn != nullptr;
}

bool lower_mul24(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  bool mad = in.opcode == "mad24";
  ptx::Type t = last_type(in);
  if ((t != ptx::Type::U32 && t != ptx::Type::S32) || !only_mods(in, {"lo", "hi"})) return bad(in, ctx);
  if (!operands(in, ctx, out, mad ? 3 : 2, t, t)) return false;
  bool hi = has_mod(in, "hi"), s = t == ptx::Type::S32;
  if (mad) out.fn = s ? (hi ? &h_tern<int32_t, int32_t, Mad24Hi<int32_t>> : &h_tern<int32_t, int32_t, Mad24Lo<int32_t>>)
                      : (hi ? &h_tern<uint32_t, uint32_t, Mad24Hi<uint32_t>> : &h_tern<uint32_t, uint32_t, Mad24Lo<uint32_t>>);
  else out.fn = s ? (hi ? &h_bin_any<int32_t, int32_t, Mul24Hi<int32_t>> : &h_bin_any<int32_t, int32_t, Mul24Lo<int32_t>>)
                  : (hi ? &h_bin_any<uint32_t, uint32_t, Mul24Hi<uint32_t>> : &h_bin_any<uint32_t, uint32_t, Mul24Lo<uint32_t>>);
  return true;
}

template <template <class> class F>
bool lower_simple_bin(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, bool signed_matters) {
  ptx::Type t = last_type(in);
  if (!is_int(t) || !only_mods(in, {})) return bad(in, ctx);
  if (!operands(in, ctx, out, 2, t, t)) return false;
  out.fn = by_int_type<BinPick<F>::template P>(t, out, signed_matters);
  return out.fn != nullptr;
}

bool lower_div(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  ptx::Type t = last_type(in);
  if (!is_int(t) || !only_mods(in, {})) return bad(in, ctx);
  if (!operands(in, ctx, out, 2, t, t)) return false;
  // Division must not see inactive lanes' operands: always the per-lane loop.
  switch (t) {
    case ptx::Type::U16: case ptx::Type::B16: out.fn = &h_bin_any<uint16_t, uint16_t, Div<uint16_t>>; break;
    case ptx::Type::S16: out.fn = &h_bin_any<int16_t, int16_t, Div<int16_t>>; break;
    case ptx::Type::U32: case ptx::Type::B32: out.fn = &h_bin_any<uint32_t, uint32_t, Div<uint32_t>>; break;
    case ptx::Type::S32: out.fn = &h_bin_any<int32_t, int32_t, Div<int32_t>>; break;
    case ptx::Type::U64: case ptx::Type::B64: out.fn = &h_bin_any<uint64_t, uint64_t, Div<uint64_t>>; break;
    case ptx::Type::S64: out.fn = &h_bin_any<int64_t, int64_t, Div<int64_t>>; break;
    default: return bad(in, ctx);
  }
  return true;
}

bool lower_rem(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  ptx::Type t = last_type(in);
  if (!is_int(t) || !only_mods(in, {})) return bad(in, ctx);
  if (!operands(in, ctx, out, 2, t, t)) return false;
  switch (t) {
    case ptx::Type::U16: case ptx::Type::B16: out.fn = &h_bin_any<uint16_t, uint16_t, Rem<uint16_t>>; break;
    case ptx::Type::S16: out.fn = &h_bin_any<int16_t, int16_t, Rem<int16_t>>; break;
    case ptx::Type::U32: case ptx::Type::B32: out.fn = &h_bin_any<uint32_t, uint32_t, Rem<uint32_t>>; break;
    case ptx::Type::S32: out.fn = &h_bin_any<int32_t, int32_t, Rem<int32_t>>; break;
    case ptx::Type::U64: case ptx::Type::B64: out.fn = &h_bin_any<uint64_t, uint64_t, Rem<uint64_t>>; break;
    case ptx::Type::S64: out.fn = &h_bin_any<int64_t, int64_t, Rem<int64_t>>; break;
    default: return bad(in, ctx);
  }
  return true;
}

bool lower_min(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_simple_bin<Min>(in, ctx, out, true); }
bool lower_max(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_simple_bin<Max>(in, ctx, out, true); }

bool lower_abs_neg(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  ptx::Type t = last_type(in);
  if (!is_signed_type(t) || ptx::type_size(t) < 2 || !only_mods(in, {})) return bad(in, ctx);
  if (!operands(in, ctx, out, 1, t, t)) return false;
  out.fn = in.opcode == "abs" ? by_int_type<UnPick<Abs>::P>(t, out) : by_int_type<UnPick<Neg>::P>(t, out);
  return out.fn != nullptr;
}

bool lower_sad(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  ptx::Type t = last_type(in);
  if (!is_int(t) || !only_mods(in, {})) return bad(in, ctx);
  if (!operands(in, ctx, out, 3, t, t)) return false;
  out.fn = by_int_type<TernPick<Sad>::P>(t, out);
  return out.fn != nullptr;
}

}  // namespace

void register_int_ops(OpTable& t) {
  t.add("add", lower_add_sub);
  t.add("sub", lower_add_sub);
  t.add("addc", lower_addc_subc);
  t.add("subc", lower_addc_subc);
  t.add("mul", lower_mul_mad);
  t.add("mad", lower_mul_mad);
  t.add("madc", [](const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_carry(in, ctx, out, 2, true); });
  t.add("mul24", lower_mul24);
  t.add("mad24", lower_mul24);
  t.add("div", lower_div);
  t.add("rem", lower_rem);
  t.add("min", lower_min);
  t.add("max", lower_max);
  t.add("abs", lower_abs_neg);
  t.add("neg", lower_abs_neg);
  t.add("sad", lower_sad);
}

}  // namespace gpool::emu::exec
