// Shared machinery for integer handlers: typed reads/writes of register
// cells and the unary/binary/ternary lane loops, specialised for
// register/immediate operands with a tight full-mask path.
//
// Every functor F<T>::f must be defined for all inputs (no UB): partial masks
// compute every lane and blend, so inactive lanes' garbage is fed in too.
#pragma once

#include "engine.h"
#include "lower_context.h"

#include <bit>
#include <cstdint>
#include <type_traits>

namespace gpool::emu::exec {

template <class T>
inline T rd(uint64_t v) {
  return static_cast<T>(v);
}
template <class T>
inline uint64_t wr(T v) {
  if constexpr (std::is_same_v<T, bool>) return v ? 1 : 0;
  else return static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(v));
}

template <class T, class R, class F, bool BImm>
void h_bin(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  const uint64_t* a = w.reg(in.s[0].index);
  const uint64_t* b = BImm ? a : w.reg(in.s[1].index);
  const uint64_t bi = in.s[1].imm;
  uint64_t tmp[kWarpSize];
  for (int l = 0; l < kWarpSize; ++l) tmp[l] = wr<R>(F::f(rd<T>(a[l]), rd<T>(BImm ? bi : b[l])));
  if (act == kFullMask) {
    for (int l = 0; l < kWarpSize; ++l) d[l] = tmp[l];
  } else {
    for (int l = 0; l < kWarpSize; ++l) d[l] = (act >> l & 1) ? tmp[l] : d[l];
  }
}

// Any operand may be an immediate.
template <class T, class R, class F>
void h_bin_any(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    d[l] = wr<R>(F::f(rd<T>(w.get(in.s[0], l)), rd<T>(w.get(in.s[1], l))));
  }
}

template <class T, class R, class F>
void h_un(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    d[l] = wr<R>(F::f(rd<T>(w.get(in.s[0], l))));
  }
}

template <class T, class R, class F>
void h_tern(const LInstr& in, WarpState& w, LaneMask act) {
  uint64_t* d = w.reg(in.d[0].index);
  if (act == kFullMask && in.s[0].kind == LOperand::Kind::Reg && in.s[1].kind == LOperand::Kind::Reg &&
      in.s[2].kind == LOperand::Kind::Reg) {
    const uint64_t* a = w.reg(in.s[0].index);
    const uint64_t* b = w.reg(in.s[1].index);
    const uint64_t* c = w.reg(in.s[2].index);
    uint64_t tmp[kWarpSize];
    for (int l = 0; l < kWarpSize; ++l) tmp[l] = wr<R>(F::f(rd<T>(a[l]), rd<T>(b[l]), rd<T>(c[l])));
    for (int l = 0; l < kWarpSize; ++l) d[l] = tmp[l];
    return;
  }
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    d[l] = wr<R>(F::f(rd<T>(w.get(in.s[0], l)), rd<T>(w.get(in.s[1], l)), rd<T>(w.get(in.s[2], l))));
  }
}

template <class T, class R, class F>
Handler bin_handler(const LInstr& out) {
  if (out.s[0].kind != LOperand::Kind::Reg) return &h_bin_any<T, R, F>;
  if (out.s[1].kind == LOperand::Kind::Imm) return &h_bin<T, R, F, true>;
  return &h_bin<T, R, F, false>;
}

// Calls Pick<T>::get(out) with T the C type of integer PTX type t, or returns null.
template <template <class> class Pick>
Handler by_int_type(ptx::Type t, const LInstr& out, bool want_signed_distinct = true) {
  using P = ptx::Type;
  switch (t) {
    case P::U16: case P::B16: return Pick<uint16_t>::get(out);
    case P::S16: return want_signed_distinct ? Pick<int16_t>::get(out) : Pick<uint16_t>::get(out);
    case P::U32: case P::B32: return Pick<uint32_t>::get(out);
    case P::S32: return want_signed_distinct ? Pick<int32_t>::get(out) : Pick<uint32_t>::get(out);
    case P::U64: case P::B64: return Pick<uint64_t>::get(out);
    case P::S64: return want_signed_distinct ? Pick<int64_t>::get(out) : Pick<uint64_t>::get(out);
    default: return nullptr;
  }
}

}  // namespace gpool::emu::exec
