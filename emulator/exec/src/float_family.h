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

// Registers abs, neg, min, max, copysign, testp, rcp, sqrt, rsqrt, sin, cos,
// lg2, ex2, tanh (float_misc.cc).
void register_float_misc(OpTable& t);

}  // namespace gpool::emu::exec::fl
