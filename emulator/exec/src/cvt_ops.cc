// cvt: conversions between every pair of integer and float types PTX
// allows, and the packed forms (f16x2/bf16x2 from two f32, e4m3x2/e5m2x2
// from two f32 or one f16x2, f16x2 from e4m3x2/e5m2x2, tf32 from f32).
//
// Semantics (PTX ISA, cvt):
//  * float -> float narrowing rounds with .rn/.rz/.rm/.rp (.rna for tf32);
//    widening is exact. .rni/.rzi/.rmi/.rpi on float -> float round to an
//    integral value. NaN becomes the destination's canonical NaN.
//  * float -> int rounds with .rni/.rzi/.rmi/.rpi and always saturates to
//    the destination range; NaN -> 0.
//  * int -> float rounds with .rn/.rz/.rm/.rp.
//  * int -> int sign- or zero-extends per the source type, then truncates;
//    .sat clamps to the destination range instead.
//  * .ftz flushes f32 subnormal inputs and results; .sat on a float result
//    clamps to [0.0, 1.0] (NaN -> 0); .relu clamps negatives to +0 (NaN stays
//    NaN); .satfinite turns overflow and infinities into the largest finite.
//  * Results are written as raw bits of the destination type, zero-extended
//    into the 64-bit register cell (the executor's register convention).
//
// Owner: the float family (exec-float).
#include "engine.h"
#include "float_lanes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace gpool::emu::exec {
namespace fl {
namespace {

struct TInfo {
  bool is_float = false;
  bool is_signed = false;
  unsigned bits = 0;
  const fp::Format* fmt = nullptr;
};

bool tinfo(ptx::Type t, TInfo* o) {
  using T = ptx::Type;
  switch (t) {
    case T::U8: case T::B8: *o = {false, false, 8, nullptr}; return true;
    case T::U16: case T::B16: *o = {false, false, 16, nullptr}; return true;
    case T::U32: case T::B32: *o = {false, false, 32, nullptr}; return true;
    case T::U64: case T::B64: *o = {false, false, 64, nullptr}; return true;
    case T::S8: *o = {false, true, 8, nullptr}; return true;
    case T::S16: *o = {false, true, 16, nullptr}; return true;
    case T::S32: *o = {false, true, 32, nullptr}; return true;
    case T::S64: *o = {false, true, 64, nullptr}; return true;
    case T::F16: *o = {true, true, 16, &fp::kF16}; return true;
    case T::BF16: *o = {true, true, 16, &fp::kBF16}; return true;
    case T::F32: *o = {true, true, 32, &fp::kF32}; return true;
    case T::F64: *o = {true, true, 64, &fp::kF64}; return true;
    case T::TF32: *o = {true, true, 32, &fp::kTF32}; return true;
    default: return false;
  }
}

inline uint64_t low_mask(unsigned bits) { return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1; }

// LInstr::aux layout for cvt.
constexpr uint32_t kRndMask = 0xf;     // fp::Rnd
constexpr uint32_t kIntRound = 1u << 4;  // the rounding was .rni/.rzi/.rmi/.rpi

// Decoded per handler call from the LInstr.
struct Conv {
  TInfo d, s;
  fp::Rnd rnd = fp::Rnd::RN;
  bool irnd = false;
  uint32_t flags = 0;
};

inline uint64_t int_int(const Conv& c, uint64_t x) {
  uint64_t v = x & low_mask(c.s.bits);
  __int128 val;
  if (c.s.is_signed && c.s.bits < 64 && (v >> (c.s.bits - 1))) {
    val = static_cast<__int128>(v) - (static_cast<__int128>(1) << c.s.bits);
  } else if (c.s.is_signed && c.s.bits == 64) {
    val = static_cast<int64_t>(v);
  } else {
    val = v;
  }
  if (c.flags & kSat) {
    __int128 lo, hi;
    if (c.d.is_signed) {
      hi = (static_cast<__int128>(1) << (c.d.bits - 1)) - 1;
      lo = -hi - 1;
    } else {
      hi = (static_cast<__int128>(1) << c.d.bits) - 1;
      lo = 0;
    }
    if (val < lo) val = lo;
    if (val > hi) val = hi;
  }
  return static_cast<uint64_t>(val) & low_mask(c.d.bits);
}

// Post-processing of a float result in the destination's format.
inline uint64_t float_post(const Conv& c, uint64_t r) {
  const fp::Format& F = *c.d.fmt;
  if ((c.flags & kFtz) && c.d.fmt == &fp::kF32) r = fp::flush_subnormal(F, r);
  const bool nan = (r & (F.sign_bit() - 1)) > F.inf(false) ||
                   (!F.ieee && (r & (F.sign_bit() - 1)) == F.canonical_nan());
  if (c.flags & kSat) {
    if (nan || (r & F.sign_bit())) {
      r = 0;
    } else {
      const uint64_t one = uint64_t(F.bias()) << F.mbits;
      if (r > one) r = one;
    }
  }
  if ((c.flags & kRelu) && !nan && (r & F.sign_bit())) r = 0;
  return r;
}

inline uint64_t to_container(const Conv& c, uint64_t r) {
  return c.d.fmt == &fp::kTF32 ? r << 13 : r;
}

// One scalar conversion (any category).
inline uint64_t convert_one(const Conv& c, uint64_t x) {
  if (!c.s.is_float && !c.d.is_float) return int_int(c, x);
  if (!c.s.is_float) {
    uint64_t r = fp::int_to_float(*c.d.fmt, c.s.is_signed, c.s.bits, x, c.rnd);
    return to_container(c, float_post(c, r));
  }
  const fp::Format* sf = c.s.fmt == &fp::kTF32 ? &fp::kF32 : c.s.fmt;  // tf32 sources are f32 bits
  x &= low_mask(sf->total());
  if ((c.flags & kFtz) && sf == &fp::kF32) x = fp::flush_subnormal(*sf, x);
  if (!c.d.is_float) return fp::float_to_int(*sf, x, c.d.is_signed, c.d.bits, c.irnd ? c.rnd : fp::Rnd::RZ);
  const bool satfinite = (c.flags & kSatFinite) != 0;
  uint64_t r;
  if (c.irnd) {
    const uint64_t i = fp::round_to_integral(*sf, x, c.rnd);
    r = fp::convert(*sf, *c.d.fmt, i, fp::Rnd::RN, satfinite);
  } else {
    r = fp::convert(*sf, *c.d.fmt, x, c.rnd, satfinite);
  }
  return to_container(c, float_post(c, r));
}

inline Conv decode(const LInstr& in) {
  Conv c;
  tinfo(in.type, &c.d);
  tinfo(in.type2, &c.s);
  c.rnd = static_cast<fp::Rnd>(in.aux & kRndMask);
  c.irnd = (in.aux & kIntRound) != 0;
  c.flags = in.aux2;
  return c;
}

void h_cvt_generic(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const Conv c = decode(in);
  for_lanes(active, [&](int l) { d[l] = convert_one(c, a[l]); });
}

// ---- fast paths for the conversions compiled code uses in inner loops ----

template <class I>
void h_int_to_f32_rn(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  for_lanes(active, [&](int l) { d[l] = fp::bits_of(static_cast<float>(static_cast<I>(a[l]))); });
}
template <class I>
void h_int_to_f64_rn(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  for_lanes(active, [&](int l) { d[l] = fp::bits_of(static_cast<double>(static_cast<I>(a[l]))); });
}

// f32/f64 -> 32/64-bit integer, any integer rounding, saturating, NaN -> 0.
template <class F, class I>
void h_float_to_int(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const auto rnd = static_cast<fp::Rnd>(in.aux & kRndMask);
  constexpr bool kSigned = std::is_signed_v<I>;
  constexpr double lo = kSigned ? static_cast<double>(std::numeric_limits<I>::min()) : 0.0;
  // First value above the range: 2^(bits-1) signed, 2^bits unsigned.
  constexpr double hi_excl = sizeof(I) == 4 ? (kSigned ? 2147483648.0 : 4294967296.0)
                                            : (kSigned ? 9223372036854775808.0 : 18446744073709551616.0);
  const bool ftz = (in.aux2 & kFtz) != 0;
  for_lanes(active, [&](int l) {
    double v;
    if constexpr (sizeof(F) == 4) {
      float f = fp::f32_from_bits(a[l]);
      v = ftz ? fp::ftz(f) : f;
    } else {
      v = fp::f64_from_bits(a[l]);
    }
    switch (rnd) {
      case fp::Rnd::RZ: v = std::trunc(v); break;
      case fp::Rnd::RM: v = std::floor(v); break;
      case fp::Rnd::RP: v = std::ceil(v); break;
      default: v = std::nearbyint(v); break;  // host mode is round-to-nearest-even
    }
    I r;
    if (v != v) r = 0;
    else if (v >= hi_excl) r = std::numeric_limits<I>::max();
    else if (v <= lo) r = std::numeric_limits<I>::min();
    else r = static_cast<I>(v);
    d[l] = static_cast<uint64_t>(r) & low_mask(sizeof(I) * 8);
  });
}

void h_f32_to_f64(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const bool ftz = (in.aux2 & kFtz) != 0;
  for_lanes(active, [&](int l) {
    float f = fp::f32_from_bits(a[l]);
    if (ftz) f = fp::ftz(f);
    double r = f;
    d[l] = r != r ? fp::kF64.canonical_nan() : fp::bits_of(r);
  });
}

void h_f64_to_f32_rn(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  for_lanes(active, [&](int l) {
    float r = static_cast<float>(fp::f64_from_bits(a[l]));
    d[l] = r != r ? fp::kF32.canonical_nan() : fp::bits_of(r);
  });
}

void h_f16_to_f32(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  for_lanes(active, [&](int l) {
    float r = fp::f16_bits_to_f32(a[l] & 0xffff);
    d[l] = r != r ? fp::kF32.canonical_nan() : fp::bits_of(r);
  });
}

// ---- packed forms -------------------------------------------------------

// d = (cvt(a) << w) | cvt(b): f16x2/bf16x2 (w = 16) or e4m3x2/e5m2x2 (w = 8)
// from two f32 sources.
void h_cvt_pack2(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const Conv c = decode(in);  // in.type: the element type (F16 / BF16)
  const unsigned width = c.d.bits;
  for_lanes(active, [&](int l) { d[l] = (convert_one(c, a[l]) << width) | convert_one(c, b[l]); });
}

// 8-bit float formats are not ptx::Types; the packed handlers find them here.
const fp::Format* fp8_format(ptx::Type packed) {
  if (packed == ptx::Type::E4M3x2) return &fp::kE4M3;
  if (packed == ptx::Type::E5M2x2) return &fp::kE5M2;
  return nullptr;
}

}  // namespace

// Element descriptors for packed cvt, kept out of ptx::Type: an LInstr's
// type/type2 hold the element types (F16, BF16, F32) or the packed fp8 type,
// which tinfo() does not know; the packed handlers patch the TInfo.
namespace {

void h_cvt_pack2_fp8(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  Conv c = decode(in);
  c.d = TInfo{true, true, 8, fp8_format(in.type)};
  for_lanes(active, [&](int l) { d[l] = (convert_one(c, a[l]) << 8) | convert_one(c, b[l]); });
}

void h_cvt_split_fp8(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  Conv c = decode(in);
  if (const fp::Format* f = fp8_format(in.type)) c.d = TInfo{true, true, 8, f};
  if (const fp::Format* f = fp8_format(in.type2)) c.s = TInfo{true, true, 8, f};
  const unsigned sw = c.s.bits, dw = c.d.bits;
  for_lanes(active, [&](int l) {
    const uint64_t x = a[l];
    d[l] = (convert_one(c, (x >> sw) & low_mask(sw)) << dw) | convert_one(c, x & low_mask(sw));
  });
}

// cvt.pack.sat.{u16,s16}.s32 d, a, b and cvt.pack.sat.{u8,s8,u4,s4,u2,s2}.s32.b32 d, a, b, c
// (PTX ISA "cvt.pack"): a and b are clamped to the destination type's range; b fills the lowest
// field, a the next, and the rest of d holds c's low bits (zero for the 16-bit forms).
// aux = field width in bits, aux2 = 1 for signed fields.
void h_cvt_pack_int(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const bool has_c = in.ns > 2;
  const Src c = has_c ? src(w, in.s[2]) : a;
  const unsigned width = in.aux;
  const int64_t lo = in.aux2 ? -(int64_t{1} << (width - 1)) : 0;
  const int64_t hi = in.aux2 ? (int64_t{1} << (width - 1)) - 1 : (int64_t{1} << width) - 1;
  const uint64_t mask = (uint64_t{1} << width) - 1;
  for_lanes(active, [&](int l) {
    const auto ta = static_cast<uint64_t>(std::clamp<int64_t>(static_cast<int32_t>(a[l]), lo, hi)) & mask;
    const auto tb = static_cast<uint64_t>(std::clamp<int64_t>(static_cast<int32_t>(b[l]), lo, hi)) & mask;
    uint64_t r = (ta << width) | tb;
    if (has_c && 2 * width < 32) r |= (c[l] << (2 * width)) & 0xffffffffu;
    d[l] = r;
  });
}

bool lower_cvt_pack(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const std::string name = full_opcode(in);
  const auto& m = in.modifiers;
  static const struct {
    const char* name;
    unsigned width;
    bool is_signed;
  } kTypes[] = {{"u16", 16, false}, {"s16", 16, true}, {"u8", 8, false}, {"s8", 8, true},
                {"u4", 4, false},   {"s4", 4, true},   {"u2", 2, false}, {"s2", 2, true}};
  // pack sat <convert> s32 [b32]
  if (m.size() < 4 || m[0] != "pack" || m[1] != "sat" || m[3] != "s32")
    return ctx.fail(in, "unsupported instruction '" + name + "' (expected cvt.pack.sat.type.s32)");
  for (const auto& t : kTypes) {
    if (m[2] != t.name) continue;
    const bool wide = t.width == 16;
    if (m.size() != (wide ? 4u : 5u) || (!wide && m[4] != "b32"))
      return ctx.fail(in, "unsupported instruction '" + name + "' (types)");
    out.aux = t.width;
    out.aux2 = t.is_signed ? 1 : 0;
    out.fn = h_cvt_pack_int;
    return lower_dsrc(in, ctx, out, ptx::Type::B32, ptx::Type::B32, wide ? 2 : 3);
  }
  return ctx.fail(in, "unsupported instruction '" + name + "' (conversion type)");
}

bool lower_cvt(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  if (!in.modifiers.empty() && in.modifiers[0] == "pack") return lower_cvt_pack(in, ctx, out);
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  if (!m.others.empty()) return ctx.fail(in, "modifier ." + m.others[0] + " on " + name);
  if (m.types.size() != 2) return ctx.fail(in, "types of " + name + " (expected .dtype.atype)");
  if (m.rnd && m.irnd) return ctx.fail(in, "two rounding modifiers on " + name);
  if (m.flags & ~(kFtz | kSat | kRelu | kSatFinite)) return ctx.fail(in, "modifier combination " + name);
  const ptx::Type dt = m.types[0], at = m.types[1];
  out.aux = static_cast<uint32_t>(m.irnd ? *m.irnd : m.rnd.value_or(fp::Rnd::RN)) | (m.irnd ? kIntRound : 0);
  out.aux2 = m.flags;
  const size_t n = in.operands.size();

  // Packed destinations / sources.
  const bool d_pair = dt == ptx::Type::F16x2 || dt == ptx::Type::BF16x2;
  const bool d_fp8 = dt == ptx::Type::E4M3x2 || dt == ptx::Type::E5M2x2;
  const bool s_fp8 = at == ptx::Type::E4M3x2 || at == ptx::Type::E5M2x2;
  if (d_pair || d_fp8 || s_fp8 || at == ptx::Type::F16x2 || at == ptx::Type::BF16x2) {
    const ptx::Type elem_d = dt == ptx::Type::F16x2 ? ptx::Type::F16 : dt == ptx::Type::BF16x2 ? ptx::Type::BF16 : dt;
    const ptx::Type elem_s = at == ptx::Type::F16x2 ? ptx::Type::F16 : at == ptx::Type::BF16x2 ? ptx::Type::BF16 : at;
    if (m.irnd || (m.rnd && *m.rnd != fp::Rnd::RN && *m.rnd != fp::Rnd::RZ))
      return ctx.fail(in, "rounding of " + name);
    if (d_fp8 && !(m.flags & kSatFinite)) return ctx.fail(in, name + " (fp8 conversions need .satfinite)");
    if (!d_pair && !d_fp8 && !s_fp8) return ctx.fail(in, "conversion " + name);
    out.type = elem_d;
    out.type2 = elem_s;
    if (at == ptx::Type::F32) {
      if (!d_pair && !d_fp8) return ctx.fail(in, "conversion " + name);
      out.fn = d_fp8 ? h_cvt_pack2_fp8 : h_cvt_pack2;
      return lower_dsrc(in, ctx, out, d_pair ? ptx::Type::B32 : ptx::Type::B16, ptx::Type::F32, 2);
    }
    // One packed source: f16x2 -> e4m3x2/e5m2x2, e4m3x2/e5m2x2 -> f16x2.
    if (!((d_fp8 && at == ptx::Type::F16x2) || (s_fp8 && dt == ptx::Type::F16x2)))
      return ctx.fail(in, "conversion " + name);
    out.fn = h_cvt_split_fp8;
    return lower_dsrc(in, ctx, out, d_fp8 ? ptx::Type::B16 : ptx::Type::B32,
                      s_fp8 ? ptx::Type::B16 : ptx::Type::B32, 1);
  }

  TInfo d, s;
  if (!tinfo(dt, &d) || !tinfo(at, &s)) return ctx.fail(in, "types of " + name);
  if (dt == ptx::Type::TF32 && at != ptx::Type::F32) return ctx.fail(in, "conversion " + name);
  if (m.irnd && !s.is_float) return ctx.fail(in, "integer rounding of an integer source in " + name);
  if (m.rnd && !d.is_float) return ctx.fail(in, "float rounding with an integer destination in " + name);
  if ((m.flags & kRelu) && !(dt == ptx::Type::F16 || dt == ptx::Type::BF16))
    return ctx.fail(in, "modifier .relu on " + name);
  if (n != 2) return ctx.fail(in, "operand count of " + name);
  if (s.is_float && !d.is_float && !m.irnd) out.aux = static_cast<uint32_t>(fp::Rnd::RZ) | kIntRound;
  out.type = dt;
  out.type2 = at;
  out.fn = h_cvt_generic;

  // Fast paths.
  const fp::Rnd r = static_cast<fp::Rnd>(out.aux & kRndMask);
  const bool plain = m.flags == 0;
  using T = ptx::Type;
  if (plain && r == fp::Rnd::RN && !s.is_float && dt == T::F32) {
    if (at == T::S32) out.fn = h_int_to_f32_rn<int32_t>;
    else if (at == T::U32) out.fn = h_int_to_f32_rn<uint32_t>;
    else if (at == T::S64) out.fn = h_int_to_f32_rn<int64_t>;
    else if (at == T::U64) out.fn = h_int_to_f32_rn<uint64_t>;
  } else if (plain && r == fp::Rnd::RN && !s.is_float && dt == T::F64) {
    if (at == T::S32) out.fn = h_int_to_f64_rn<int32_t>;
    else if (at == T::U32) out.fn = h_int_to_f64_rn<uint32_t>;
    else if (at == T::S64) out.fn = h_int_to_f64_rn<int64_t>;
    else if (at == T::U64) out.fn = h_int_to_f64_rn<uint64_t>;
  } else if ((m.flags & ~(kFtz | kSat)) == 0 && (at == T::F32 || at == T::F64) && !d.is_float &&
             d.bits >= 32 && !(m.flags & kFtz && at == T::F64)) {
    const bool f32 = at == T::F32;
    if (dt == T::S32) out.fn = f32 ? h_float_to_int<float, int32_t> : h_float_to_int<double, int32_t>;
    else if (dt == T::U32) out.fn = f32 ? h_float_to_int<float, uint32_t> : h_float_to_int<double, uint32_t>;
    else if (dt == T::S64) out.fn = f32 ? h_float_to_int<float, int64_t> : h_float_to_int<double, int64_t>;
    else if (dt == T::U64) out.fn = f32 ? h_float_to_int<float, uint64_t> : h_float_to_int<double, uint64_t>;
  } else if (at == T::F32 && dt == T::F64 && (m.flags & ~kFtz) == 0 && !m.irnd) {
    out.fn = h_f32_to_f64;
  } else if (plain && at == T::F64 && dt == T::F32 && r == fp::Rnd::RN && !m.irnd) {
    out.fn = h_f64_to_f32_rn;
  } else if (plain && at == T::F16 && dt == T::F32 && !m.irnd) {
    out.fn = h_f16_to_f32;
  }
  const ptx::Type dreg = dt == T::TF32 ? T::B32 : dt;
  const ptx::Type sreg = at;
  return lower_dsrc(in, ctx, out, dreg, sreg, 1);
}

}  // namespace
}  // namespace fl

void register_cvt_ops(OpTable& t) { t.add("cvt", fl::lower_cvt); }

}  // namespace gpool::emu::exec
