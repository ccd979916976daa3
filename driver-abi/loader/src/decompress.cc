// Fatbin payload decompression: zstd frames (flag 0x8000) and raw LZ4 blocks
// (flag 0x2000), into exactly the declared uncompressed size.
#include "internal.h"

#include <lz4.h>
#include <zstd.h>

#include <climits>

namespace gpool::emu::loader::detail {

constexpr uint64_t kFlagLz4 = 0x2000;
constexpr uint64_t kFlagZstd = 0x8000;

bool decompress(uint64_t flags, Bytes src, uint64_t uncompressed_size, std::vector<uint8_t>* out,
                std::string* error) {
  const bool lz4 = flags & kFlagLz4, zstd = flags & kFlagZstd;
  if (lz4 && zstd) {
    *error = "both the LZ4 and the zstd flag are set";
    return false;
  }
  if (!lz4 && !zstd) {
    *error = "compressed size is set but the flags (0x" + [&] {
      char buf[20];
      snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(flags));
      return std::string(buf);
    }() + ") name no known compression";
    return false;
  }
  if (uncompressed_size == 0 || uncompressed_size > kMaxUncompressedBytes) {
    *error = "uncompressed size " + std::to_string(uncompressed_size) + " is out of range";
    return false;
  }
  out->assign(uncompressed_size, 0);
  if (zstd) {
    size_t r = ZSTD_decompress(out->data(), out->size(), src.data, src.size);
    if (ZSTD_isError(r)) {
      *error = std::string("zstd payload is corrupt: ") + ZSTD_getErrorName(r);
      return false;
    }
    if (r != uncompressed_size) {
      *error = "zstd payload holds " + std::to_string(r) + " bytes, the header says " +
               std::to_string(uncompressed_size);
      return false;
    }
    return true;
  }
  if (src.size > INT_MAX || uncompressed_size > INT_MAX) {
    *error = "LZ4 payload too large";
    return false;
  }
  int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src.data), reinterpret_cast<char*>(out->data()),
                              static_cast<int>(src.size), static_cast<int>(uncompressed_size));
  if (r < 0) {
    *error = "LZ4 payload is corrupt";
    return false;
  }
  if (static_cast<uint64_t>(r) != uncompressed_size) {
    *error = "LZ4 payload holds " + std::to_string(r) + " bytes, the header says " +
             std::to_string(uncompressed_size);
    return false;
  }
  return true;
}

}  // namespace gpool::emu::loader::detail
