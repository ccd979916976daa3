// Warp-level ops: shfl(.sync), vote(.sync), match.sync, activemask,
// redux.sync, elect.sync.
//
// Lock-step model: a handler sees the lanes executing the instruction
// (`active`); those are the participants. A lane named in membermask that is
// not active (divergent membermask, undefined in PTX) does not contribute:
// vote/ballot/match/redux only combine lanes in (membermask & active), using
// each executing lane's own membermask. shfl reading from an inactive source
// lane returns that lane's current register value.
//
// Operand layouts (LInstr):
//   shfl:  d[0] = value, d[1] = optional predicate; s = a, b, c, membermask;
//          aux = mode (0 up, 1 down, 2 bfly, 3 idx).
//   vote:  d[0] = predicate (all/any/uni) or b32 (ballot); s[0] = predicate,
//          s[1] = membermask (None: legacy non-.sync form, all active lanes);
//          aux = mode.
//   match: d[0] = b32 mask, d[1] = optional predicate (all); s = a, membermask;
//          aux = 0 any, 1 all; aux2 = value width in bytes.
//   redux: d[0]; s = a, membermask; aux = op; type = operand type.
//   elect: d[0] = u32 leader lane (or None), d[1] = predicate; s[0] = membermask.
//
// Owner: the float family (exec-float).
#include "engine.h"
#include "float_lanes.h"

#include <bit>
#include <cmath>

namespace gpool::emu::exec {
namespace fl {
namespace {

inline void write_pred(WarpState& w, const LOperand& d, LaneMask v, LaneMask active) {
  if (d.kind != LOperand::Kind::Pred) return;
  LaneMask& p = w.preds[d.index];
  p = (p & ~active) | (v & active);
}

// Per-lane participant mask: the lane's membermask restricted to active lanes.
inline LaneMask members(const WarpState& w, const LOperand& mm, int lane, LaneMask active) {
  if (mm.kind == LOperand::Kind::None) return active;
  return static_cast<LaneMask>(w.get(mm, lane)) & active;
}

// ---- shfl ---------------------------------------------------------------

enum class ShflMode : uint32_t { Up, Down, Bfly, Idx };

// One instantiation per mode: the mode switch is resolved at lowering time.
template <ShflMode kMode>
void h_shfl(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]), b = src(w, in.s[1]), c = src(w, in.s[2]);
  uint32_t val[kWarpSize];
  for (int l = 0; l < kWarpSize; ++l) val[l] = static_cast<uint32_t>(a[l]);  // snapshot: d may alias a
  LaneMask pv_mask = 0;
  for_lanes(active, [&](int lane) {
    const int bval = static_cast<int>(b[lane] & 0x1f);
    const uint32_t cv = static_cast<uint32_t>(c[lane]);
    const int cval = static_cast<int>(cv & 0x1f);
    const int segmask = static_cast<int>((cv >> 8) & 0x1f);
    const int max_lane = (lane & segmask) | (cval & ~segmask);
    const int min_lane = lane & segmask;
    int j = lane;
    bool pv = false;
    if constexpr (kMode == ShflMode::Up) {
      j = lane - bval;
      pv = j >= max_lane;
    } else if constexpr (kMode == ShflMode::Down) {
      j = lane + bval;
      pv = j <= max_lane;
    } else if constexpr (kMode == ShflMode::Bfly) {
      j = lane ^ bval;
      pv = j <= max_lane;
    } else {
      j = min_lane | (bval & ~segmask);
      pv = j <= max_lane;
    }
    if (!pv) j = lane;
    d[lane] = val[j & 31];
    pv_mask |= static_cast<LaneMask>(pv) << lane;
  });
  write_pred(w, in.d[1], pv_mask, active);
}

bool lower_shfl(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  bool sync = false;
  std::optional<ShflMode> mode;
  for (const auto& o : m.others) {
    if (o == "sync") sync = true;
    else if (o == "up") mode = ShflMode::Up;
    else if (o == "down") mode = ShflMode::Down;
    else if (o == "bfly") mode = ShflMode::Bfly;
    else if (o == "idx") mode = ShflMode::Idx;
    else return ctx.fail(in, "modifier ." + o + " on " + name);
  }
  if (!mode) return ctx.fail(in, "shuffle mode missing in " + name);
  if (m.types.size() != 1 || (m.types[0] != ptx::Type::B32 && m.types[0] != ptx::Type::U32 &&
                              m.types[0] != ptx::Type::S32 && m.types[0] != ptx::Type::F32))
    return ctx.fail(in, "type of " + name + " (only .b32)");
  if (m.flags || m.rnd || m.irnd) return ctx.fail(in, "modifier combination " + name);
  const size_t want = sync ? 5 : 4;
  const auto& ops = in.operands;
  size_t first = 1;
  if (ops.empty()) return ctx.fail(in, "operand count of " + name);
  if (!ctx.dst(ops[0], ptx::Type::B32, &out.d[0])) return false;
  out.nd = 1;
  if (!ops[0].pipe.empty()) {
    ptx::Operand p;
    p.kind = ptx::Operand::Kind::Register;
    p.name = ops[0].pipe;
    if (!ctx.pred(p, &out.d[1])) return false;
    out.nd = 2;
  } else if (ops.size() == want + 1) {  // d, p as separate operands
    if (ops[1].kind != ptx::Operand::Kind::Sink && !ctx.pred(ops[1], &out.d[1])) return false;
    out.nd = 2;
    first = 2;
  }
  if (ops.size() != first + want - 1) return ctx.fail(in, "operand count of " + name);
  if (!ctx.src(ops[first], ptx::Type::B32, &out.s[0])) return false;
  if (!ctx.src(ops[first + 1], ptx::Type::U32, &out.s[1])) return false;
  if (!ctx.src(ops[first + 2], ptx::Type::U32, &out.s[2])) return false;
  out.ns = 3;
  if (sync) {
    if (!ctx.src(ops[first + 3], ptx::Type::U32, &out.s[3])) return false;
    out.ns = 4;
  }
  out.type = ptx::Type::B32;
  out.aux = static_cast<uint32_t>(*mode);
  switch (*mode) {
    case ShflMode::Up: out.fn = h_shfl<ShflMode::Up>; break;
    case ShflMode::Down: out.fn = h_shfl<ShflMode::Down>; break;
    case ShflMode::Bfly: out.fn = h_shfl<ShflMode::Bfly>; break;
    case ShflMode::Idx: out.fn = h_shfl<ShflMode::Idx>; break;
  }
  return true;
}

// ---- vote ---------------------------------------------------------------

enum class VoteMode : uint32_t { All, Any, Uni, Ballot };

void h_vote(const LInstr& in, WarpState& w, LaneMask active) {
  const LaneMask pm = w.pred(in.s[0]) & active;
  const auto mode = static_cast<VoteMode>(in.aux);
  if (mode == VoteMode::Ballot) {
    uint64_t scratch[kWarpSize];
    uint64_t* d = dst(w, in.d[0], scratch);
    for_lanes(active, [&](int l) { d[l] = pm & members(w, in.s[1], l, active); });
    return;
  }
  LaneMask r = 0;
  for_lanes(active, [&](int l) {
    const LaneMask mm = members(w, in.s[1], l, active);
    const LaneMask v = pm & mm;
    bool b = false;
    switch (mode) {
      case VoteMode::All: b = v == mm; break;
      case VoteMode::Any: b = v != 0; break;
      case VoteMode::Uni: b = v == mm || v == 0; break;
      case VoteMode::Ballot: break;
    }
    r |= static_cast<LaneMask>(b) << l;
  });
  write_pred(w, in.d[0], r, active);
}

bool lower_vote(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  bool sync = false;
  std::optional<VoteMode> mode;
  for (const auto& o : m.others) {
    if (o == "sync") sync = true;
    else if (o == "all") mode = VoteMode::All;
    else if (o == "any") mode = VoteMode::Any;
    else if (o == "uni") mode = VoteMode::Uni;
    else if (o == "ballot") mode = VoteMode::Ballot;
    else return ctx.fail(in, "modifier ." + o + " on " + name);
  }
  if (!mode) return ctx.fail(in, "vote mode missing in " + name);
  const bool ballot = *mode == VoteMode::Ballot;
  if (m.types.size() != 1 || m.types[0] != (ballot ? ptx::Type::B32 : ptx::Type::Pred))
    return ctx.fail(in, "type of " + name);
  if (m.flags || m.rnd || m.irnd) return ctx.fail(in, "modifier combination " + name);
  if (in.operands.size() != (sync ? 3u : 2u)) return ctx.fail(in, "operand count of " + name);
  if (ballot) {
    if (!ctx.dst(in.operands[0], ptx::Type::B32, &out.d[0])) return false;
  } else {
    if (!ctx.pred(in.operands[0], &out.d[0])) return false;
  }
  out.nd = 1;
  if (!ctx.pred(in.operands[1], &out.s[0])) return false;
  out.ns = 2;
  out.s[1] = LOperand{};
  if (sync && !ctx.src(in.operands[2], ptx::Type::U32, &out.s[1])) return false;
  out.aux = static_cast<uint32_t>(*mode);
  out.fn = h_vote;
  return true;
}

// ---- match --------------------------------------------------------------

void h_match(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const uint64_t vmask = in.aux2 == 4 ? 0xffffffffull : ~uint64_t{0};
  const bool all = in.aux == 1;
  LaneMask pv = 0;
  for_lanes(active, [&](int l) {
    const LaneMask mm = members(w, in.s[1], l, active);
    const uint64_t mine = a[l] & vmask;
    LaneMask same = 0;
    for (LaneMask t = mm; t; t &= t - 1) {
      const int o = std::countr_zero(t);
      if ((a[o] & vmask) == mine) same |= LaneMask{1} << o;
    }
    if (all) {
      const bool eq = same == mm;
      d[l] = eq ? mm : 0;
      pv |= static_cast<LaneMask>(eq) << l;
    } else {
      d[l] = same;
    }
  });
  write_pred(w, in.d[1], pv, active);
}

bool lower_match(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  bool sync = false, any = false, all = false;
  for (const auto& o : m.others) {
    if (o == "sync") sync = true;
    else if (o == "any") any = true;
    else if (o == "all") all = true;
    else return ctx.fail(in, "modifier ." + o + " on " + name);
  }
  if (!sync || any == all) return ctx.fail(in, "form " + name + " (match.any.sync / match.all.sync)");
  if (m.types.size() != 1 || (m.types[0] != ptx::Type::B32 && m.types[0] != ptx::Type::B64))
    return ctx.fail(in, "type of " + name);
  const ptx::Type t = m.types[0];
  const auto& ops = in.operands;
  size_t first = 1;
  if (ops.empty() || !ctx.dst(ops[0], ptx::Type::B32, &out.d[0])) {
    return ops.empty() ? ctx.fail(in, "operand count of " + name) : false;
  }
  out.nd = 1;
  if (!ops[0].pipe.empty()) {
    if (any) return ctx.fail(in, name + " has no predicate destination");
    ptx::Operand p;
    p.kind = ptx::Operand::Kind::Register;
    p.name = ops[0].pipe;
    if (!ctx.pred(p, &out.d[1])) return false;
    out.nd = 2;
  } else if (all && ops.size() == 4) {
    if (!ctx.pred(ops[1], &out.d[1])) return false;
    out.nd = 2;
    first = 2;
  }
  if (ops.size() != first + 2) return ctx.fail(in, "operand count of " + name);
  if (!ctx.src(ops[first], t, &out.s[0])) return false;
  if (!ctx.src(ops[first + 1], ptx::Type::U32, &out.s[1])) return false;
  out.ns = 2;
  out.aux = all ? 1 : 0;
  out.aux2 = t == ptx::Type::B32 ? 4 : 8;
  out.fn = h_match;
  return true;
}

// ---- activemask ---------------------------------------------------------

void h_activemask(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  for_lanes(active, [&](int l) { d[l] = active; });
}

bool lower_activemask(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const std::string name = full_opcode(in);
  if (in.modifiers.size() != 1 || in.modifiers[0] != "b32") return ctx.fail(in, "form " + name);
  if (in.operands.size() != 1) return ctx.fail(in, "operand count of " + name);
  if (!ctx.dst(in.operands[0], ptx::Type::B32, &out.d[0])) return false;
  out.nd = 1;
  out.fn = h_activemask;
  return true;
}

// ---- redux.sync ---------------------------------------------------------

enum class Redux : uint32_t { Add, Min, Max, And, Or, Xor };

template <class T>
T redux_combine(Redux op, T x, T y) {
  switch (op) {
    case Redux::Add:  // wraps modulo 2^32 (in unsigned arithmetic: a signed overflow is undefined in C++)
      return static_cast<T>(static_cast<std::make_unsigned_t<T>>(x) + static_cast<std::make_unsigned_t<T>>(y));
    case Redux::Min: return y < x ? y : x;
    case Redux::Max: return y > x ? y : x;
    case Redux::And: return x & y;
    case Redux::Or: return x | y;
    case Redux::Xor: return x ^ y;
  }
  return x;
}

template <class T>
void h_redux(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const auto op = static_cast<Redux>(in.aux);
  // Lanes usually share one membermask: reduce once per distinct mask.
  LaneMask last_mm = 0;
  uint32_t last_val = 0;
  bool have = false;
  for_lanes(active, [&](int l) {
    const LaneMask mm = members(w, in.s[1], l, active);
    if (!have || mm != last_mm) {
      T acc{};
      bool first = true;
      for (LaneMask t = mm; t; t &= t - 1) {
        const T v = static_cast<T>(a[std::countr_zero(t)]);
        acc = first ? v : redux_combine<T>(op, acc, v);
        first = false;
      }
      last_mm = mm;
      last_val = static_cast<uint32_t>(acc);
      have = true;
    }
    d[l] = last_val;
  });
}

// redux.sync.min/max{.abs}{.NaN}.f32.
void h_redux_f32(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  const Src a = src(w, in.s[0]);
  const bool is_max = in.aux == static_cast<uint32_t>(Redux::Max);
  const bool abs = (in.aux2 & kAbs) != 0, nan = (in.aux2 & kNaN) != 0;
  for_lanes(active, [&](int l) {
    const LaneMask mm = members(w, in.s[1], l, active);
    float acc = 0;
    bool first = true, saw_nan = false, all_nan = true;
    for (LaneMask t = mm; t; t &= t - 1) {
      float v = fp::f32_from_bits(a[std::countr_zero(t)]);
      if (abs) v = std::fabs(v);
      if (v != v) {
        saw_nan = true;
        continue;
      }
      all_nan = false;
      if (first) acc = v;
      else if (is_max) acc = (v > acc || (v == acc && !std::signbit(v))) ? v : acc;
      else acc = (v < acc || (v == acc && std::signbit(v))) ? v : acc;
      first = false;
    }
    d[l] = ((nan && saw_nan) || (all_nan && mm)) ? fp::kF32.canonical_nan() : fp::bits_of(acc);
  });
}

bool lower_redux(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const Mods m = decode_mods(in);
  const std::string name = full_opcode(in);
  bool sync = false;
  std::optional<Redux> op;
  for (const auto& o : m.others) {
    if (o == "sync") sync = true;
    else if (o == "add") op = Redux::Add;
    else if (o == "min") op = Redux::Min;
    else if (o == "max") op = Redux::Max;
    else if (o == "and") op = Redux::And;
    else if (o == "or") op = Redux::Or;
    else if (o == "xor") op = Redux::Xor;
    else return ctx.fail(in, "modifier ." + o + " on " + name);
  }
  if (!sync || !op || m.types.size() != 1 || m.rnd || m.irnd) return ctx.fail(in, "form " + name);
  const ptx::Type t = m.types[0];
  const bool bitwise = *op == Redux::And || *op == Redux::Or || *op == Redux::Xor;
  if (t == ptx::Type::F32) {
    if (*op != Redux::Min && *op != Redux::Max) return ctx.fail(in, "form " + name);
    if (m.flags & ~(kAbs | kNaN)) return ctx.fail(in, "modifier combination " + name);
    out.fn = h_redux_f32;
  } else {
    if (m.flags) return ctx.fail(in, "modifier combination " + name);
    if (bitwise ? t != ptx::Type::B32 : (t != ptx::Type::U32 && t != ptx::Type::S32))
      return ctx.fail(in, "type of " + name);
    out.fn = t == ptx::Type::S32 ? h_redux<int32_t> : h_redux<uint32_t>;
  }
  if (in.operands.size() != 3) return ctx.fail(in, "operand count of " + name);
  if (!ctx.dst(in.operands[0], t, &out.d[0])) return false;
  if (!ctx.src(in.operands[1], t, &out.s[0])) return false;
  if (!ctx.src(in.operands[2], ptx::Type::U32, &out.s[1])) return false;
  out.nd = 1;
  out.ns = 2;
  out.type = t;
  out.aux = static_cast<uint32_t>(*op);
  out.aux2 = m.flags;
  return true;
}

// ---- elect.sync ---------------------------------------------------------

void h_elect(const LInstr& in, WarpState& w, LaneMask active) {
  uint64_t scratch[kWarpSize];
  uint64_t* d = dst(w, in.d[0], scratch);
  LaneMask leaders = 0;
  for_lanes(active, [&](int l) {
    const LaneMask mm = members(w, in.s[0], l, active);
    const int leader = mm ? std::countr_zero(mm) : l;
    d[l] = static_cast<uint32_t>(leader);
    leaders |= static_cast<LaneMask>(leader == l) << l;
  });
  write_pred(w, in.d[1], leaders, active);
}

bool lower_elect(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const std::string name = full_opcode(in);
  if (in.modifiers.size() != 1 || in.modifiers[0] != "sync") return ctx.fail(in, "form " + name);
  if (in.operands.size() != 2 || in.operands[0].pipe.empty())
    return ctx.fail(in, "operands of " + name + " (expected d|p, membermask)");
  out.d[0] = LOperand{};
  if (in.operands[0].kind != ptx::Operand::Kind::Sink &&
      !ctx.dst(in.operands[0], ptx::Type::U32, &out.d[0]))
    return false;
  ptx::Operand p;
  p.kind = ptx::Operand::Kind::Register;
  p.name = in.operands[0].pipe;
  if (!ctx.pred(p, &out.d[1])) return false;
  if (!ctx.src(in.operands[1], ptx::Type::U32, &out.s[0])) return false;
  out.nd = 2;
  out.ns = 1;
  out.fn = h_elect;
  return true;
}

}  // namespace
}  // namespace fl

void register_warp_ops(OpTable& t) {
  t.add("shfl", fl::lower_shfl);
  t.add("vote", fl::lower_vote);
  t.add("match", fl::lower_match);
  t.add("activemask", fl::lower_activemask);
  t.add("redux", fl::lower_redux);
  t.add("elect", fl::lower_elect);
}

}  // namespace gpool::emu::exec
