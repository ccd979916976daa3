// How much device memory a module image's globals take when loaded (issue 13, part 3), read
// from the image before the driver sees it, so the worker can charge the tenant's quota first.
//
// Counted: module-scope `.global` and `.const` variables of PTX text (__device__ and
// __constant__), and the `.nv.global*` and `.nv.constant<N>` (N != 0: bank 0 holds kernel
// parameters) sections of an ELF cubin. A fatbin counts its largest entry (the driver loads one
// of them; which one depends on the device). Code is not counted.
// Compressed fatbin entries (zstd, LZ4) are decompressed here, up to 256 MiB each, the buffer
// sized by what the payload can produce and freed at once; one that is corrupt or larger is
// reported in `opaque` and counts 0. The fatbin and ELF walks are common/'s
// (gpool/common/image/, shared with the emulator's loader); the PTX declaration scan is this
// file's own.
//
// Thread safety: pure functions. Errors: none; unreadable declarations count 0 (the bounds check,
// image_check.h, has already refused images whose headers lie).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace gpool::server {

struct GlobalBytes {
  uint64_t bytes = 0;   // device memory the globals need (saturating)
  bool opaque = false;  // some entry could not be read (compressed)
};

GlobalBytes image_global_bytes(std::span<const std::byte> image);

// The same for PTX text alone (module-scope .global/.const declarations).
uint64_t ptx_global_bytes(std::string_view ptx);

}  // namespace gpool::server
