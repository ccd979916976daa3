// ld, ldu, st, prefetch, prefetchu in every state space, scalar and .v2/.v4;
// .v8 of 32-bit types (256-bit accesses, PTX ISA 8.8) on .global.
//
// Signed loads sign-extend to the width of the destination register, as the
// PTX ISA defines for a register wider than the type (nvcc emits
// `ld.global.s32 %rd9, [..]`): .s8/.s16 into a 16/32-bit register fill the
// low 32 bits of the cell (Sext 1), any signed load into a 64-bit register
// fills all 64 (Sext 2). Unsigned and bit loads zero-extend (Sext 0).
#include "block.h"
#include "lower_context.h"
#include "mem_access.h"
#include "ops.h"

#include <algorithm>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

template <uint32_t B>
inline uint64_t load_bits(const uint8_t* p) {
  if constexpr (B == 1) {
    return *p;
  } else if constexpr (B == 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  } else if constexpr (B == 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  } else {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
}

template <uint32_t B>
inline void store_bits(uint8_t* p, uint64_t v) {
  if constexpr (B == 1) {
    *p = static_cast<uint8_t>(v);
  } else if constexpr (B == 2) {
    uint16_t x = static_cast<uint16_t>(v);
    std::memcpy(p, &x, 2);
  } else if constexpr (B == 4) {
    uint32_t x = static_cast<uint32_t>(v);
    std::memcpy(p, &x, 4);
  } else {
    std::memcpy(p, &v, 8);
  }
}

template <uint32_t B, int Sext>
inline uint64_t extend(uint64_t v) {
  if constexpr (Sext == 2 && B == 1) return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(v)));
  if constexpr (Sext == 2 && B == 2) return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(v)));
  if constexpr (Sext == 2 && B == 4) return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
  if constexpr (Sext == 1 && B == 1) return static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(v)));
  if constexpr (Sext == 1 && B == 2) return static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(v)));
  return v;
}

template <uint32_t B, uint32_t V, int Sext>
void h_ld(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t addr[kWarpSize];
  uint8_t* ptrs[kWarpSize];
  lane_addresses(in, w, act, addr);
  auto space = static_cast<ptx::Space>(in.aux);
  if (!resolve_lanes(in, w, act, space, addr, B * V, B * V, false, ptrs)) return;
  for (uint32_t v = 0; v < V; ++v) {
    uint64_t* d = w.reg(in.d[v].index);
    if (act == kFullMask) {
      for (int l = 0; l < kWarpSize; ++l) d[l] = extend<B, Sext>(load_bits<B>(ptrs[l] + v * B));
    } else {
      for (LaneMask m = act; m; m &= m - 1) {
        int l = std::countr_zero(m);
        d[l] = extend<B, Sext>(load_bits<B>(ptrs[l] + v * B));
      }
    }
  }
}

template <uint32_t B, uint32_t V>
void h_st(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t addr[kWarpSize];
  uint8_t* ptrs[kWarpSize];
  lane_addresses(in, w, act, addr);
  auto space = static_cast<ptx::Space>(in.aux);
  if (!resolve_lanes(in, w, act, space, addr, B * V, B * V, true, ptrs)) return;
  // Lanes store in lane order, so the highest lane wins on a conflict (as on hardware in practice).
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    for (uint32_t v = 0; v < V; ++v) store_bits<B>(ptrs[l] + v * B, w.get(in.s[1 + v], l));
  }
}

// ld/st .v8 of a 32-bit type: one 32-byte access per lane, 32-byte aligned.
// LInstr holds four registers, so the eight are in the kernel's operand pool
// from index aux2; aux = state space | kSext64 (a signed load into 64-bit
// registers sign-extends).
constexpr uint32_t kSext64 = 0x100;

template <bool Store>
void h_mem_v8(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t addr[kWarpSize];
  uint8_t* ptrs[kWarpSize];
  lane_addresses(in, w, act, addr);
  const auto space = static_cast<ptx::Space>(in.aux & 0xff);
  if (!resolve_lanes(in, w, act, space, addr, 32, 32, Store, ptrs)) return;
  const LOperand* regs = w.block->launch->k->operand_pool.data() + in.aux2;
  const bool sext = (in.aux & kSext64) != 0;
  for (LaneMask m = act; m; m &= m - 1) {  // lane order: the highest lane wins a store conflict
    const int l = std::countr_zero(m);
    for (uint32_t v = 0; v < 8; ++v) {
      if constexpr (Store) {
        store_bits<4>(ptrs[l] + v * 4, w.get(regs[v], l));
      } else {
        const uint64_t x = load_bits<4>(ptrs[l] + v * 4);
        w.reg(regs[v].index)[l] = sext ? extend<4, 2>(x) : x;
      }
    }
  }
}

// Fast paths for the common case: a whole warp, a register base, every lane
// in bounds and aligned. They check the warp's addresses in one pass and fall
// back to the general checked handlers (which fault with the lane and
// address) when anything is off, before touching memory or registers.

// Shared memory: every address at most shared_bytes - N (N = bytes per
// lane). The OR of the addresses bounds their maximum and shows any
// misalignment in one vectorisable pass; the exact maximum is computed only
// when that bound is too loose.
template <uint32_t N>
inline bool shared_span_ok(const uint64_t* r, uint64_t off, uint64_t shared_bytes) {
  if (shared_bytes < N) return false;
  const uint64_t last = shared_bytes - N;
  uint64_t any = 0;
  for (int l = 0; l < kWarpSize; ++l) any |= r[l] + off;
  if (any & (N - 1)) return false;
  if (any <= last) return true;
  uint64_t hi = 0;
  for (int l = 0; l < kWarpSize; ++l) hi = std::max(hi, r[l] + off);
  return hi <= last;
}

// Global memory (also const and generic addresses outside the windows): the
// span [min, max + N) known accessible; addresses aligned. The AND and OR of
// the addresses bound the span cheaply; a span-cache hit on that bound saves
// computing the exact one.
template <uint32_t N>
inline bool global_lanes_ok(WarpState& w, const uint64_t* r, uint64_t off) {
  uint64_t any = 0, all = ~uint64_t{0};
  for (int l = 0; l < kWarpSize; ++l) {
    uint64_t a = r[l] + off;
    any |= a;
    all &= a;
  }
  if (any & (N - 1)) return false;
  if (any < kWindowBase && global_span_cached(*w.block, all, any + N)) return true;
  uint64_t lo = ~uint64_t{0}, hi = 0;
  for (int l = 0; l < kWarpSize; ++l) {
    uint64_t a = r[l] + off;
    lo = std::min(lo, a);
    hi = std::max(hi, a);
  }
  return hi < kWindowBase && global_span_ok(*w.block, lo, hi + N);
}

// base (0 for global addresses, which are host addresses) + a lane's address.
inline uint8_t* host_ptr(uintptr_t base, uint64_t a) { return reinterpret_cast<uint8_t*>(base + a); }

template <uint32_t B, uint32_t V, int Sext>
inline void load_lanes(const LInstr& in, WarpState& w, uintptr_t base, const uint64_t* r, uint64_t off) {
  // Lane l's base register is read before lane l's destinations are written,
  // so a destination that is also the base register is safe.
  if constexpr (V == 1) {
    uint64_t* d = w.reg(in.d[0].index);
#pragma GCC unroll 8
    for (int l = 0; l < kWarpSize; ++l) d[l] = extend<B, Sext>(load_bits<B>(host_ptr(base, r[l] + off)));
  } else {
    uint64_t* d[V];
    for (uint32_t v = 0; v < V; ++v) d[v] = w.reg(in.d[v].index);
    for (int l = 0; l < kWarpSize; ++l) {
      const uint8_t* p = host_ptr(base, r[l] + off);
      uint64_t x[V];
      for (uint32_t v = 0; v < V; ++v) x[v] = extend<B, Sext>(load_bits<B>(p + v * B));
      for (uint32_t v = 0; v < V; ++v) d[v][l] = x[v];
    }
  }
}

template <uint32_t B, uint32_t V>
inline void store_lanes(const LInstr& in, const WarpState& w, uintptr_t base, const uint64_t* r, uint64_t off) {
  // Lane order, so the highest lane wins when lanes store to the same address.
  const uint64_t* src[V];
  uint32_t idx[V];
  for (uint32_t v = 0; v < V; ++v) {
    const LOperand& o = in.s[1 + v];
    bool imm = o.kind == LOperand::Kind::Imm;
    src[v] = imm ? &o.imm : w.reg(o.index);
    idx[v] = imm ? 0 : 31;
  }
#pragma GCC unroll 8
  for (int l = 0; l < kWarpSize; ++l) {
    uint8_t* p = host_ptr(base, r[l] + off);
    for (uint32_t v = 0; v < V; ++v) store_bits<B>(p + v * B, src[v][static_cast<uint32_t>(l) & idx[v]]);
  }
}

template <uint32_t B, uint32_t V, int Sext>
void h_ld_shared(const LInstr& in, WarpState& w, LaneMask act) {
  if (act == kFullMask && in.s[0].kind == LOperand::Kind::Reg) {
    const uint64_t* r = w.reg(in.s[0].index);
    const uint64_t off = static_cast<uint64_t>(in.offset);
    if (shared_span_ok<B * V>(r, off, w.block->shared_bytes)) [[likely]] {
      load_lanes<B, V, Sext>(in, w, reinterpret_cast<uintptr_t>(w.block->shared), r, off);
      return;
    }
  }
  h_ld<B, V, Sext>(in, w, act);
}

// A load every active lane makes from the same host address p: load once and
// broadcast to the active lanes.
template <uint32_t B, uint32_t V, int Sext>
inline void load_uniform(const LInstr& in, WarpState& w, LaneMask act, const uint8_t* p) {
  for (uint32_t v = 0; v < V; ++v) {
    const uint64_t x = extend<B, Sext>(load_bits<B>(p + v * B));
    uint64_t* d = w.reg(in.d[v].index);
    for (int l = 0; l < kWarpSize; ++l) d[l] = (act >> l & 1) ? x : d[l];
  }
}

template <uint32_t B, uint32_t V, int Sext>
void h_ld_global(const LInstr& in, WarpState& w, LaneMask act) {
  if (in.s[0].kind == LOperand::Kind::Imm) {  // a module variable: one address for every lane
    constexpr uint32_t N = B * V;
    const uint64_t a = in.s[0].imm + static_cast<uint64_t>(in.offset);
    if ((a & (N - 1)) == 0 && a < kWindowBase && global_span_ok(*w.block, a, a + N)) [[likely]] {
      load_uniform<B, V, Sext>(in, w, act, host_ptr(0, a));
      return;
    }
  } else if (act == kFullMask) {
    const uint64_t* r = w.reg(in.s[0].index);
    const uint64_t off = static_cast<uint64_t>(in.offset);
    if (global_lanes_ok<B * V>(w, r, off)) [[likely]] {
      load_lanes<B, V, Sext>(in, w, 0, r, off);
      return;
    }
  }
  h_ld<B, V, Sext>(in, w, act);
}

// ld.param at a constant address (the usual form): every lane reads the same
// bytes, so check and load once and broadcast.
template <uint32_t B, uint32_t V, int Sext>
void h_ld_param(const LInstr& in, WarpState& w, LaneMask act) {
  constexpr uint32_t N = B * V;
  const LaunchState& L = *w.block->launch;
  if (in.s[0].kind == LOperand::Kind::Imm) {
    const uint64_t a = in.s[0].imm + static_cast<uint64_t>(in.offset);
    if ((a & (N - 1)) == 0 && a <= L.param_bytes && N <= L.param_bytes - a) [[likely]] {
      load_uniform<B, V, Sext>(in, w, act, L.params + a);
      return;
    }
  }
  h_ld<B, V, Sext>(in, w, act);
}

template <uint32_t B, uint32_t V>
void h_st_shared(const LInstr& in, WarpState& w, LaneMask act) {
  if (act == kFullMask && in.s[0].kind == LOperand::Kind::Reg) {
    const uint64_t* r = w.reg(in.s[0].index);
    const uint64_t off = static_cast<uint64_t>(in.offset);
    if (shared_span_ok<B * V>(r, off, w.block->shared_bytes)) [[likely]] {
      store_lanes<B, V>(in, w, reinterpret_cast<uintptr_t>(w.block->shared), r, off);
      return;
    }
  }
  h_st<B, V>(in, w, act);
}

template <uint32_t B, uint32_t V>
void h_st_global(const LInstr& in, WarpState& w, LaneMask act) {
  if (act == kFullMask && in.s[0].kind == LOperand::Kind::Reg) {
    const uint64_t* r = w.reg(in.s[0].index);
    const uint64_t off = static_cast<uint64_t>(in.offset);
    if (global_lanes_ok<B * V>(w, r, off)) [[likely]] {
      store_lanes<B, V>(in, w, 0, r, off);
      return;
    }
  }
  h_st<B, V>(in, w, act);
}

void h_prefetch(const LInstr& in, WarpState& w, LaneMask act) {
  (void)in;
  (void)w;
  (void)act;  // a hint: nothing to do, and prefetching a bad address does not fault
}

// Which handler family serves a state space: the general checked one
// (local), or a fast path with it as the fallback (shared; global, const and
// generic; param). Stores to .param are rejected by the general path.
enum class Path { General, Shared, Global, Param };

Path path_for(ptx::Space s) {
  switch (s) {
    case ptx::Space::Shared: return Path::Shared;
    case ptx::Space::Global: case ptx::Space::Const: case ptx::Space::Generic: return Path::Global;
    case ptx::Space::Param: return Path::Param;
    default: return Path::General;
  }
}

template <uint32_t B, uint32_t V, int Sext>
Handler pick_ld3(Path p) {
  switch (p) {
    case Path::Shared: return &h_ld_shared<B, V, Sext>;
    case Path::Global: return &h_ld_global<B, V, Sext>;
    case Path::Param: return &h_ld_param<B, V, Sext>;
    default: return &h_ld<B, V, Sext>;
  }
}

template <uint32_t B, uint32_t V>
Handler pick_ld2(int sext, Path p) {
  if constexpr (B == 8) return pick_ld3<B, V, 0>(p);
  if constexpr (B == 4) return sext == 2 ? pick_ld3<B, V, 2>(p) : pick_ld3<B, V, 0>(p);
  return sext == 2 ? pick_ld3<B, V, 2>(p) : sext == 1 ? pick_ld3<B, V, 1>(p) : pick_ld3<B, V, 0>(p);
}

template <uint32_t B>
Handler pick_ld1(uint32_t v, int sext, Path p) {
  switch (v) {
    case 1: return pick_ld2<B, 1>(sext, p);
    case 2: return pick_ld2<B, 2>(sext, p);
    case 4: return pick_ld2<B, 4>(sext, p);
  }
  return nullptr;
}

// sext: 0 zero-extend, 1 sign-extend to 32 bits, 2 sign-extend to 64 bits.
Handler pick_ld(uint32_t bytes, uint32_t v, int sext, Path p) {
  switch (bytes) {
    case 1: return pick_ld1<1>(v, sext, p);
    case 2: return pick_ld1<2>(v, sext, p);
    case 4: return pick_ld1<4>(v, sext, p);
    case 8: return pick_ld1<8>(v, 0, p);
  }
  return nullptr;
}

template <uint32_t B, uint32_t V>
Handler pick_st2(Path p) {
  switch (p) {
    case Path::Shared: return &h_st_shared<B, V>;
    case Path::Global: return &h_st_global<B, V>;
    default: return &h_st<B, V>;
  }
}

template <uint32_t B>
Handler pick_st1(uint32_t v, Path p) {
  switch (v) {
    case 1: return pick_st2<B, 1>(p);
    case 2: return pick_st2<B, 2>(p);
    case 4: return pick_st2<B, 4>(p);
  }
  return nullptr;
}

Handler pick_st(uint32_t bytes, uint32_t v, Path p) {
  switch (bytes) {
    case 1: return pick_st1<1>(v, p);
    case 2: return pick_st1<2>(v, p);
    case 4: return pick_st1<4>(v, p);
    case 8: return pick_st1<8>(v, p);
  }
  return nullptr;
}

bool ignorable_mem_modifier(const std::string& m) {
  static const char* const ok[] = {"nc",   "volatile", "relaxed", "acquire", "release", "weak", "mmio",
                                   "gpu",  "cta",      "sys",     "cluster", "ca",      "cg",   "cs",
                                   "lu",   "cv",       "wb",      "wt",      "unified"};
  for (auto* o : ok)
    if (m == o) return true;
  return m.rfind("L1::", 0) == 0 || m.rfind("L2::", 0) == 0;
}

struct MemMods {
  ptx::Space space = ptx::Space::Generic;
  uint32_t vec = 1;
  ptx::Type type = ptx::Type::None;
};

bool parse_mem_mods(const ptx::Instruction& in, LowerContext& ctx, MemMods* m) {
  for (auto& s : in.modifiers) {
    if (s == "global") m->space = ptx::Space::Global;
    else if (s == "const") m->space = ptx::Space::Const;
    else if (s == "shared" || s == "shared::cta") m->space = ptx::Space::Shared;
    else if (s == "local") m->space = ptx::Space::Local;
    else if (s == "param" || s == "param::entry" || s == "param::func") m->space = ptx::Space::Param;
    else if (s == "v2") m->vec = 2;
    else if (s == "v4") m->vec = 4;
    else if (s == "v8") m->vec = 8;
    else if (auto t = ptx::type_from_name(s)) m->type = *t;
    else if (!ignorable_mem_modifier(s))
      return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", full_opcode(in), s));
  }
  uint32_t size = ptx::type_size(m->type);
  if (size == 0 || size > 8 || m->type == ptx::Type::Pred)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (type)", full_opcode(in)));
  if (m->vec == 8 && (size != 4 || m->space != ptx::Space::Global))
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (.v8 needs .global and a 32-bit type)",
                                    full_opcode(in)));
  return true;
}

// The eight registers of a .v8 ld/st into the operand pool (*first).
bool v8_regs(const ptx::Instruction& in, LowerCtx& c, const ptx::Operand& v, ptx::Type t, bool is_dst,
             uint32_t* first) {
  if (v.kind != ptx::Operand::Kind::Vector || v.elems.size() != 8) return false;
  std::vector<LOperand> regs(8);
  for (uint32_t i = 0; i < 8; ++i)
    if (is_dst ? !c.dst_reg(v.elems[i], t, &regs[i]) : !c.src(v.elems[i], t, &regs[i])) return false;
  *first = c.add_operands(regs);
  if (*first == UINT32_MAX) return c.fail(in, "no operand pool for '" + full_opcode(in) + "'");
  return true;
}

bool lower_ld(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  MemMods m;
  if (!parse_mem_mods(in, ctx, &m)) return false;
  if (in.operands.size() < 2) return false;
  uint32_t size = ptx::type_size(m.type);
  const auto& d = in.operands[0];
  if (m.vec == 8) {
    if (!v8_regs(in, c, d, m.type, true, &out.aux2)) return false;
    MemRef mr;
    if (!c.address(in.operands[1], m.space, &out.s[0], &mr))
      return ctx.fail(in, fmt::format("unsupported address operand in '{}'", full_opcode(in)));
    out.offset = mr.offset;
    out.aux = static_cast<uint32_t>(mr.space) | (is_signed_type(m.type) && c.reg_bytes(d.elems[0]) == 8 ? kSext64 : 0);
    out.ns = 1;
    out.type = m.type;
    out.fn = h_mem_v8<false>;
    return true;
  }
  if (m.vec > 1) {
    if (d.kind != ptx::Operand::Kind::Vector || d.elems.size() != m.vec) return false;
    for (uint32_t i = 0; i < m.vec; ++i)
      if (!c.dst_reg(d.elems[i], m.type, &out.d[i])) return false;
  } else if (!c.dst_reg(d, m.type, &out.d[0])) {
    return false;
  }
  MemRef mr;
  if (!c.address(in.operands[1], m.space, &out.s[0], &mr))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", full_opcode(in)));
  out.offset = mr.offset;
  out.aux = static_cast<uint32_t>(mr.space);
  out.nd = static_cast<uint8_t>(m.vec);
  out.ns = 1;
  out.type = m.type;
  int sext = 0;
  if (is_signed_type(m.type)) {
    sext = 1;
    const ptx::Operand* first = m.vec > 1 ? &d.elems[0] : &d;
    if (c.reg_bytes(*first) == 8) sext = 2;
  }
  out.fn = pick_ld(size, m.vec, sext, path_for(mr.space));
  return out.fn != nullptr;
}

bool lower_st(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  MemMods m;
  if (!parse_mem_mods(in, ctx, &m)) return false;
  if (in.operands.size() < 2) return false;
  if (m.space == ptx::Space::Const) return ctx.fail(in, "unsupported instruction 'st.const' (read-only space)");
  uint32_t size = ptx::type_size(m.type);
  MemRef mr;
  if (!c.address(in.operands[0], m.space, &out.s[0], &mr))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", full_opcode(in)));
  const auto& v = in.operands[1];
  if (m.vec == 8) {
    if (!v8_regs(in, c, v, m.type, false, &out.aux2)) return false;
    out.offset = mr.offset;
    out.aux = static_cast<uint32_t>(mr.space);
    out.ns = 1;
    out.type = m.type;
    out.fn = h_mem_v8<true>;
    return true;
  }
  if (m.vec > 1) {
    if (v.kind != ptx::Operand::Kind::Vector || v.elems.size() != m.vec) return false;
    for (uint32_t i = 0; i < m.vec; ++i)
      if (!c.src(v.elems[i], m.type, &out.s[1 + i])) return false;
  } else if (!c.src(v, m.type, &out.s[1])) {
    return false;
  }
  out.offset = mr.offset;
  out.aux = static_cast<uint32_t>(mr.space);
  out.ns = static_cast<uint8_t>(1 + m.vec);
  out.type = m.type;
  out.fn = pick_st(size, m.vec, path_for(mr.space));
  return out.fn != nullptr;
}

bool lower_prefetch(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  auto& c = static_cast<LowerCtx&>(ctx);
  ptx::Space space = ptx::Space::Generic;
  for (auto& s : in.modifiers) {
    if (s == "global") space = ptx::Space::Global;
    else if (s == "local") space = ptx::Space::Local;
    else if (s == "L1" || s == "L2" || s == "L2::evict_last" || s == "L2::evict_normal" || s == "tensormap") {
    } else {
      return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", full_opcode(in), s));
    }
  }
  MemRef mr;
  if (in.operands.empty() || !c.address(in.operands[0], space, &out.s[0], &mr)) return false;
  out.offset = mr.offset;
  out.ns = 1;
  out.fn = h_prefetch;
  return true;
}

}  // namespace

Handler local_store_handler(ptx::Type t) {
  (void)t;
  switch (ptx::type_size(t)) {
    case 1: return &h_st<1, 1>;
    case 2: return &h_st<2, 1>;
    case 4: return &h_st<4, 1>;
    case 8: return &h_st<8, 1>;
  }
  return nullptr;
}

Handler local_load_handler(ptx::Type t) { return pick_ld(ptx::type_size(t), 1, is_signed_type(t) ? 1 : 0, Path::General); }

void register_mem_ops(OpTable& t) {
  t.add("ld", lower_ld);
  t.add("ldu", lower_ld);
  t.add("st", lower_st);
  t.add("prefetch", lower_prefetch);
  t.add("prefetchu", lower_prefetch);
}

}  // namespace gpool::emu::exec
