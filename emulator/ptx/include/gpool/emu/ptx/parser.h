// The PTX parser: text -> gpool::emu::ptx::Module (see ast.h).
//
// Accepts the PTX that nvcc 13 emits (ISA up to 9.0, sm_75 .. sm_90): module
// directives, variables with initializers, kernels and device functions,
// nested blocks, labels, guards, every operand form, calls and call
// prototypes. Debug directives (.file, .loc, .section) and .pragma are parsed
// and dropped. Only syntax is checked; whether an instruction and its
// modifiers make sense is the lowering pass's job (emulator/exec).
//
// Call instructions: operands are always
//   [0] Vector of return arguments (empty when the call has none),
//   [1] the callee (Symbol for a direct call, Register for an indirect one),
//   [2] Vector of arguments (empty when none),
//   [3] optional: Label naming the call prototype (indirect calls).
// Branch targets and prototype names are Operand::Kind::Label; any other bare
// name is a Symbol.
//
// Thread safety: parse() is reentrant; it keeps no state between calls.
#pragma once

#include "gpool/emu/ptx/ast.h"

#include <string>
#include <string_view>

namespace gpool::emu::ptx {

// Parses `text` into *out (replacing its contents). On failure returns false,
// leaves *out unspecified and sets *error to "line L, column C: <what was
// expected / what is wrong>". `error` may be null. `text` need not be
// NUL-terminated; parsing stops at its end (or at an embedded NUL).
bool parse(std::string_view text, Module* out, std::string* error);

}  // namespace gpool::emu::ptx
