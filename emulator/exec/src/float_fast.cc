// Fast handlers for the plain (round-to-nearest, no .ftz/.sat) f32/f64
// add, sub, mul and fma: the interpreter's hottest float instructions.
//
// They compute exactly what h_arith in float_ops.cc computes (IEEE results,
// canonical NaN), but specialised per operand kind (register or immediate)
// and written so the compiler vectorises them: every lane is computed into a
// local buffer (inactive lanes compute on whatever their registers hold,
// which is harmless for float arithmetic) and the result is then copied or
// blended into the destination. On x86-64 hosts with AVX2 and FMA the
// handlers are compiled for those extensions and picked at lowering time
// after a CPU check; elsewhere the portable build of the same code is used.
//
// Owner: exec-perf (interpreter performance). Internal to emulator/exec/src.
#include "float_family.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace gpool::emu::exec::fl {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define GPOOL_FAST_X86 1
#define GPOOL_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define GPOOL_FAST_X86 0
#define GPOOL_TARGET_AVX2
#endif

template <class T>
using BitsOf = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

template <class T>
constexpr uint64_t kCanonNaN = sizeof(T) == 4 ? uint64_t{0x7fffffff} : uint64_t{0x7fffffffffffffff};

// The body shared by both builds. Imm: bit i set when source i is an immediate.
template <class T, Arith op, unsigned Imm, bool Hw>
inline __attribute__((always_inline)) void arith_body(const LInstr& in, WarpState& w, LaneMask active) {
  using B = BitsOf<T>;
  constexpr int kSrcs = op == Arith::Fma ? 3 : 2;
  const uint64_t* s[3] = {nullptr, nullptr, nullptr};
  T imm[3] = {T(0), T(0), T(0)};
  for (int i = 0; i < kSrcs; ++i) {
    if (Imm >> i & 1) imm[i] = std::bit_cast<T>(static_cast<B>(in.s[i].imm));
    else s[i] = w.reg(in.s[i].index);
  }
  uint64_t tmp[kWarpSize];
  for (int l = 0; l < kWarpSize; ++l) {
    T x = (Imm & 1) ? imm[0] : std::bit_cast<T>(static_cast<B>(s[0][l]));
    T y = (Imm & 2) ? imm[1] : std::bit_cast<T>(static_cast<B>(s[1][l]));
    T r;
    if constexpr (op == Arith::Add) {
      r = x + y;
    } else if constexpr (op == Arith::Sub) {
      r = x - y;
    } else if constexpr (op == Arith::Mul) {
      r = x * y;
    } else {
      T z = (Imm & 4) ? imm[2] : std::bit_cast<T>(static_cast<B>(s[2][l]));
      if constexpr (Hw) {
        if constexpr (sizeof(T) == 4) r = __builtin_fmaf(x, y, z);
        else r = __builtin_fma(x, y, z);
      } else {
        r = std::fma(x, y, z);
      }
    }
    uint64_t bits = static_cast<uint64_t>(std::bit_cast<B>(r));
    tmp[l] = r != r ? kCanonNaN<T> : bits;
  }
  if (in.d[0].kind != LOperand::Kind::Reg) return;  // sink destination
  uint64_t* d = w.reg(in.d[0].index);
  if (active == kFullMask) {
    std::memcpy(d, tmp, sizeof tmp);
  } else {
    for (int l = 0; l < kWarpSize; ++l) d[l] = (active >> l & 1) ? tmp[l] : d[l];
  }
}

template <class T, Arith op, unsigned Imm>
void h_arith_portable(const LInstr& in, WarpState& w, LaneMask active) {
  arith_body<T, op, Imm, false>(in, w, active);
}

#if GPOOL_FAST_X86
template <class T, Arith op, unsigned Imm>
GPOOL_TARGET_AVX2 void h_arith_avx2(const LInstr& in, WarpState& w, LaneMask active) {
  arith_body<T, op, Imm, true>(in, w, active);
}

bool host_has_avx2_fma() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
}
#endif

template <class T, Arith op, unsigned Imm>
Handler pick_imm(bool hw) {
#if GPOOL_FAST_X86
  if (hw) return &h_arith_avx2<T, op, Imm>;
#else
  (void)hw;
#endif
  return &h_arith_portable<T, op, Imm>;
}

template <class T, Arith op>
Handler pick_kinds(unsigned imm, bool hw) {
  switch (imm) {
    case 0: return pick_imm<T, op, 0>(hw);
    case 1: return pick_imm<T, op, 1>(hw);
    case 2: return pick_imm<T, op, 2>(hw);
    case 3: return pick_imm<T, op, 3>(hw);
  }
  if constexpr (op == Arith::Fma) {
    switch (imm) {
      case 4: return pick_imm<T, op, 4>(hw);
      case 5: return pick_imm<T, op, 5>(hw);
      case 6: return pick_imm<T, op, 6>(hw);
      case 7: return pick_imm<T, op, 7>(hw);
    }
  }
  return nullptr;
}

template <class T>
Handler pick_op(Arith op, unsigned imm, bool hw) {
  switch (op) {
    case Arith::Add: return pick_kinds<T, Arith::Add>(imm, hw);
    case Arith::Sub: return pick_kinds<T, Arith::Sub>(imm, hw);
    case Arith::Mul: return pick_kinds<T, Arith::Mul>(imm, hw);
    case Arith::Fma: return pick_kinds<T, Arith::Fma>(imm, hw);
    default: return nullptr;
  }
}

}  // namespace

Handler fast_arith_handler(const LInstr& out, Arith op, bool allow_hw) {
  if (out.aux != static_cast<uint32_t>(fp::Rnd::RN) || out.aux2 != 0) return nullptr;
  if (out.type != ptx::Type::F32 && out.type != ptx::Type::F64) return nullptr;
  const int n = op == Arith::Fma ? 3 : 2;
  if (out.ns != n) return nullptr;
  unsigned imm = 0;
  for (int i = 0; i < n; ++i) {
    if (out.s[i].kind == LOperand::Kind::Imm) imm |= 1u << i;
    else if (out.s[i].kind != LOperand::Kind::Reg) return nullptr;
  }
  bool hw = false;
#if GPOOL_FAST_X86
  hw = allow_hw && host_has_avx2_fma();
#else
  (void)allow_hw;
#endif
  return out.type == ptx::Type::F32 ? pick_op<float>(op, imm, hw) : pick_op<double>(op, imm, hw);
}

}  // namespace gpool::emu::exec::fl
