// add/sub/mul/fma on f16, f16x2, bf16 and bf16x2 (.rn only, as PTX allows),
// with .ftz and .sat (f16) and .relu (fma).
//
// Each half is widened exactly to double, the operation is done there with
// round-to-odd (exact products, TwoSum for sums), and the result is rounded
// once to the half format: bit-exact round-to-nearest-even. Packed x2 forms
// operate on the low and high 16 bits independently.
//
// Owner: the float family (exec-float).
#include "float_family.h"

namespace gpool::emu::exec::fl {
namespace {

template <bool kBF>
constexpr const fp::Format& fmt() {
  return kBF ? fp::kBF16 : fp::kF16;
}

template <bool kBF>
inline double widen(uint64_t h) {
  return kBF ? static_cast<double>(fp::bf16_bits_to_f32(h)) : static_cast<double>(fp::f16_bits_to_f32(h));
}

template <bool kBF, Arith op>
inline uint64_t half_op(uint64_t x, uint64_t y, uint64_t z, uint32_t flags) {
  constexpr const fp::Format& F = fmt<kBF>();
  if (flags & kFtz) {
    x = fp::flush_subnormal(F, x);
    y = fp::flush_subnormal(F, y);
    z = fp::flush_subnormal(F, z);
  }
  const double a = widen<kBF>(x), b = widen<kBF>(y);
  double r;
  if constexpr (op == Arith::Add) r = fp::add_round_odd(a, b);
  else if constexpr (op == Arith::Sub) r = fp::add_round_odd(a, -b);
  else if constexpr (op == Arith::Mul) r = a * b;  // exact: 11- or 8-bit significands
  else r = fp::add_round_odd(a * b, widen<kBF>(z));
  uint64_t h = fp::convert(fp::kF64, F, fp::bits_of(r), fp::Rnd::RN);
  if (flags & kFtz) h = fp::flush_subnormal(F, h);
  const bool nan = (h & 0x7fff) > F.inf(false);
  if (flags & kSat) {
    const uint64_t one = kBF ? 0x3f80 : 0x3c00;
    if (nan || (h & 0x8000)) h = 0;
    else if (h > one) h = one;  // positive values order like their bits
  }
  if ((flags & kRelu) && !nan && (h & 0x8000)) h = 0;
  return h;
}

template <bool kBF, bool kX2, Arith op>
void h_half(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]);
  const Src c = op == Arith::Fma ? src(w, in.s[2]) : a;
  const uint32_t flags = in.aux2;
  for_lanes(active, [&](int l) {
    const uint64_t x = a[l], y = b[l], z = c[l];
    uint64_t r = half_op<kBF, op>(x & 0xffff, y & 0xffff, z & 0xffff, flags);
    if constexpr (kX2)
      r |= half_op<kBF, op>((x >> 16) & 0xffff, (y >> 16) & 0xffff, (z >> 16) & 0xffff, flags) << 16;
    d[l] = r;
  });
}

template <bool kBF, bool kX2>
Handler pick(Arith op) {
  switch (op) {
    case Arith::Add: return h_half<kBF, kX2, Arith::Add>;
    case Arith::Sub: return h_half<kBF, kX2, Arith::Sub>;
    case Arith::Mul: return h_half<kBF, kX2, Arith::Mul>;
    case Arith::Fma: return h_half<kBF, kX2, Arith::Fma>;
    case Arith::Div: return nullptr;
  }
  return nullptr;
}

}  // namespace

bool lower_half_arith(const ptx::Instruction& in, const Mods& m, LowerContext& ctx, LInstr& out,
                      Arith op) {
  const std::string name = full_opcode(in);
  const ptx::Type t = m.types[0];
  const bool bf = t == ptx::Type::BF16 || t == ptx::Type::BF16x2;
  const bool x2 = t == ptx::Type::F16x2 || t == ptx::Type::BF16x2;
  if (op == Arith::Div) return ctx.fail(in, name + " (no division on half types)");
  if (m.rnd && *m.rnd != fp::Rnd::RN) return ctx.fail(in, "rounding mode on " + name + " (only .rn)");
  uint32_t allowed = bf ? 0 : (kFtz | kSat);
  if (op == Arith::Fma) allowed |= kRelu;
  if (m.flags & ~allowed) return ctx.fail(in, "modifier combination " + name);
  out.type = t;
  out.aux = 0;
  out.aux2 = m.flags;
  out.fn = bf ? (x2 ? pick<true, true>(op) : pick<true, false>(op))
              : (x2 ? pick<false, true>(op) : pick<false, false>(op));
  return lower_dsrc(in, ctx, out, t, t, op == Arith::Fma ? 3 : 2);
}

}  // namespace gpool::emu::exec::fl
