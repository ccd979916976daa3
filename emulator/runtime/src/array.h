// CUDA arrays and mipmapped arrays on the emulator.
//
// An array is device memory in the allocation table, laid out densely:
// texel (x, y, z) of layer l at base + (z or l) * slice + y * pitch +
// x * texel_bytes, with pitch = width * texel_bytes and slice = pitch *
// height. The array sides of cuMemcpy2D/3D are therefore ordinary strided
// device sides (memcpy.cc), and texture and surface objects read the same
// bytes (texobj.cc). The storage cannot be freed with cuMemFree.
//
// Ownership: Array and MipmappedArray objects are owned by the runtime and
// reached through checked handles (runtime.h). The levels of a mipmapped
// array belong to it and go away with it. When the owning context is
// destroyed its allocations go; a handle that outlives them is refused.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include "runtime.h"

#include "gpool/emu/exec/texture.h"

namespace gpool::emu::rt {

struct Context;
struct MipmappedArray;

struct Array final : Object {
  static constexpr Kind kKind = Kind::Array;
  Array() : Object(Kind::Array) {}
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  exec::TexFormat format = exec::TexFormat::U8;
  uint32_t texel_bytes = 0;   // all channels
  uint64_t base = 0;          // device storage
  uint64_t bytes = 0;
  uint64_t pitch = 0, slice = 0;
  uint32_t height = 1;        // rows (1 for 1D)
  uint32_t depth = 1;         // 3D depth, or layers (faces for cubemaps)
  Context* ctx = nullptr;
  MipmappedArray* parent = nullptr;  // a level of this mipmapped array
};

struct MipmappedArray final : Object {
  static constexpr Kind kKind = Kind::MipmappedArray;
  MipmappedArray() : Object(Kind::MipmappedArray) {}
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  std::vector<Array*> levels;
};

// The live array `h` whose storage still exists, or nullptr.
Array* find_array(CUarray h);
MipmappedArray* find_mipmapped(CUmipmappedArray h);

// True when `base` is the storage of an array (cuMemFree refuses it).
bool is_array_storage(uint64_t base);

// Maps a CUarray_format to the executor's format. False for formats the
// emulator does not support (block-compressed, NV12, packed, ...).
bool array_format(CUarray_format f, exec::TexFormat* out);

// The executor's view of level 0 of `a` (all layers / faces).
exec::TexLevel array_level(const Array& a);

}  // namespace gpool::emu::rt
