// Shared plumbing for the float, cvt and warp op families: per-lane operand
// access, the active-lane loop, a scoped host rounding mode, and modifier
// decoding for lowerers.
//
// Owner: the float family (exec-float). Internal to emulator/exec/src.
//
// Thread safety: HostRounding changes the calling thread's floating-point
// environment for its lifetime only; everything else is stateless.
#pragma once

#include "engine.h"
#include "float_bits.h"

#include <cfenv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::emu::exec::fl {

// A source operand read per lane: a register column, or an immediate
// broadcast to every lane (index mask 0), without a branch per lane.
struct Src {
  const uint64_t* p;
  uint32_t m;
  uint64_t operator[](int lane) const { return p[static_cast<uint32_t>(lane) & m]; }
};
inline Src src(const WarpState& w, const LOperand& o) {
  if (o.kind == LOperand::Kind::Imm) return Src{&o.imm, 0};
  return Src{w.reg(o.index), 31};
}

// Runs f(lane) for every lane in `active`; the full-warp case is a plain loop.
template <class F>
inline void for_lanes(LaneMask active, F&& f) {
  if (active == kFullMask) {
    for (int l = 0; l < kWarpSize; ++l) f(l);
  } else {
    for (LaneMask m = active; m; m &= m - 1) f(std::countr_zero(m));
  }
}

// Sets the host rounding mode for one handler call and restores it after.
// Values are loaded from and stored to warp registers (memory) inside the
// scope, which keeps the compiler from moving the arithmetic across the
// fesetround calls.
class HostRounding {
 public:
  explicit HostRounding(fp::Rnd r) {
    int mode = FE_TONEAREST;
    switch (r) {
      case fp::Rnd::RZ: mode = FE_TOWARDZERO; break;
      case fp::Rnd::RM: mode = FE_DOWNWARD; break;
      case fp::Rnd::RP: mode = FE_UPWARD; break;
      default: break;
    }
    if (mode != FE_TONEAREST) {
      saved_ = std::fegetround();
      std::fesetround(mode);
      active_ = true;
    }
  }
  ~HostRounding() {
    if (active_) std::fesetround(saved_);
  }
  HostRounding(const HostRounding&) = delete;
  HostRounding& operator=(const HostRounding&) = delete;

 private:
  int saved_ = FE_TONEAREST;
  bool active_ = false;
};

// Modifier flags kept in LInstr::aux2 by the float family.
enum Flag : uint32_t {
  kFtz = 1u << 0,
  kSat = 1u << 1,
  kRelu = 1u << 2,
  kNaN = 1u << 3,
  kXorSign = 1u << 4,
  kSatFinite = 1u << 5,
  kApprox = 1u << 6,
  kFull = 1u << 7,
  kAbs = 1u << 8,
};

// Decoded dot-modifiers of one instruction.
struct Mods {
  std::optional<fp::Rnd> rnd;   // rn rz rm rp rna
  std::optional<fp::Rnd> irnd;  // rni rzi rmi rpi
  uint32_t flags = 0;
  std::vector<ptx::Type> types;     // type modifiers in order
  std::vector<std::string> others;  // anything else, in order
};

inline std::optional<ptx::Type> type_of(std::string_view m) {
  using T = ptx::Type;
  static constexpr struct { const char* n; T t; } kTypes[] = {
      {"b8", T::B8},     {"b16", T::B16},   {"b32", T::B32},       {"b64", T::B64},
      {"b128", T::B128}, {"u8", T::U8},     {"u16", T::U16},       {"u32", T::U32},
      {"u64", T::U64},   {"s8", T::S8},     {"s16", T::S16},       {"s32", T::S32},
      {"s64", T::S64},   {"f16", T::F16},   {"f16x2", T::F16x2},   {"bf16", T::BF16},
      {"bf16x2", T::BF16x2}, {"f32", T::F32}, {"f64", T::F64},     {"pred", T::Pred},
      {"tf32", T::TF32}, {"e4m3x2", T::E4M3x2}, {"e5m2x2", T::E5M2x2},
  };
  for (const auto& e : kTypes)
    if (m == e.n) return e.t;
  return std::nullopt;
}

inline Mods decode_mods(const ptx::Instruction& in) {
  Mods r;
  for (const std::string& m : in.modifiers) {
    if (m == "rn") r.rnd = fp::Rnd::RN;
    else if (m == "rz") r.rnd = fp::Rnd::RZ;
    else if (m == "rm") r.rnd = fp::Rnd::RM;
    else if (m == "rp") r.rnd = fp::Rnd::RP;
    else if (m == "rna") r.rnd = fp::Rnd::RNA;
    else if (m == "rni") r.irnd = fp::Rnd::RN;
    else if (m == "rzi") r.irnd = fp::Rnd::RZ;
    else if (m == "rmi") r.irnd = fp::Rnd::RM;
    else if (m == "rpi") r.irnd = fp::Rnd::RP;
    else if (m == "ftz") r.flags |= kFtz;
    else if (m == "sat") r.flags |= kSat;
    else if (m == "relu") r.flags |= kRelu;
    else if (m == "NaN") r.flags |= kNaN;
    else if (m == "xorsign") r.flags |= kXorSign;
    else if (m == "satfinite") r.flags |= kSatFinite;
    else if (m == "approx") r.flags |= kApprox;
    else if (m == "full") r.flags |= kFull;
    else if (m == "abs") r.flags |= kAbs;
    else if (auto t = type_of(m)) r.types.push_back(*t);
    else r.others.push_back(m);
  }
  return r;
}

inline bool is_float_type(ptx::Type t) {
  switch (t) {
    case ptx::Type::F16: case ptx::Type::F16x2: case ptx::Type::BF16:
    case ptx::Type::BF16x2: case ptx::Type::F32: case ptx::Type::F64:
      return true;
    default:
      return false;
  }
}

inline std::string full_opcode(const ptx::Instruction& in) {
  std::string s = in.opcode;
  for (const auto& m : in.modifiers) s += "." + m;
  return s;
}

// Lowers the usual "d, a[, b[, c]]" operand list: destination register of
// type `dt`, then `n` sources of type `st`. Fails with a message when the
// operand count is wrong.
inline bool lower_dsrc(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, ptx::Type dt,
                       ptx::Type st, size_t n) {
  if (in.operands.size() != n + 1)
    return ctx.fail(in, "operand count of " + full_opcode(in) + " (expected " +
                            std::to_string(n + 1) + ")");
  if (!ctx.dst(in.operands[0], dt, &out.d[0])) return false;
  out.nd = 1;
  for (size_t i = 0; i < n; ++i)
    if (!ctx.src(in.operands[i + 1], st, &out.s[i])) return false;
  out.ns = static_cast<uint8_t>(n);
  return true;
}

// Destination column for a handler; a sink ("_") writes to `scratch`.
inline uint64_t* dst(WarpState& w, const LOperand& o, uint64_t* scratch) {
  return o.kind == LOperand::Kind::Reg ? w.reg(o.index) : scratch;
}

}  // namespace gpool::emu::exec::fl
