// Values of CUDA graph conditional handles, as device code sees them.
//
// A conditional handle (cuGraphConditionalHandleCreate) is a 64-bit number a
// kernel receives as an argument and passes to cudaGraphSetConditional. The
// emulator keeps one cell per handle in a process-wide table: the runtime
// creates and destroys cells (emulator/runtime/src/graph_cond.cc) and reads
// them when a conditional node runs; the device builtin writes them
// (src/graph_cond_ops.cc). Handles are never reused, so a stale or made-up
// handle finds no cell: the builtin faults the launch instead of writing.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>

namespace gpool::emu::exec {

// A new cell holding `value`. Returns its handle (never 0).
uint64_t cond_cell_create(uint32_t value);
// Removes the cell (no effect when there is none).
void cond_cell_destroy(uint64_t handle);
// Stores `value` in the cell. False when `handle` names no cell.
bool cond_cell_set(uint64_t handle, uint32_t value);
// Reads the cell into *value. False when `handle` names no cell.
bool cond_cell_get(uint64_t handle, uint32_t* value);

}  // namespace gpool::emu::exec
