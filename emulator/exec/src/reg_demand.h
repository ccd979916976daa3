// Register demand of a kernel as ptxas would allocate it, estimated from the
// PTX: the most 32-bit registers simultaneously live at any point (liveness
// over the control-flow graph of the kernel's body, plus what each called
// device function needs on top of the values live across the call), then
// capped by .maxnreg and by the launch bounds (.maxntid/.reqntid with
// .minnctapersm), as ptxas caps (and spills) to honour them.
//
// The runtime prefers the exact count from a SASS cubin of the same kernel
// when the image carries one (see emulator/runtime/src/module.cc); this
// estimate is used for PTX-only images.
//
// Owner: exec core. Pure functions of the AST; thread safe.
#pragma once

#include "gpool/emu/ptx/ast.h"

#include <cstdint>

namespace gpool::emu::exec {

// Registers per SM on every profile the emulator offers (sm_70 .. sm_90).
constexpr uint32_t kRegsPerSm = 65536;

// Peak number of simultaneously live 32-bit registers in `f` (predicates are
// separate hardware and not counted), including what callees need.
uint32_t live_register_peak(const ptx::Module& m, const ptx::Function& f);

// The per-thread register count reported for kernel `f` of `m`:
// live_register_peak plus ptxas's fixed overhead, capped by .maxnreg and the
// launch bounds, within [1, 255].
uint32_t estimate_kernel_registers(const ptx::Module& m, const ptx::Function& f);

// The largest per-thread register count that lets `blocks` blocks of
// `threads` threads share one SM (registers are allocated per warp in units
// of 256). 255 when the bounds do not constrain it.
uint32_t register_cap_for_bounds(uint32_t threads, uint32_t blocks);

}  // namespace gpool::emu::exec
