// atom and red on global, shared and generic addresses: add inc dec min max
// exch cas and or xor on b32/b64/u32/s32/u64/s64/f32/f64, add.noftz on
// f16/bf16/f16x2/bf16x2 (each half rounded to nearest even, subnormals kept;
// the x2 forms update both halves in one 32-bit atomic), cas on b16.
//
// Global memory is shared with blocks running on other host threads, so
// global atomics are real CPU atomics (a compare-exchange loop on the bits).
// Shared and local memory belong to one host thread: plain read-modify-write.
// Lanes apply their operations in lane order.
//
// Operands: d[0] old value (atom only), s[0] base, s[1] b, s[2] c (cas);
// aux = space, aux2 = op.
#include "float_bits.h"
#include "lower_context.h"
#include "mem_access.h"
#include "ops.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <type_traits>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

enum Op : uint32_t { Add, Inc, Dec, Min, Max, Exch, Cas, And, Or, Xor };

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

// Half-precision element types (only add reaches them): F is kF16 or kBF16.
template <const fp::Format& F>
struct Half {};
template <const fp::Format& F>
struct HalfPair {};

template <const fp::Format& F>
uint16_t half_add(uint16_t a, uint16_t b) {
  // Rounded to odd in double, then once to the 16-bit format: the correctly rounded sum.
  double x = fp::f64_from_bits(fp::convert(F, fp::kF64, a, fp::Rnd::RN));
  double y = fp::f64_from_bits(fp::convert(F, fp::kF64, b, fp::Rnd::RN));
  return static_cast<uint16_t>(fp::convert(fp::kF64, F, fp::bits_of(fp::add_round_odd(x, y)), fp::Rnd::RN));
}

template <class T>
struct IsHalf : std::false_type {};
template <const fp::Format& F>
struct IsHalf<Half<F>> : std::true_type {};
template <const fp::Format& F>
struct IsHalf<HalfPair<F>> : std::true_type {};

template <class T, class UB>
UB apply_half(UB oldb, UB bb) {
  if constexpr (std::is_same_v<T, Half<fp::kF16>>) return half_add<fp::kF16>(oldb, bb);
  else if constexpr (std::is_same_v<T, Half<fp::kBF16>>) return half_add<fp::kBF16>(oldb, bb);
  else {
    constexpr const fp::Format& F = std::is_same_v<T, HalfPair<fp::kF16>> ? fp::kF16 : fp::kBF16;
    uint32_t lo = half_add<F>(static_cast<uint16_t>(oldb), static_cast<uint16_t>(bb));
    uint32_t hi = half_add<F>(static_cast<uint16_t>(oldb >> 16), static_cast<uint16_t>(bb >> 16));
    return static_cast<UB>(lo | hi << 16);
  }
}

// Value semantics: T is the PTX type's C type, stored as bits in UB.
template <class T, class UB>
UB apply(uint32_t op, UB oldb, UB bb, UB cb) {
  if constexpr (IsHalf<T>::value) {
    (void)op;  // lowering admits add only
    (void)cb;
    return apply_half<T, UB>(oldb, bb);
  } else {
  T old = std::bit_cast<T>(oldb), b = std::bit_cast<T>(bb);
  switch (op) {
    case Add:
      if constexpr (std::is_floating_point_v<T>) return std::bit_cast<UB>(static_cast<T>(old + b));
      else return static_cast<UB>(oldb + bb);
    case Inc: return oldb >= bb ? UB{0} : static_cast<UB>(oldb + 1);
    case Dec: return (oldb == 0 || oldb > bb) ? bb : static_cast<UB>(oldb - 1);
    case Min: return b < old ? bb : oldb;
    case Max: return b > old ? bb : oldb;
    case Exch: return bb;
    case Cas: return oldb == bb ? cb : oldb;
    case And: return oldb & bb;
    case Or: return oldb | bb;
    default: return oldb ^ bb;
  }
  }
}

// UB: the unsigned type of the location's width.
template <class T, class UB>
void h_atom(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t addr[kWarpSize];
  uint8_t* ptrs[kWarpSize];
  lane_addresses(in, w, act, addr);
  auto space = static_cast<ptx::Space>(in.aux);
  if (!resolve_lanes(in, w, act, space, addr, sizeof(UB), sizeof(UB), true, ptrs)) return;
  bool has_dst = in.nd > 0;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    UB b = static_cast<UB>(w.get(in.s[1], l));
    UB c = in.ns > 2 ? static_cast<UB>(w.get(in.s[2], l)) : UB{0};
    ptx::Space s = space == ptx::Space::Generic ? generic_space(addr[l]) : space;
    UB old;
    if (s == ptx::Space::Global || s == ptx::Space::Const) {
      std::atomic_ref<UB> ref(*reinterpret_cast<UB*>(ptrs[l]));
      old = ref.load(std::memory_order_relaxed);
      while (!ref.compare_exchange_weak(old, apply<T, UB>(in.aux2, old, b, c), std::memory_order_seq_cst)) {
      }
    } else {
      std::memcpy(&old, ptrs[l], sizeof(UB));
      UB nv = apply<T, UB>(in.aux2, old, b, c);
      std::memcpy(ptrs[l], &nv, sizeof(UB));
    }
    if (has_dst) w.reg(in.d[0].index)[l] = static_cast<uint64_t>(old);
  }
}

bool lower_atom(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  bool red = in.opcode == "red";
  ptx::Space space = ptx::Space::Generic;
  int op = -1;
  ptx::Type t = ptx::Type::None;
  static const char* ops[] = {"add", "inc", "dec", "min", "max", "exch", "cas", "and", "or", "xor"};
  for (auto& m : in.modifiers) {
    if (m == "global") space = ptx::Space::Global;
    else if (m == "shared" || m == "shared::cta") space = ptx::Space::Shared;
    else if (auto ty = ptx::type_from_name(m)) t = *ty;
    else if (m == "relaxed" || m == "acquire" || m == "release" || m == "acq_rel" || m == "cta" || m == "gpu" ||
             m == "sys" || m == "cluster" || m == "noftz" || m.rfind("L2::", 0) == 0) {
    } else {
      bool found = false;
      for (int i = 0; i < 10; ++i)
        if (m == ops[i]) op = i, found = true;
      if (!found) return bad(in, ctx);
    }
  }
  if (op < 0) return bad(in, ctx);
  bool half = t == ptx::Type::F16 || t == ptx::Type::BF16 || t == ptx::Type::F16x2 || t == ptx::Type::BF16x2;
  bool noftz = std::find(in.modifiers.begin(), in.modifiers.end(), "noftz") != in.modifiers.end();
  if (half && (op != Add || !noftz)) return bad(in, ctx);  // the ISA has add.noftz only
  if (t == ptx::Type::B16 && op != Cas) return bad(in, ctx);  // and cas.b16
  uint32_t size = ptx::type_size(t);
  if (size != 4 && size != 8 && !half && t != ptx::Type::B16) return bad(in, ctx);
  if ((op == Inc || op == Dec) && t != ptx::Type::U32) return bad(in, ctx);
  if (is_float_type(t) && !half && op != Add && op != Exch && op != Min && op != Max) return bad(in, ctx);
  size_t want = (red ? 2 : 3) + (op == Cas ? 1 : 0);
  if (in.operands.size() != want) return bad(in, ctx);
  size_t i = 0;
  if (!red) {
    if (!c.dst_reg(in.operands[0], t, &out.d[0])) return bad(in, ctx);
    out.nd = 1;
    i = 1;
  }
  MemRef mr;
  if (!c.address(in.operands[i], space, &out.s[0], &mr)) return bad(in, ctx);
  if (mr.space == ptx::Space::Local) return bad(in, ctx);
  if (!c.src(in.operands[i + 1], t, &out.s[1])) return bad(in, ctx);
  out.ns = 2;
  if (op == Cas) {
    if (!c.src(in.operands[i + 2], t, &out.s[2])) return bad(in, ctx);
    out.ns = 3;
  }
  out.offset = mr.offset;
  out.aux = static_cast<uint32_t>(mr.space);
  out.aux2 = static_cast<uint32_t>(op);
  out.type = t;
  switch (t) {
    case ptx::Type::B32: case ptx::Type::U32: out.fn = &h_atom<uint32_t, uint32_t>; break;
    case ptx::Type::S32: out.fn = &h_atom<int32_t, uint32_t>; break;
    case ptx::Type::B64: case ptx::Type::U64: out.fn = &h_atom<uint64_t, uint64_t>; break;
    case ptx::Type::S64: out.fn = &h_atom<int64_t, uint64_t>; break;
    case ptx::Type::F32: out.fn = &h_atom<float, uint32_t>; break;
    case ptx::Type::F64: out.fn = &h_atom<double, uint64_t>; break;
    case ptx::Type::B16: out.fn = &h_atom<uint16_t, uint16_t>; break;
    case ptx::Type::F16: out.fn = &h_atom<Half<fp::kF16>, uint16_t>; break;
    case ptx::Type::BF16: out.fn = &h_atom<Half<fp::kBF16>, uint16_t>; break;
    case ptx::Type::F16x2: out.fn = &h_atom<HalfPair<fp::kF16>, uint32_t>; break;
    case ptx::Type::BF16x2: out.fn = &h_atom<HalfPair<fp::kBF16>, uint32_t>; break;
    default: return bad(in, ctx);
  }
  return true;
}

}  // namespace

void register_atomic_ops(OpTable& t) {
  t.add("atom", lower_atom);
  t.add("red", lower_atom);
}

}  // namespace gpool::emu::exec
