// Core op families: registration functions and the few handlers the lowering
// pass emits itself (call inlining, builtins, the final exit).
//
// Owner: exec core. Instruction operand layouts of the core:
//   memory (ld/st/atom/red): s[0] = base (register or immediate address),
//     LInstr::offset = constant offset, aux = state space (ptx::Space),
//     ld: d[0..n) destinations; st: s[1..n] values; n = vector width.
//   branches: target = instruction index.
#pragma once

#include "engine.h"

namespace gpool::emu::exec {

void register_control_ops(OpTable& t);
void register_mov_ops(OpTable& t);
void register_mem_ops(OpTable& t);
void register_int_ops(OpTable& t);
void register_bit_ops(OpTable& t);
void register_compare_ops(OpTable& t);
void register_barrier_ops(OpTable& t);
void register_atomic_ops(OpTable& t);

// st.local of one value of type t: s[0] = Imm local offset, s[1] = value.
Handler local_store_handler(ptx::Type t);
// ld.local of one value of type t: d[0] = register, s[0] = Imm local offset.
Handler local_load_handler(ptx::Type t);
// Unconditional or guarded branch to LInstr::target.
void h_branch(const LInstr& in, WarpState& w, LaneMask act);
// Active lanes leave the kernel.
void h_exit(const LInstr& in, WarpState& w, LaneMask act);
// vprintf: s[0], s[1] = Imm local offsets of the format and argument-buffer
// pointers; aux2 = 1 when aux holds the local offset of the int result.
void h_vprintf(const LInstr& in, WarpState& w, LaneMask act);
// __assertfail: s[0..3] = Imm local offsets of message, file, line, function.
void h_assertfail(const LInstr& in, WarpState& w, LaneMask act);
// malloc / free on the launch's device heap (builtins_heap.cc): s[0] = Imm
// local offset of the argument; malloc: aux2 = 1 when aux holds the local
// offset of the 64-bit result.
void h_malloc(const LInstr& in, WarpState& w, LaneMask act);
void h_free(const LInstr& in, WarpState& w, LaneMask act);
// Dynamic parallelism: nvcc's __cudaCDP2* device runtime calls
// (builtins_cdp.cc). s[i] = Imm local offsets of the arguments; aux2 = 1 when
// aux holds the local offset of the result (cudaError_t, or the parameter
// buffer pointer).
void h_cdp_get_param_buffer(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_launch(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_stream_create(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_stream_destroy(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_event_create(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_event_destroy(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_event_record(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_stream_wait_event(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_get_last_error(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_peek_last_error(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_get_device(const LInstr& in, WarpState& w, LaneMask act);
// cudaMemcpyAsync / cudaMemsetAsync in device code: recorded as ordered children.
void h_cdp_memcpy_async(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_memset_async(const LInstr& in, WarpState& w, LaneMask act);
// cudaMalloc / cudaFree in device code: the launch's device heap, as malloc/free.
void h_cdp_malloc(const LInstr& in, WarpState& w, LaneMask act);
void h_cdp_free(const LInstr& in, WarpState& w, LaneMask act);
// Real calls (calls.cc). h_call: direct call to pc `target`; h_call_indirect:
// s[0] = function pointer register; h_enter / h_ret: aux = CallFrame index;
// h_local_copy: aux2 bytes from local offset s[0].imm to local offset aux.
void h_call(const LInstr& in, WarpState& w, LaneMask act);
void h_call_indirect(const LInstr& in, WarpState& w, LaneMask act);
void h_enter(const LInstr& in, WarpState& w, LaneMask act);
void h_ret(const LInstr& in, WarpState& w, LaneMask act);
void h_local_copy(const LInstr& in, WarpState& w, LaneMask act);

}  // namespace gpool::emu::exec
