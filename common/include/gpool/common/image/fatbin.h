// Fatbin containers (cuda-driver-facts.md section 5): a 16-byte header (magic 0xBA55ED50,
// version, header size, size of the entries), then entries, each a header of at least 64 bytes
// and a payload (PTX text, an ELF cubin, ...), possibly compressed (zstd frame or raw LZ4 block).
//
// The one walker of these containers: the emulator's image loader (driver-abi/loader) reads the
// entries it runs, the server (server/src/image_globals.h, image_check.h) checks and sizes an
// upload before the driver sees it. What each makes of an entry stays with it.
//
// Bounds: every read stays inside the given Bytes and the sizes the headers declare.
// Decompression allocates at most what the payload can produce (not what the header claims).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpool/common/image/bytes.h"

namespace gpool::image {

inline constexpr uint32_t kFatbinMagic = 0xBA55ED50u;
inline constexpr uint16_t kFatbinKindPtx = 1;
inline constexpr uint16_t kFatbinKindElf = 2;
inline constexpr uint32_t kFatbinMinEntryHeader = 64;
inline constexpr uint64_t kFatbinFlagLz4 = 0x2000;   // payload is a raw LZ4 block
inline constexpr uint64_t kFatbinFlagZstd = 0x8000;  // payload is a zstd frame
// The entry's target is arch-specific (sm_90a, compute_100a) or family-specific (sm_100f,
// compute_120f); `arch` holds the number without the suffix. Seen in nvcc 13.0 output
// (-gencode arch=compute_90a,code=compute_90a and the like) and in cuBLASLt's sm_90a cubins.
inline constexpr uint64_t kFatbinFlagArchSpecific = 0x100000;
inline constexpr uint64_t kFatbinFlagFamilySpecific = 0x200000;

// The first 64 bytes of an entry header.
struct FatbinEntryHeader {
  uint16_t kind;  // kFatbinKindPtx, kFatbinKindElf, others (LTO IR, ...)
  uint16_t version;
  uint32_t header_size;
  uint64_t payload_size;
  uint32_t compressed_size;  // 0: not compressed
  uint32_t options_offset;
  uint16_t minor, major;
  uint32_t arch;
  uint32_t name_offset, name_length;
  uint64_t flags;
  uint64_t reserved;
  uint64_t uncompressed_size;
};
static_assert(sizeof(FatbinEntryHeader) == 64);

struct FatbinEntry {
  uint64_t offset = 0;  // of the entry header, from the container's start
  FatbinEntryHeader h{};
  Bytes header;   // the whole entry header (h.header_size bytes)
  Bytes payload;  // h.payload_size bytes (compressed ones: the first h.compressed_size hold the data)
};

// The container at the start of `b`: its entries in order, and *extent = header size + the size
// of the entries its header declares. Returns false with *error on the first thing wrong: a
// truncated or foreign header, a header size under 16, entries beyond `b` (or over
// kMaxImageBytes), an entry whose header or payload runs past the entries ("fatbin entry 2 (at
// byte 400): ..."); *out then holds the entries read before it. `error` may be null.
bool fatbin_entries(Bytes b, std::vector<FatbinEntry>* out, size_t* extent, std::string* error);

// Decompresses a compressed entry's payload `src` (flags: kFatbinFlagZstd or kFatbinFlagLz4),
// whose header claims `claimed` bytes uncompressed, into *out: what the payload really holds, at
// most `claimed` bytes. Refused (false with *error): neither or both flags, a claim of 0 or over
// `limit`, a corrupt payload, or one holding more than it claims. The buffer is sized by what the
// payload can produce (zstd: ZSTD_decompressBound; LZ4: 255 bytes per input byte), never by the
// claim alone, and is not zero-filled: a small entry with a false claim costs nothing. *out may
// hold fewer than `claimed` bytes; callers that need the exact size compare.
bool fatbin_decompress(uint64_t flags, Bytes src, uint64_t claimed, uint64_t limit, std::vector<uint8_t>* out,
                       std::string* error);

}  // namespace gpool::image
