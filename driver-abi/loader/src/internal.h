// Internal to the loader: bounded byte access and the per-format parsers.
// All functions return false with *error set on malformed input.
#pragma once

#include "gpool/common/image/bytes.h"
#include "gpool/emu/loader/image.h"

#include <cstring>

namespace gpool::emu::loader::detail {

// Sanity limits: no real image comes close.
using image::kMaxImageBytes;                            // a fatbin container or ELF file
constexpr uint64_t kMaxUncompressedBytes = 1ull << 30;  // one decompressed fatbin entry
constexpr size_t kMaxPrelinked = 4096;                  // v2 wrapper pre-linked fatbins
constexpr uint32_t kMaxLinkUnits = 4096;                // -gpool-link-unit=K entries of one container

// A byte range; size may be SIZE_MAX (unknown: trust the headers). The fatbin and ELF walks
// themselves are common/'s (gpool/common/image/), shared with the server.
using image::Bytes;

// Fatbin containers starting at b (b.size bounds them). With `all`, keeps
// reading containers placed back to back until the bytes end. *extent = bytes used.
bool parse_fatbin(Bytes b, bool all, Image* img, size_t* extent, std::string* error);

// Size of the ELF file at b from its headers (sections, segments, header tables).
bool elf_extent(Bytes b, size_t* extent, std::string* error);
// Kernel metadata of a cubin: SM and per-kernel parameter layouts.
bool parse_cubin(Bytes b, CubinInfo* out, std::string* error);

}  // namespace gpool::emu::loader::detail
