// Function attribute rules shared by function.cc, launch.cc and occupancy.cc.
// Thread safety: reads Function atomics; callable from any thread.
#pragma once

#include "module.h"

namespace gpool::emu::rt {

// Dynamic shared memory a launch of `f` may ask for (MAX_DYNAMIC_SHARED_SIZE_BYTES).
int max_dynamic_shared(const Function& f, const Device& d);

// The largest block `f` can be launched with on `d` (MAX_THREADS_PER_BLOCK).
int max_threads_per_block(const Function& f, const Device& d);

// Registers per thread as reported and used for occupancy (at least 16).
int regs_per_thread(const Function& f);

}  // namespace gpool::emu::rt
