// Occupancy arithmetic of the emulated device (shared by occupancy.cc and the
// cooperative-launch check in launch.cc). Pure functions.
#pragma once

#include "function.h"

namespace gpool::emu::rt {

// Blocks of `block_threads` threads with `dyn_shared` bytes of dynamic shared
// memory that fit on one SM at once (0 when one block does not fit).
int active_blocks_per_sm(const Function& f, const Device& d, int block_threads, size_t dyn_shared);

}  // namespace gpool::emu::rt
