// f32/f64 arithmetic (add sub mul fma mad div) with PTX rounding modes,
// .ftz and .sat, and the registration of the whole float family. f16/bf16
// forms are forwarded to float_half.cc, the other float opcodes live in
// float_misc.cc, comparisons in float_compare.cc.
//
// Directed rounding (.rz .rm .rp) runs the host operation under a scoped
// host rounding mode (fl::HostRounding); .rn, the default, runs plain.
// NaN results are the canonical NaN (0x7fffffff / 0x7fffffffffffffff).
//
// Owner: the float family (exec-float).
#include "float_family.h"

#include <cmath>

namespace gpool::emu::exec {
namespace fl {
namespace {

template <class T>
T from(uint64_t b);
template <>
inline float from<float>(uint64_t b) { return fp::f32_from_bits(b); }
template <>
inline double from<double>(uint64_t b) { return fp::f64_from_bits(b); }

inline uint64_t out(float r) { return r != r ? uint64_t{0x7fffffff} : fp::bits_of(r); }
inline uint64_t out(double r) { return r != r ? uint64_t{0x7fffffffffffffff} : fp::bits_of(r); }

template <class T, Arith op>
inline T calc(T a, T b, T c) {
  if constexpr (op == Arith::Add) return a + b;
  if constexpr (op == Arith::Sub) return a - b;
  if constexpr (op == Arith::Mul) return a * b;
  if constexpr (op == Arith::Fma) return std::fma(a, b, c);
  if constexpr (op == Arith::Div) return a / b;
}

template <class T>
inline T saturate(T r) {
  return r > T(0) ? (r < T(1) ? r : T(1)) : T(0);  // NaN and -0.0 -> +0.0
}

template <class T, Arith op>
void h_arith(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const Src c = op == Arith::Fma ? src(w, in.s[2]) : a;
  if (in.aux == 0 && in.aux2 == 0) {
    for_lanes(active, [&](int l) {
      d[l] = out(calc<T, op>(from<T>(a[l]), from<T>(b[l]), from<T>(c[l])));
    });
    return;
  }
  const bool ftz = (in.aux2 & kFtz) != 0, sat = (in.aux2 & kSat) != 0;
  HostRounding guard(static_cast<fp::Rnd>(in.aux));
  for_lanes(active, [&](int l) {
    T x = from<T>(a[l]), y = from<T>(b[l]), z = from<T>(c[l]);
    if (ftz) {
      x = fp::ftz(x);
      y = fp::ftz(y);
      z = fp::ftz(z);
    }
    T r = calc<T, op>(x, y, z);
    if (ftz) r = fp::ftz(r);
    if (sat) r = saturate(r);
    d[l] = out(r);
  });
}

// div.approx.f32: a * (1/b), as the hardware computes it; for
// 2^126 < |b| < 2^128 the result is 0 (NaN when a is infinite).
void h_div_approx_f32(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const bool ftz = (in.aux2 & kFtz) != 0, sat = (in.aux2 & kSat) != 0;
  for_lanes(active, [&](int l) {
    float x = from<float>(a[l]), y = from<float>(b[l]);
    if (ftz) {
      x = fp::ftz(x);
      y = fp::ftz(y);
    }
    float r;
    float ay = std::fabs(y);
    if (ay > 0x1p126f && std::isfinite(ay)) {
      r = std::isinf(x) ? NAN : std::copysign(0.0f, x) * std::copysign(1.0f, y);
    } else {
      r = x * (1.0f / y);
    }
    if (ftz) r = fp::ftz(r);
    if (sat) r = saturate(r);
    d[l] = out(r);
  });
}

template <class T>
Handler pick_arith(Arith op) {
  switch (op) {
    case Arith::Add: return h_arith<T, Arith::Add>;
    case Arith::Sub: return h_arith<T, Arith::Sub>;
    case Arith::Mul: return h_arith<T, Arith::Mul>;
    case Arith::Fma: return h_arith<T, Arith::Fma>;
    case Arith::Div: return h_arith<T, Arith::Div>;
  }
  return nullptr;
}

bool lower_arith(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, Arith op) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  if (m.types.size() != 1 || !is_float_type(m.types[0]))
    return ctx.fail(in, "type of " + name + " (float family expects one of f16 f16x2 bf16 bf16x2 f32 f64)");
  if (!m.others.empty()) return ctx.fail(in, "modifier ." + m.others[0] + " on " + name);
  if (m.irnd) return ctx.fail(in, "integer rounding modifier on " + name);
  const ptx::Type t = m.types[0];
  if (t != ptx::Type::F32 && t != ptx::Type::F64) return lower_half_arith(in, m, ctx, out, op);

  uint32_t allowed = t == ptx::Type::F32 ? (kFtz | kSat) : 0;
  if (op == Arith::Div && t == ptx::Type::F32) allowed |= kApprox | kFull;
  if (m.flags & ~allowed) return ctx.fail(in, "modifier combination " + name);
  if (m.rnd == fp::Rnd::RNA) return ctx.fail(in, "rounding .rna on " + name);
  const bool approx = (m.flags & kApprox) != 0, full = (m.flags & kFull) != 0;
  if ((approx || full) && m.rnd) return ctx.fail(in, "rounding modifier with .approx/.full on " + name);

  out.type = t;
  out.aux = static_cast<uint32_t>(m.rnd.value_or(fp::Rnd::RN));
  out.aux2 = m.flags & (kFtz | kSat);
  if (approx) {
    out.fn = h_div_approx_f32;
  } else {
    // div.full.f32 (max 2 ulp) is computed correctly rounded.
    out.fn = t == ptx::Type::F32 ? pick_arith<float>(op) : pick_arith<double>(op);
  }
  if (!lower_dsrc(in, ctx, out, t, t, op == Arith::Fma ? 3 : 2)) return false;
  if (!approx)
    if (Handler fast = fast_arith_handler(out, op)) out.fn = fast;
  return true;
}

bool lower_add(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_arith(in, ctx, out, Arith::Add);
}
bool lower_sub(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_arith(in, ctx, out, Arith::Sub);
}
bool lower_mul(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_arith(in, ctx, out, Arith::Mul);
}
bool lower_fma(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_arith(in, ctx, out, Arith::Fma);
}
bool lower_div(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_arith(in, ctx, out, Arith::Div);
}

}  // namespace
}  // namespace fl

void register_float_ops(OpTable& t) {
  t.add_float("add", fl::lower_add);
  t.add_float("sub", fl::lower_sub);
  t.add_float("mul", fl::lower_mul);
  t.add_float("fma", fl::lower_fma);
  t.add_float("mad", fl::lower_fma);  // mad.f32 / mad.rn.f64 are fused multiply-adds
  t.add_float("div", fl::lower_div);
  fl::register_float_misc(t);
}

}  // namespace gpool::emu::exec
