// Bounds of an uploaded device-code image, checked before the driver sees it.
//
// The worker hands an uploaded image to cuModuleLoadData/cuLibraryLoadData, which take no size:
// the driver trusts the headers inside the bytes. A tenant could therefore upload bytes whose
// headers point past what it sent (a fatbin that declares more entries than were uploaded, an
// ELF whose section table lies beyond its end), or a fatBinC wrapper, which holds a pointer that
// the driver follows (a pointer into the tenant's own process, meaningless in the worker, and a
// way to make the worker read memory of the tenant's choosing). image_bounds_ok() refuses such
// images; everything it accepts keeps every header-described byte range inside the upload.
// Formats: cuda-driver-facts.md section 5 (fatbin container and entries, ELF cubins). Anything
// that is neither a fatbin, an ELF nor a wrapper is taken as PTX text (the worker appends a NUL).
//
// Thread safety: a pure function. Errors: false with `why` saying what is wrong, for the log
// and the client (CUDA_ERROR_INVALID_IMAGE).
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace gpool::server {

bool image_bounds_ok(std::span<const std::byte> image, std::string& why);

}  // namespace gpool::server
