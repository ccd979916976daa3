// A bounded view of device-code image bytes, shared by the readers of fatbin containers and ELF
// cubins (gpool/common/image/fatbin.h, elf.h): the emulator's image loader (driver-abi/loader)
// and the server's upload checks (server/src/image_globals.h).
//
// Ownership: a view; the caller keeps the bytes alive. Thread safety: a value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gpool::image {

// A byte range; size may be SIZE_MAX (unknown: the headers are trusted, as the driver does for
// images passed by pointer alone).
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;

  // [off, off + len) lies inside the range (no overflow).
  bool has(uint64_t off, uint64_t len) const { return off <= size && len <= size - off; }
  // Copies a T from byte `off`; false (and *v untouched) when it does not lie inside.
  template <class T>
  bool get(uint64_t off, T* v) const {
    if (!has(off, sizeof(T))) return false;
    std::memcpy(v, data + off, sizeof(T));
    return true;
  }
  // REQUIRES: has(off, len).
  Bytes sub(uint64_t off, uint64_t len) const { return Bytes{data + off, static_cast<size_t>(len)}; }
};

// Sanity limit on one fatbin container or ELF file: no real image comes close.
inline constexpr uint64_t kMaxImageBytes = 4ull << 30;

}  // namespace gpool::image
