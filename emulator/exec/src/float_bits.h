// Bit-exact floating-point format helpers for the float, cvt and warp op
// families: decoding and rounding into any binary format PTX uses (f16, bf16,
// tf32, f32, f64, e4m3, e5m2), every rounding mode, saturation, and
// float <-> integer conversion. Pure functions on raw bits; no floating-point
// environment is touched, so results never depend on the host rounding mode.
//
// Owner: the float family (exec-float). Header-only so unit tests can use it
// without the rest of the executor.
//
// Thread safety: stateless; callable from any thread.
//
// NaN results are the canonical NaN of the destination format (all bits but
// the sign set: f16 0x7fff, bf16 0x7fff, f32 0x7fffffff, f64
// 0x7fffffffffffffff, e4m3/e5m2 0x7f), which is what the GPU produces.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace gpool::emu::exec::fp {

// Rounding to a representable value: nearest-even, toward zero, toward -inf,
// toward +inf, nearest with ties away from zero (cvt.rna).
enum class Rnd : uint8_t { RN = 0, RZ = 1, RM = 2, RP = 3, RNA = 4 };

// A binary floating-point format: 1 sign bit, `ebits` exponent bits, `mbits`
// stored fraction bits. `ieee` formats reserve the top exponent for inf/NaN;
// e4m3 (ieee = false) has no infinity and a single NaN fraction (all ones).
struct Format {
  uint8_t mbits;
  uint8_t ebits;
  bool ieee;
  constexpr int total() const { return 1 + ebits + mbits; }
  constexpr int bias() const { return (1 << (ebits - 1)) - 1; }
  constexpr int emin() const { return 1 - bias(); }
  constexpr uint64_t frac_mask() const { return (uint64_t{1} << mbits) - 1; }
  constexpr uint64_t exp_mask() const { return (uint64_t{1} << ebits) - 1; }
  constexpr uint64_t sign_bit() const { return uint64_t{1} << (total() - 1); }
  constexpr uint64_t canonical_nan() const { return sign_bit() - 1; }
  constexpr uint64_t inf(bool neg) const {
    return (neg ? sign_bit() : 0) | (exp_mask() << mbits);
  }
  constexpr uint64_t max_finite(bool neg) const {
    uint64_t mag = ieee ? ((exp_mask() - 1) << mbits) | frac_mask()
                        : (exp_mask() << mbits) | (frac_mask() - 1);
    return (neg ? sign_bit() : 0) | mag;
  }
};

inline constexpr Format kF16{10, 5, true};
inline constexpr Format kBF16{7, 8, true};
inline constexpr Format kTF32{10, 8, true};  // encoded in 19 bits; in registers as f32 bits << 13
inline constexpr Format kF32{23, 8, true};
inline constexpr Format kF64{52, 11, true};
inline constexpr Format kE4M3{3, 4, false};
inline constexpr Format kE5M2{2, 5, true};

inline float f32_from_bits(uint64_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b)); }
inline double f64_from_bits(uint64_t b) { return std::bit_cast<double>(b); }
inline uint64_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }
inline uint64_t bits_of(double d) { return std::bit_cast<uint64_t>(d); }

// A decoded value: (-1)^neg * mant * 2^exp for Finite (mant may be 0 only for Zero).
struct Unpacked {
  enum class Cls : uint8_t { Zero, Finite, Inf, NaN } cls = Cls::Zero;
  bool neg = false;
  uint64_t mant = 0;
  int exp = 0;
};

inline Unpacked unpack(const Format& f, uint64_t bits) {
  Unpacked u;
  u.neg = (bits & f.sign_bit()) != 0;
  uint64_t e = (bits >> f.mbits) & f.exp_mask();
  uint64_t frac = bits & f.frac_mask();
  if (f.ieee && e == f.exp_mask()) {
    u.cls = frac ? Unpacked::Cls::NaN : Unpacked::Cls::Inf;
  } else if (!f.ieee && e == f.exp_mask() && frac == f.frac_mask()) {
    u.cls = Unpacked::Cls::NaN;
  } else if (e == 0) {
    if (frac == 0) {
      u.cls = Unpacked::Cls::Zero;
    } else {
      u.cls = Unpacked::Cls::Finite;
      u.mant = frac;
      u.exp = f.emin() - f.mbits;
    }
  } else {
    u.cls = Unpacked::Cls::Finite;
    u.mant = frac | (uint64_t{1} << f.mbits);
    u.exp = static_cast<int>(e) - f.bias() - f.mbits;
  }
  return u;
}

// Whether a value whose magnitude was truncated (`lsb_odd`: the kept
// magnitude's last bit, `round`: the first dropped bit, `sticky`: any later
// dropped bit) must be incremented by one unit under mode `r`.
inline bool round_up(Rnd r, bool neg, bool lsb_odd, bool round, bool sticky) {
  switch (r) {
    case Rnd::RN: return round && (sticky || lsb_odd);
    case Rnd::RNA: return round;
    case Rnd::RZ: return false;
    case Rnd::RM: return neg && (round || sticky);
    case Rnd::RP: return !neg && (round || sticky);
  }
  return false;
}

// Rounds the exact value (-1)^neg * mant * 2^exp, plus a nonzero amount
// smaller than 2^exp when `sticky`, into format `f`. `satfinite` turns
// overflow (and what would be infinity) into the largest finite value.
// Formats without infinity (e4m3) overflow to NaN unless `satfinite`.
inline uint64_t round_pack(const Format& f, bool neg, uint64_t mant, int exp, bool sticky, Rnd r,
                           bool satfinite = false) {
  const uint64_t sign = neg ? f.sign_bit() : 0;
  if (mant == 0) {
    if (!sticky) return sign;
    mant = 1;  // a tiny nonzero tail: stands for a value far below any quantum
    exp -= 64;
  }
  const int msb = 63 - std::countl_zero(mant);
  const int e_lead = msb + exp;  // exponent of the leading bit
  int q_exp = (e_lead >= f.emin() ? e_lead : f.emin()) - f.mbits;  // exponent of the result's last bit
  const int shift = q_exp - exp;
  uint64_t q;
  bool round = false;
  if (shift <= 0) {
    q = mant << -shift;
  } else if (shift > 64) {
    q = 0;
    sticky = true;
  } else if (shift == 64) {
    q = 0;
    round = (mant >> 63) != 0;
    sticky = sticky || (mant << 1) != 0;
  } else {
    q = mant >> shift;
    round = ((mant >> (shift - 1)) & 1) != 0;
    sticky = sticky || (mant & ((uint64_t{1} << (shift - 1)) - 1)) != 0;
  }
  if (round_up(r, neg, q & 1, round, sticky)) ++q;
  if (q >> (f.mbits + 1)) {
    q >>= 1;
    ++q_exp;
  }
  if (q == 0) return sign;
  uint64_t biased = 0;
  if (q >> f.mbits) biased = static_cast<uint64_t>(q_exp + f.mbits + f.bias());
  const uint64_t bits = (biased << f.mbits) | (q & f.frac_mask());
  bool overflow;
  if (f.ieee) {
    overflow = q_exp + f.mbits + f.bias() >= static_cast<int>(f.exp_mask()) && (q >> f.mbits);
  } else {
    overflow = (q >> f.mbits) && (q_exp + f.mbits + f.bias() > static_cast<int>(f.exp_mask()) ||
                                  bits == ((f.exp_mask() << f.mbits) | f.frac_mask()));
  }
  if (overflow) {
    if (satfinite) return f.max_finite(neg);
    if (!f.ieee) return f.canonical_nan();
    bool to_inf = r == Rnd::RN || r == Rnd::RNA || (r == Rnd::RM && neg) || (r == Rnd::RP && !neg);
    return to_inf ? f.inf(neg) : f.max_finite(neg);
  }
  return sign | bits;
}

// Converts a value of format `from` to format `to`. NaN -> canonical NaN;
// infinity -> infinity (or max finite with `satfinite`, NaN for e4m3).
inline uint64_t convert(const Format& from, const Format& to, uint64_t bits, Rnd r,
                        bool satfinite = false) {
  Unpacked u = unpack(from, bits);
  switch (u.cls) {
    case Unpacked::Cls::NaN: return to.canonical_nan();
    case Unpacked::Cls::Inf:
      if (satfinite) return to.max_finite(u.neg);
      return to.ieee ? to.inf(u.neg) : to.canonical_nan();
    case Unpacked::Cls::Zero: return u.neg ? to.sign_bit() : 0;
    case Unpacked::Cls::Finite: break;
  }
  return round_pack(to, u.neg, u.mant, u.exp, false, r, satfinite);
}

// f16 / bf16 <-> f32 / f64 shorthands (round to nearest even).
inline uint16_t f16_from_f32(float x, Rnd r = Rnd::RN) {
  return static_cast<uint16_t>(convert(kF32, kF16, bits_of(x), r));
}
inline uint16_t f16_from_f64(double x, Rnd r = Rnd::RN) {
  return static_cast<uint16_t>(convert(kF64, kF16, bits_of(x), r));
}
inline uint16_t bf16_from_f32(float x, Rnd r = Rnd::RN) {
  return static_cast<uint16_t>(convert(kF32, kBF16, bits_of(x), r));
}
inline uint16_t bf16_from_f64(double x, Rnd r = Rnd::RN) {
  return static_cast<uint16_t>(convert(kF64, kBF16, bits_of(x), r));
}
// Widening is exact; NaN payloads are not kept (canonical NaN).
inline float f32_from_f16(uint16_t h) { return f32_from_bits(convert(kF16, kF32, h, Rnd::RN)); }
inline double f64_from_f16(uint16_t h) { return f64_from_bits(convert(kF16, kF64, h, Rnd::RN)); }
inline float f32_from_bf16(uint16_t h) { return f32_from_bits(convert(kBF16, kF32, h, Rnd::RN)); }
inline double f64_from_bf16(uint16_t h) { return f64_from_bits(convert(kBF16, kF64, h, Rnd::RN)); }

// Fast exact widening of f16 / bf16 bits to f32 (NaN payloads kept, unlike
// convert(); use where the result feeds a comparison or further arithmetic).
inline float f16_bits_to_f32(uint64_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t e = static_cast<uint32_t>(h >> 10) & 0x1f;
  const uint32_t m = static_cast<uint32_t>(h) & 0x3ff;
  if (e == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    float f = static_cast<float>(m) * 0x1p-24f;  // exact: m < 2^10
    return sign ? -f : f;
  }
  return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}
inline float bf16_bits_to_f32(uint64_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h & 0xffff) << 16);
}

// A signed or unsigned integer of `bits` width, as held in a register's low bits.
inline uint64_t int_to_float(const Format& to, bool is_signed, unsigned bits, uint64_t raw, Rnd r) {
  uint64_t v = bits == 64 ? raw : raw & ((uint64_t{1} << bits) - 1);
  bool neg = false;
  if (is_signed && bits < 64 && (v >> (bits - 1))) {
    neg = true;
    v = (uint64_t{1} << bits) - v;
  } else if (is_signed && bits == 64 && (v >> 63)) {
    neg = true;
    v = ~v + 1;
  }
  return round_pack(to, neg, v, 0, false, r);
}

// The integer a finite value rounds to under `r`, as a magnitude; `overflow`
// is set when it does not fit in 64 bits.
inline uint64_t round_to_integer_mag(const Unpacked& u, Rnd r, bool* overflow) {
  *overflow = false;
  if (u.cls != Unpacked::Cls::Finite) return 0;
  if (u.exp >= 0) {
    const int msb = 63 - std::countl_zero(u.mant);
    if (msb + u.exp >= 64) {
      *overflow = true;
      return ~uint64_t{0};
    }
    return u.mant << u.exp;
  }
  const int shift = -u.exp;
  uint64_t q = 0;
  bool round = false, sticky = false;
  if (shift > 64) {
    sticky = true;
  } else if (shift == 64) {
    round = (u.mant >> 63) != 0;
    sticky = (u.mant << 1) != 0;
  } else {
    q = u.mant >> shift;
    round = ((u.mant >> (shift - 1)) & 1) != 0;
    sticky = (u.mant & ((uint64_t{1} << (shift - 1)) - 1)) != 0;
  }
  if (round_up(r, u.neg, q & 1, round, sticky)) {
    if (q == ~uint64_t{0}) {
      *overflow = true;
      return q;
    }
    ++q;
  }
  return q;
}

// Float (format `from`) -> integer of `bits` width with integer rounding `r`,
// saturated to the destination range; NaN -> 0 (PTX cvt semantics). Returns
// the result's raw bits truncated to `bits` (zero-extended to 64).
inline uint64_t float_to_int(const Format& from, uint64_t fbits, bool is_signed, unsigned bits, Rnd r) {
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  Unpacked u = unpack(from, fbits);
  if (u.cls == Unpacked::Cls::NaN || u.cls == Unpacked::Cls::Zero) return 0;
  bool overflow = u.cls == Unpacked::Cls::Inf;
  uint64_t mag = overflow ? ~uint64_t{0} : round_to_integer_mag(u, r, &overflow);
  if (is_signed) {
    const uint64_t max_pos = mask >> 1;        // 2^(bits-1) - 1
    const uint64_t max_neg = max_pos + 1;      // 2^(bits-1)
    if (u.neg) {
      if (overflow || mag >= max_neg) return max_neg & mask;
      return (~mag + 1) & mask;
    }
    if (overflow || mag > max_pos) return max_pos;
    return mag;
  }
  if (u.neg) return 0;
  if (overflow || mag > mask) return mask;
  return mag;
}

// Rounds a value to an integral value in the same format (cvt.rni.f32.f32,
// ...). NaN -> canonical NaN; infinities and zeros are kept with their sign.
inline uint64_t round_to_integral(const Format& f, uint64_t fbits, Rnd r) {
  Unpacked u = unpack(f, fbits);
  if (u.cls == Unpacked::Cls::NaN) return f.canonical_nan();
  if (u.cls != Unpacked::Cls::Finite || u.exp >= 0) return fbits;
  bool overflow = false;
  uint64_t mag = round_to_integer_mag(u, r, &overflow);
  return round_pack(f, u.neg, mag, 0, false, Rnd::RN);
}

// True for a nonzero value with a zero exponent field.
inline bool is_subnormal(const Format& f, uint64_t bits) {
  return ((bits >> f.mbits) & f.exp_mask()) == 0 && (bits & f.frac_mask()) != 0;
}
// Flush-to-zero: a subnormal becomes a zero of the same sign.
inline uint64_t flush_subnormal(const Format& f, uint64_t bits) {
  return is_subnormal(f, bits) ? (bits & f.sign_bit()) : bits;
}
inline float ftz(float x) { return f32_from_bits(flush_subnormal(kF32, bits_of(x))); }
inline double ftz(double x) { return f64_from_bits(flush_subnormal(kF64, bits_of(x))); }

// Sum a + b rounded to odd in double precision: the exact sum's truncation
// with its last bit forced to 1 when inexact. Rounding that once more to any
// format with at most 51 fraction bits gives the correctly rounded result
// (used for f16/bf16 arithmetic computed in double).
inline double add_round_odd(double a, double b) {
  double s = a + b;
  if (!std::isfinite(s)) return s;
  double bb = s - a;
  double err = (a - (s - bb)) + (b - bb);  // exact error of the rounded sum (TwoSum)
  if (err != 0 && (bits_of(s) & 1) == 0) {
    s = std::nextafter(s, err > 0 ? INFINITY : -INFINITY);
  }
  return s;
}

}  // namespace gpool::emu::exec::fp
