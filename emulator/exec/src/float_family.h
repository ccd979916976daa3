// Lowerers shared between the float family's files (float_ops.cc,
// float_half.cc, float_misc.cc, float_compare.cc). Internal; the executor
// core only sees register_float_ops() and lower_float_compare() in engine.h.
//
// Owner: the float family (exec-float). Same contract as engine.h's Lowerer:
// fill `out` (fn, d, s, type, aux, aux2) or call ctx.fail() and return false.
#pragma once

#include "engine.h"
#include "float_lanes.h"

namespace gpool::emu::exec::fl {

enum class Arith : uint8_t { Add, Sub, Mul, Fma, Div };

// add/sub/mul/fma/mad on f16, f16x2, bf16, bf16x2 (float_half.cc).
// `m` is the decoded modifier set; the type is m.types[0].
bool lower_half_arith(const ptx::Instruction& in, const Mods& m, LowerContext& ctx, LInstr& out,
                      Arith op);

// The specialised handler for a lowered plain f32/f64 add, sub, mul or fma
// (round to nearest, no .ftz/.sat, register or immediate sources), or null
// when `out` is not such an instruction. `allow_hw` false forces the portable
// build (tests compare it with the AVX2/FMA one). Same results as the general
// handler. Defined in float_fast.cc (owner: exec-perf).
Handler fast_arith_handler(const LInstr& out, Arith op, bool allow_hw = true);

// Registers abs, neg, min, max, copysign, testp, rcp, sqrt, rsqrt, sin, cos,
// lg2, ex2, tanh (float_misc.cc).
void register_float_misc(OpTable& t);

}  // namespace gpool::emu::exec::fl
