// atom and red on global, shared and generic addresses: add inc dec min max
// exch cas and or xor on b32/b64/u32/s32/u64/s64/f32/f64; add (.noftz) on
// f16/bf16 and, per 16-bit half, f16x2/bf16x2; cas on b16.
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

#include <atomic>
#include <bit>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

enum Op : uint32_t { Add, Inc, Dec, Min, Max, Exch, Cas, And, Or, Xor };

bool bad(const ptx::Instruction& in, LowerContext& ctx) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}'", full_opcode(in)));
}

// Value semantics: T is the PTX type's C type, stored as bits in UB.
template <class T, class UB>
UB apply(uint32_t op, UB oldb, UB bb, UB cb) {
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

// f16/bf16 addition as the ISA defines atom.add.noftz.f16/.bf16: rounded to
// nearest even, subnormal inputs and results kept.
template <bool kBF>
uint16_t half_add(uint16_t x, uint16_t y) {
  const fp::Format& f = kBF ? fp::kBF16 : fp::kF16;
  const double a = fp::f64_from_bits(fp::convert(f, fp::kF64, x, fp::Rnd::RN));
  const double b = fp::f64_from_bits(fp::convert(f, fp::kF64, y, fp::Rnd::RN));
  return static_cast<uint16_t>(fp::convert(fp::kF64, f, fp::bits_of(fp::add_round_odd(a, b)), fp::Rnd::RN));
}

// The 16-bit forms: f16/bf16 add on one half (UB = uint16_t) or on both
// halves independently (x2, UB = uint32_t); b16 cas.
template <class UB, bool kBF>
UB apply_half(uint32_t op, UB oldb, UB bb, UB cb) {
  if (op == Cas) return oldb == bb ? cb : oldb;
  UB r = half_add<kBF>(static_cast<uint16_t>(oldb), static_cast<uint16_t>(bb));
  if constexpr (sizeof(UB) == 4) r |= static_cast<UB>(half_add<kBF>(static_cast<uint16_t>(oldb >> 16), static_cast<uint16_t>(bb >> 16))) << 16;
  return r;
}

template <class T, class UB>
UB apply_typed(uint32_t op, UB oldb, UB bb, UB cb) {
  return apply<T, UB>(op, oldb, bb, cb);
}

// Every lane's read-modify-write, in lane order: UB is the memory word,
// `fn` computes the new word from (op, old, b, c).
template <class UB, UB (*fn)(uint32_t, UB, UB, UB)>
void h_atom_bits(const LInstr& in, WarpState& w, LaneMask act) {
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
      while (!ref.compare_exchange_weak(old, fn(in.aux2, old, b, c), std::memory_order_seq_cst)) {
      }
    } else {
      std::memcpy(&old, ptrs[l], sizeof(UB));
      UB nv = fn(in.aux2, old, b, c);
      std::memcpy(ptrs[l], &nv, sizeof(UB));
    }
    if (has_dst) w.reg(in.d[0].index)[l] = static_cast<uint64_t>(old);
  }
}

template <class T>
void h_atom(const LInstr& in, WarpState& w, LaneMask act) {
  using UB = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  h_atom_bits<UB, apply_typed<T, UB>>(in, w, act);
}

bool lower_atom(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  bool red = in.opcode == "red";
  ptx::Space space = ptx::Space::Generic;
  int op = -1;
  ptx::Type t = ptx::Type::None;
  bool noftz = false;
  static const char* ops[] = {"add", "inc", "dec", "min", "max", "exch", "cas", "and", "or", "xor"};
  for (auto& m : in.modifiers) {
    if (m == "global") space = ptx::Space::Global;
    else if (m == "shared" || m == "shared::cta") space = ptx::Space::Shared;
    else if (auto ty = ptx::type_from_name(m)) t = *ty;
    else if (m == "relaxed" || m == "acquire" || m == "release" || m == "acq_rel" || m == "cta" || m == "gpu" ||
             m == "sys" || m == "cluster" || m.rfind("L2::", 0) == 0) {
    } else if (m == "noftz") {
      noftz = true;
    } else {
      bool found = false;
      for (int i = 0; i < 10; ++i)
        if (m == ops[i]) op = i, found = true;
      if (!found) return bad(in, ctx);
    }
  }
  if (op < 0) return bad(in, ctx);
  uint32_t size = ptx::type_size(t);
  const bool half = t == ptx::Type::F16 || t == ptx::Type::BF16 || t == ptx::Type::F16x2 || t == ptx::Type::BF16x2;
  if (half && (op != Add || !noftz)) return bad(in, ctx);  // the ISA has only add.noftz on these
  if (t == ptx::Type::B16 && op != Cas) return bad(in, ctx);
  if (size != 4 && size != 8 && !half && t != ptx::Type::B16) return bad(in, ctx);
  if ((op == Inc || op == Dec) && t != ptx::Type::U32) return bad(in, ctx);
  if (is_float_type(t) && op != Add && op != Exch && op != Min && op != Max) return bad(in, ctx);
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
    case ptx::Type::B32: case ptx::Type::U32: out.fn = &h_atom<uint32_t>; break;
    case ptx::Type::S32: out.fn = &h_atom<int32_t>; break;
    case ptx::Type::B64: case ptx::Type::U64: out.fn = &h_atom<uint64_t>; break;
    case ptx::Type::S64: out.fn = &h_atom<int64_t>; break;
    case ptx::Type::F32: out.fn = &h_atom<float>; break;
    case ptx::Type::F64: out.fn = &h_atom<double>; break;
    case ptx::Type::F16: out.fn = &h_atom_bits<uint16_t, apply_half<uint16_t, false>>; break;
    case ptx::Type::BF16: out.fn = &h_atom_bits<uint16_t, apply_half<uint16_t, true>>; break;
    case ptx::Type::B16: out.fn = &h_atom_bits<uint16_t, apply_half<uint16_t, false>>; break;  // cas
    case ptx::Type::F16x2: out.fn = &h_atom_bits<uint32_t, apply_half<uint32_t, false>>; break;
    case ptx::Type::BF16x2: out.fn = &h_atom_bits<uint32_t, apply_half<uint32_t, true>>; break;
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
