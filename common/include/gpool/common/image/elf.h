// ELF64 little-endian files as cubins are (cuda-driver-facts.md section 5): the file header, the
// section header table (with extended numbering) and section names. Shared by the emulator's
// image loader (kernel metadata, driver-abi/loader) and the server (module globals,
// server/src/image_globals.h).
//
// Bounds: every read stays inside the given Bytes. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpool/common/image/bytes.h"

namespace gpool::image {

inline constexpr uint32_t kShtSymtab = 2;
inline constexpr uint32_t kShtNobits = 8;
// SHT_CUDA_SHARED (SHT_LOPROC + 0xa): a kernel's ".nv.shared.<kernel>" in a relocatable
// (-rdc=true) cubin. Like SHT_NOBITS it occupies no file bytes; its sh_offset/sh_size describe
// memory only (a 8 KiB shared array at the end of a 4 KiB cubin is normal).
inline constexpr uint32_t kShtCudaShared = 0x7000000a;
inline bool occupies_no_file_bytes(uint32_t type) { return type == kShtNobits || type == kShtCudaShared; }
inline constexpr uint32_t kMaxElfSections = 1u << 20;

struct ElfHeader {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version;
  uint64_t entry, phoff, shoff;
  uint32_t flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
static_assert(sizeof(ElfHeader) == 64);

struct ElfSection {
  uint32_t name, type;
  uint64_t flags, addr, offset, size;
  uint32_t link, info;
  uint64_t addralign, entsize;
};
static_assert(sizeof(ElfSection) == 64);

// Starts with the ELF magic (7f 45 4c 46).
bool is_elf(Bytes b);

// The file header of a 64-bit little-endian ELF. Errors: "ELF header is truncated", "bad ELF
// magic", "only 64-bit little-endian cubins are supported".
bool read_elf_header(Bytes b, ElfHeader* h, std::string* error);

// The section headers (empty when e_shoff is 0), read every e_shentsize bytes (at least 64: the
// first 64 bytes of each), with the extended numbering of section 0 when e_shnum is 0 or
// e_shstrndx is SHN_XINDEX; *shstrndx = the section-name table's index. Errors: an entry size
// under 64, a table out of bounds or over kMaxElfSections entries.
bool read_elf_sections(Bytes b, const ElfHeader& h, std::vector<ElfSection>* out, uint32_t* shstrndx,
                       std::string* error);

// Section name `name` (an offset into section `shstrndx`), or nullopt when that table is missing,
// has no file bytes or lies out of bounds, or `name` lies outside it. A name the table ends
// without a NUL is returned up to the table's end when `allow_unterminated`, else nullopt.
std::optional<std::string_view> elf_section_name(Bytes b, const std::vector<ElfSection>& sections,
                                                 uint32_t shstrndx, uint32_t name, bool allow_unterminated = false);

}  // namespace gpool::image
