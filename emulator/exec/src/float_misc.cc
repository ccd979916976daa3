// Float opcodes other than the basic arithmetic: abs neg min max copysign
// testp rcp sqrt rsqrt sin cos lg2 ex2 tanh, on the types PTX allows.
//
// Accuracy: IEEE forms (rcp.rn, sqrt.rz, ...) are exact under the requested
// rounding. .approx forms are computed in double and rounded once, which is
// well inside the maximum errors the PTX ISA documents for each (e.g. sin.approx
// 2^-20.9 absolute, ex2.approx 2 ulp, tanh.approx 2^-11 relative), so programs
// see faithful results; they are not bit-identical to the hardware's
// approximations. NaN results are the format's canonical NaN.
//
// Owner: the float family (exec-float).
#include "float_family.h"

#include <cmath>
#include <limits>

namespace gpool::emu::exec::fl {
namespace {

enum class Un : uint8_t { Abs, Neg, Rcp, RcpApprox, Sqrt, SqrtApprox, Rsqrt, Sin, Cos, Lg2, Ex2, Tanh };

inline uint64_t canon(float r) { return r != r ? uint64_t{0x7fffffff} : fp::bits_of(r); }
inline uint64_t canon(double r) { return r != r ? uint64_t{0x7fffffffffffffff} : fp::bits_of(r); }
template <class T>
inline T load(uint64_t b) {
  if constexpr (sizeof(T) == 4) return fp::f32_from_bits(b);
  else return fp::f64_from_bits(b);
}

// Approximate functions are evaluated in double and rounded once to T.
template <class T, Un op>
inline T un_calc(T x) {
  const double v = static_cast<double>(x);
  if constexpr (op == Un::Rcp) return T(1) / x;
  if constexpr (op == Un::RcpApprox) return T(1) / x;
  if constexpr (op == Un::Sqrt || op == Un::SqrtApprox) return std::sqrt(x);
  if constexpr (op == Un::Rsqrt) return static_cast<T>(1.0 / std::sqrt(v));
  if constexpr (op == Un::Sin) return static_cast<T>(std::sin(v));
  if constexpr (op == Un::Cos) return static_cast<T>(std::cos(v));
  if constexpr (op == Un::Lg2) return static_cast<T>(std::log2(v));
  if constexpr (op == Un::Ex2) return static_cast<T>(std::exp2(v));
  if constexpr (op == Un::Tanh) return static_cast<T>(std::tanh(v));
  return x;
}

template <class T, Un op>
void h_un(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const bool ftz = (in.aux2 & kFtz) != 0;
  constexpr uint64_t sign = sizeof(T) == 4 ? 0x80000000ull : 0x8000000000000000ull;
  constexpr const fp::Format& F = sizeof(T) == 4 ? fp::kF32 : fp::kF64;
  if constexpr (op == Un::Abs || op == Un::Neg) {
    for_lanes(active, [&](int l) {
      uint64_t x = a[l];
      if (ftz) x = fp::flush_subnormal(F, x);
      d[l] = op == Un::Abs ? (x & ~sign) : (x ^ sign);
    });
  } else {
    HostRounding guard(static_cast<fp::Rnd>(in.aux));
    for_lanes(active, [&](int l) {
      T x = load<T>(a[l]);
      if (ftz) x = fp::ftz(x);
      T r = un_calc<T, op>(x);
      if (ftz) r = fp::ftz(r);
      d[l] = canon(r);
    });
  }
}

// Half-type unary ops: per 16-bit half, widened exactly and rounded once.
template <bool kBF, bool kX2, Un op>
void h_un_half(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const bool ftz = (in.aux2 & kFtz) != 0;
  constexpr const fp::Format& F = kBF ? fp::kBF16 : fp::kF16;
  auto one = [&](uint64_t h) -> uint64_t {
    if (ftz) h = fp::flush_subnormal(F, h);
    if constexpr (op == Un::Abs) return h & 0x7fff;
    if constexpr (op == Un::Neg) return h ^ 0x8000;
    const double v = kBF ? fp::bf16_bits_to_f32(h) : fp::f16_bits_to_f32(h);
    double r = v;
    if constexpr (op == Un::Ex2) r = std::exp2(v);
    if constexpr (op == Un::Tanh) r = std::tanh(v);
    uint64_t o = fp::convert(fp::kF64, F, fp::bits_of(r), fp::Rnd::RN);
    return ftz ? fp::flush_subnormal(F, o) : o;
  };
  for_lanes(active, [&](int l) {
    const uint64_t x = a[l];
    uint64_t r = one(x & 0xffff);
    if constexpr (kX2) r |= one((x >> 16) & 0xffff) << 16;
    d[l] = r;
  });
}

struct UnSpec {
  const char* opcode;
  Un op;
  Un approx_op;        // used with .approx (same as op when .approx is the only form)
  bool needs_approx;   // .approx is the only form (a missing .approx is accepted)
  bool rounding;       // IEEE form takes .rn/.rz/.rm/.rp
  bool f64;            // f64 allowed
  bool half;           // f16/f16x2/bf16/bf16x2 allowed
};

constexpr UnSpec kUnSpecs[] = {
    {"abs", Un::Abs, Un::Abs, false, false, true, true},
    {"neg", Un::Neg, Un::Neg, false, false, true, true},
    {"rcp", Un::Rcp, Un::RcpApprox, false, true, true, false},
    {"sqrt", Un::Sqrt, Un::SqrtApprox, false, true, true, false},
    {"rsqrt", Un::Rsqrt, Un::Rsqrt, true, false, true, false},
    {"sin", Un::Sin, Un::Sin, true, false, false, false},
    {"cos", Un::Cos, Un::Cos, true, false, false, false},
    {"lg2", Un::Lg2, Un::Lg2, true, false, false, false},
    {"ex2", Un::Ex2, Un::Ex2, true, false, false, true},
    {"tanh", Un::Tanh, Un::Tanh, true, false, false, true},
};

template <Un op>
Handler pick_un(ptx::Type t) {
  switch (t) {
    case ptx::Type::F32: return h_un<float, op>;
    case ptx::Type::F64: return h_un<double, op>;
    case ptx::Type::F16: return h_un_half<false, false, op>;
    case ptx::Type::F16x2: return h_un_half<false, true, op>;
    case ptx::Type::BF16: return h_un_half<true, false, op>;
    case ptx::Type::BF16x2: return h_un_half<true, true, op>;
    default: return nullptr;
  }
}

Handler pick_un(Un op, ptx::Type t) {
  switch (op) {
    case Un::Abs: return pick_un<Un::Abs>(t);
    case Un::Neg: return pick_un<Un::Neg>(t);
    case Un::Rcp: return pick_un<Un::Rcp>(t);
    case Un::RcpApprox: return pick_un<Un::RcpApprox>(t);
    case Un::Sqrt: return pick_un<Un::Sqrt>(t);
    case Un::SqrtApprox: return pick_un<Un::SqrtApprox>(t);
    case Un::Rsqrt: return pick_un<Un::Rsqrt>(t);
    case Un::Sin: return pick_un<Un::Sin>(t);
    case Un::Cos: return pick_un<Un::Cos>(t);
    case Un::Lg2: return pick_un<Un::Lg2>(t);
    case Un::Ex2: return pick_un<Un::Ex2>(t);
    case Un::Tanh: return pick_un<Un::Tanh>(t);
  }
  return nullptr;
}

bool lower_unary(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const UnSpec* spec = nullptr;
  for (const auto& s : kUnSpecs)
    if (in.opcode == s.opcode) spec = &s;
  const std::string name = full_opcode(in);
  if (!spec) return ctx.fail(in, "instruction " + name);
  const Mods m = decode_mods(in);
  if (m.types.size() != 1 || !is_float_type(m.types[0])) return ctx.fail(in, "type of " + name);
  if (!m.others.empty()) return ctx.fail(in, "modifier ." + m.others[0] + " on " + name);
  const ptx::Type t = m.types[0];
  const bool is_half = t != ptx::Type::F32 && t != ptx::Type::F64;
  if ((t == ptx::Type::F64 && !spec->f64) || (is_half && !spec->half))
    return ctx.fail(in, "type of " + name);
  const bool approx = (m.flags & kApprox) != 0;
  if (approx && !spec->needs_approx && spec->op == spec->approx_op)
    return ctx.fail(in, "modifier .approx on " + name);
  if (m.rnd && (!spec->rounding || approx || *m.rnd == fp::Rnd::RNA))
    return ctx.fail(in, "rounding modifier on " + name);
  if (m.irnd || (m.flags & ~(kFtz | kApprox))) return ctx.fail(in, "modifier combination " + name);
  // .ftz applies to f32 (and f16 abs/neg, bf16 ex2); f64 only in rcp/rsqrt .approx.ftz.f64.
  if ((m.flags & kFtz) && t == ptx::Type::F64 && !(approx && (spec->op == Un::Rcp || spec->op == Un::Rsqrt)))
    return ctx.fail(in, "modifier .ftz on " + name);
  if (spec->op == Un::Rcp && t == ptx::Type::F64 && approx && !(m.flags & kFtz))
    return ctx.fail(in, name + " (rcp.approx.f64 exists only as rcp.approx.ftz.f64)");
  const Un op = approx ? spec->approx_op : spec->op;
  out.type = t;
  out.aux = static_cast<uint32_t>(m.rnd.value_or(fp::Rnd::RN));
  out.aux2 = m.flags & kFtz;
  out.fn = pick_un(op, t);
  if (!out.fn) return ctx.fail(in, "type of " + name);
  return lower_dsrc(in, ctx, out, t, t, 1);
}

// ---- min / max ----------------------------------------------------------

// min/max on widened values. -0.0 orders below +0.0. A single NaN operand
// is ignored unless .NaN; .xorsign.abs compares magnitudes and gives the
// result the XOR of the operands' signs.
template <bool kMax, class T>
inline T minmax(T a, T b, uint32_t flags) {
  const bool an = a != a, bn = b != b;
  bool neg = false;
  if (flags & kXorSign) {
    neg = std::signbit(a) != std::signbit(b);
    a = std::fabs(a);
    b = std::fabs(b);
  }
  T r;
  if (an || bn) {
    if ((flags & kNaN) || (an && bn)) return std::numeric_limits<T>::quiet_NaN();
    r = an ? b : a;
  } else if (kMax) {
    r = (a > b || (a == b && !std::signbit(a))) ? a : b;
  } else {
    r = (a < b || (a == b && std::signbit(a))) ? a : b;
  }
  if (flags & kXorSign) r = neg ? -r : r;
  return r;
}

template <class T, bool kMax>
void h_minmax(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const bool three = in.ns == 3;
  const Src c = three ? src(w, in.s[2]) : a;
  const uint32_t flags = in.aux2;
  const bool ftz = (flags & kFtz) != 0;
  for_lanes(active, [&](int l) {
    T x = load<T>(a[l]), y = load<T>(b[l]);
    if (ftz) {
      x = fp::ftz(x);
      y = fp::ftz(y);
    }
    T r = minmax<kMax>(x, y, flags);
    if (three) {
      T z = load<T>(c[l]);
      if (ftz) z = fp::ftz(z);
      r = minmax<kMax>(r, z, flags & ~kXorSign);
    }
    d[l] = canon(r);
  });
}

template <bool kBF, bool kX2, bool kMax>
void h_minmax_half(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const uint32_t flags = in.aux2;
  constexpr const fp::Format& F = kBF ? fp::kBF16 : fp::kF16;
  auto one = [&](uint64_t x, uint64_t y) -> uint64_t {
    if (flags & kFtz) {
      x = fp::flush_subnormal(F, x);
      y = fp::flush_subnormal(F, y);
    }
    float fx = kBF ? fp::bf16_bits_to_f32(x) : fp::f16_bits_to_f32(x);
    float fy = kBF ? fp::bf16_bits_to_f32(y) : fp::f16_bits_to_f32(y);
    float r = minmax<kMax>(fx, fy, flags);
    return fp::convert(fp::kF32, F, fp::bits_of(r), fp::Rnd::RN);  // exact: r is a half value
  };
  for_lanes(active, [&](int l) {
    const uint64_t x = a[l], y = b[l];
    uint64_t r = one(x & 0xffff, y & 0xffff);
    if constexpr (kX2) r |= one((x >> 16) & 0xffff, (y >> 16) & 0xffff) << 16;
    d[l] = r;
  });
}

template <bool kMax>
bool lower_minmax(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  if (m.types.size() != 1 || !is_float_type(m.types[0])) return ctx.fail(in, "type of " + name);
  if (!m.others.empty()) return ctx.fail(in, "modifier ." + m.others[0] + " on " + name);
  const ptx::Type t = m.types[0];
  uint32_t allowed = kNaN | kXorSign | kAbs;
  if (t == ptx::Type::F32 || t == ptx::Type::F16 || t == ptx::Type::F16x2) allowed |= kFtz;
  if (t == ptx::Type::F64) allowed = 0;
  if (m.rnd || m.irnd || (m.flags & ~allowed)) return ctx.fail(in, "modifier combination " + name);
  if (((m.flags & kXorSign) != 0) != ((m.flags & kAbs) != 0))
    return ctx.fail(in, name + " (.xorsign needs .abs)");
  out.type = t;
  out.aux2 = m.flags;
  const size_t nsrc = in.operands.size() == 4 && t == ptx::Type::F32 ? 3 : 2;
  if (nsrc == 3 && (m.flags & kXorSign)) return ctx.fail(in, "three-input " + name + " with .xorsign");
  switch (t) {
    case ptx::Type::F32: out.fn = h_minmax<float, kMax>; break;
    case ptx::Type::F64: out.fn = h_minmax<double, kMax>; break;
    case ptx::Type::F16: out.fn = h_minmax_half<false, false, kMax>; break;
    case ptx::Type::F16x2: out.fn = h_minmax_half<false, true, kMax>; break;
    case ptx::Type::BF16: out.fn = h_minmax_half<true, false, kMax>; break;
    case ptx::Type::BF16x2: out.fn = h_minmax_half<true, true, kMax>; break;
    default: return ctx.fail(in, "type of " + name);
  }
  return lower_dsrc(in, ctx, out, t, t, nsrc);
}

// ---- copysign / testp ---------------------------------------------------

template <class T>
void h_copysign(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  constexpr uint64_t sign = sizeof(T) == 4 ? 0x80000000ull : 0x8000000000000000ull;
  for_lanes(active, [&](int l) { d[l] = (b[l] & ~sign) | (a[l] & sign); });
}

bool lower_copysign(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  if (m.types.size() != 1 || m.flags || m.rnd || m.irnd || !m.others.empty())
    return ctx.fail(in, "form " + name);
  const ptx::Type t = m.types[0];
  if (t == ptx::Type::F32) out.fn = h_copysign<float>;
  else if (t == ptx::Type::F64) out.fn = h_copysign<double>;
  else return ctx.fail(in, "type of " + name);
  out.type = t;
  return lower_dsrc(in, ctx, out, t, t, 2);
}

enum class TestP : uint32_t { Finite, Infinite, Number, NotANumber, Normal, Subnormal };

template <class T>
void h_testp(const LInstr& in, WarpState& w, LaneMask active) {
  const Src a = src(w, in.s[0]);
  constexpr const fp::Format& F = sizeof(T) == 4 ? fp::kF32 : fp::kF64;
  const auto op = static_cast<TestP>(in.aux);
  LaneMask r = 0;
  for_lanes(active, [&](int l) {
    const uint64_t x = a[l] & (F.sign_bit() | (F.sign_bit() - 1));
    const uint64_t e = (x >> F.mbits) & F.exp_mask();
    const uint64_t frac = x & F.frac_mask();
    bool v = false;
    switch (op) {
      case TestP::Finite: v = e != F.exp_mask(); break;
      case TestP::Infinite: v = e == F.exp_mask() && frac == 0; break;
      case TestP::Number: v = !(e == F.exp_mask() && frac != 0); break;
      case TestP::NotANumber: v = e == F.exp_mask() && frac != 0; break;
      case TestP::Normal: v = e != 0 && e != F.exp_mask(); break;
      case TestP::Subnormal: v = e == 0 && frac != 0; break;
    }
    r |= static_cast<LaneMask>(v) << l;
  });
  LaneMask& p = w.preds[in.d[0].index];
  p = (p & ~active) | (r & active);
}

bool lower_testp(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  static constexpr struct { const char* n; TestP op; } kOps[] = {
      {"finite", TestP::Finite}, {"infinite", TestP::Infinite}, {"number", TestP::Number},
      {"notanumber", TestP::NotANumber}, {"normal", TestP::Normal}, {"subnormal", TestP::Subnormal},
  };
  if (m.types.size() != 1 || m.others.size() != 1 || m.flags || m.rnd || m.irnd)
    return ctx.fail(in, "form " + name);
  bool found = false;
  for (const auto& o : kOps)
    if (m.others[0] == o.n) {
      out.aux = static_cast<uint32_t>(o.op);
      found = true;
    }
  if (!found) return ctx.fail(in, "test ." + m.others[0] + " in " + name);
  const ptx::Type t = m.types[0];
  if (t == ptx::Type::F32) out.fn = h_testp<float>;
  else if (t == ptx::Type::F64) out.fn = h_testp<double>;
  else return ctx.fail(in, "type of " + name);
  if (in.operands.size() != 2) return ctx.fail(in, "operand count of " + name);
  if (!ctx.pred(in.operands[0], &out.d[0])) return false;
  if (out.d[0].kind != LOperand::Kind::Pred) return ctx.fail(in, "destination of " + name);
  out.nd = 1;
  if (!ctx.src(in.operands[1], t, &out.s[0])) return false;
  out.ns = 1;
  out.type = t;
  return true;
}

}  // namespace

void register_float_misc(OpTable& t) {
  for (const auto& s : kUnSpecs) {
    if (std::string_view(s.opcode) == "abs" || std::string_view(s.opcode) == "neg")
      t.add_float(s.opcode, lower_unary);  // shared with the integer forms
    else
      t.add(s.opcode, lower_unary);
  }
  t.add_float("min", lower_minmax<false>);
  t.add_float("max", lower_minmax<true>);
  t.add("copysign", lower_copysign);
  t.add("testp", lower_testp);
}

}  // namespace gpool::emu::exec::fl
