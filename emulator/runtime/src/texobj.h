// Texture and surface objects on the emulator: cuTexObject* and
// cuSurfObject*, and the table kernels look their handles up in
// (exec::TextureTable, passed to every launch).
//
// A handle is an opaque 64-bit number (never 0) keyed in a table; the
// descriptors are validated at creation (the array must be live; linear and
// pitch2D memory must lie inside one allocation) and turned into the
// executor's TexDesc / SurfDesc once. The executor re-checks the memory on
// every fetch, so destroying the array under a live object faults the kernel
// instead of reading freed memory.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include "gpool/emu/exec/texture.h"

namespace gpool::emu::rt {

const exec::TextureTable& texture_table();

}  // namespace gpool::emu::rt
