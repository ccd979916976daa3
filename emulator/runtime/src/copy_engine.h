// The copy engine behind every cuMemcpy* / cuMemset* form: validates the two
// sides of a (1D, 2D or 3D) copy against the allocation table, then moves
// the bytes.
//
// A side inside a known allocation (device, managed, pinned or registered
// memory) is copied with plain memmove. A side that is not (pageable host
// memory the program passed) is accessed through process_vm_readv on the
// own process, so an unmapped host address gives CUDA_ERROR_INVALID_VALUE
// instead of a crash.
//
// Thread safety: stateless; all functions may be called from any thread.
#pragma once

#include "runtime.h"

#include <cstddef>
#include <cstdint>

namespace gpool::emu::rt {

// One side of a strided copy: rows of `width` bytes, `pitch` apart, in
// `depth` slices `slice` bytes apart, starting at `addr`.
struct CopySide {
  uint64_t addr = 0;
  uint64_t pitch = 0;
  uint64_t slice = 0;
  bool in_table = false;  // set by check_side
};

struct CopyShape {
  uint64_t width = 0;   // bytes per row
  uint64_t height = 1;  // rows per slice
  uint64_t depth = 1;   // slices
};

// The number of bytes from the first to one past the last byte of `s`.
uint64_t copy_extent(const CopySide& s, const CopyShape& shape);

// Checks a side: `must_be_known` requires the whole extent inside one table
// entry (device memory); otherwise the extent may be entirely inside one
// entry or entirely outside the table (pageable host memory). Sets in_table.
// Errors: INVALID_VALUE for a range that is not inside one allocation or
// that runs partly into one.
CUresult check_side(CopySide* s, const CopyShape& shape, bool must_be_known);

// Moves the bytes. REQUIRES: both sides checked. Errors: INVALID_VALUE when
// host memory outside the table turned out not to be mapped.
CUresult copy_run(const CopySide& dst, const CopySide& src, const CopyShape& shape);

// Fills `height` rows of `width_elems` elements of `elem` bytes (1, 2, 4),
// rows `pitch` bytes apart, with `value`. REQUIRES: the range was checked.
void fill_run(uint64_t dst, uint64_t pitch, uint64_t width_elems, uint64_t height, unsigned elem,
              uint32_t value);

// Validates a copy and runs it in stream order on `h` (memcpy.cc): device
// sides must lie inside one allocation. `async` false waits for it.
CUresult do_copy(CUstream h, CopySide dst, bool dst_device, CopySide src, bool src_device, const CopyShape& shape,
                 bool async, const char* what);

// Copies n bytes between arbitrary host addresses with the fault check
// described above; false when either range is not mapped.
bool checked_host_copy(void* dst, const void* src, size_t n);

}  // namespace gpool::emu::rt
