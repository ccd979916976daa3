// Fatbin containers: the entry walk and compressed payloads (gpool/common/image/fatbin.h).
#include "gpool/common/image/fatbin.h"

#include <lz4.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_decompressBound (exported by Debian's libzstd 1.5)
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>

namespace gpool::image {
namespace {

constexpr uint64_t kLz4MaxRatio = 255;  // a raw LZ4 block expands at most 255-fold

bool fail(std::string* error, std::string what) {
  if (error) *error = std::move(what);
  return false;
}

}  // namespace

bool fatbin_entries(Bytes b, std::vector<FatbinEntry>* out, size_t* extent, std::string* error) {
  out->clear();
  uint32_t magic = 0;
  uint16_t version = 0, header_size = 0;
  uint64_t total = 0;
  if (!b.get(0, &magic) || !b.get(4, &version) || !b.get(6, &header_size) || !b.get(8, &total))
    return fail(error, "fatbin header is truncated");
  if (magic != kFatbinMagic) return fail(error, "bad fatbin magic");
  if (header_size < 16) return fail(error, "fatbin header size " + std::to_string(header_size) + " is invalid");
  if (total > kMaxImageBytes || !b.has(header_size, total)) {
    return fail(error, "fatbin declares " + std::to_string(total) + " bytes of entries, more than " +
                           (b.size == SIZE_MAX ? std::string("the limit") : "the " + std::to_string(b.size) + " bytes given"));
  }
  const uint64_t end = header_size + total;
  uint64_t off = header_size;
  for (int index = 0; off < end; ++index) {
    auto bad = [&](const std::string& what) {
      return fail(error, "fatbin entry " + std::to_string(index) + " (at byte " + std::to_string(off) + "): " + what);
    };
    if (end - off < kFatbinMinEntryHeader) return bad("entry header is truncated");
    FatbinEntry e;
    e.offset = off;
    std::memcpy(&e.h, b.data + off, sizeof e.h);
    if (e.h.header_size < kFatbinMinEntryHeader || e.h.header_size > end - off)
      return bad("entry header size " + std::to_string(e.h.header_size) + " is invalid");
    if (e.h.payload_size > end - off - e.h.header_size)
      return bad("payload of " + std::to_string(e.h.payload_size) + " bytes runs past the container");
    e.header = b.sub(off, e.h.header_size);
    e.payload = b.sub(off + e.h.header_size, e.h.payload_size);
    off += e.h.header_size + e.h.payload_size;
    out->push_back(e);
  }
  *extent = static_cast<size_t>(end);
  return true;
}

bool fatbin_decompress(uint64_t flags, Bytes src, uint64_t claimed, uint64_t limit, std::vector<uint8_t>* out,
                       std::string* error) {
  const bool lz4 = flags & kFatbinFlagLz4, zstd = flags & kFatbinFlagZstd;
  if (lz4 && zstd) return fail(error, "both the LZ4 and the zstd flag are set");
  if (!lz4 && !zstd) {
    char hex[20];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(flags));
    return fail(error, std::string("compressed size is set but the flags (0x") + hex + ") name no known compression");
  }
  if (claimed == 0 || claimed > limit)
    return fail(error, "uncompressed size " + std::to_string(claimed) + " is out of range");
  uint64_t cap = claimed;
  if (zstd) {
    const unsigned long long bound = ZSTD_decompressBound(src.data, src.size);
    if (bound == ZSTD_CONTENTSIZE_ERROR) return fail(error, "zstd payload is corrupt: its frames do not parse");
    cap = std::min<uint64_t>(cap, bound);
  } else {
    if (src.size > INT_MAX || claimed > INT_MAX) return fail(error, "LZ4 payload too large");
    cap = std::min<uint64_t>(cap, src.size * kLz4MaxRatio + 16);
  }
  // Not zero-filled: only the bytes the decompressor writes are touched (and kept).
  const std::unique_ptr<uint8_t[]> buf(new uint8_t[std::max<uint64_t>(cap, 1)]);
  size_t got = 0;
  if (zstd) {
    const size_t r = ZSTD_decompress(buf.get(), static_cast<size_t>(cap), src.data, src.size);
    if (ZSTD_isError(r)) return fail(error, std::string("zstd payload is corrupt: ") + ZSTD_getErrorName(r));
    got = r;
  } else {
    const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src.data), reinterpret_cast<char*>(buf.get()),
                                      static_cast<int>(src.size), static_cast<int>(cap));
    if (r < 0) return fail(error, "LZ4 payload is corrupt");
    got = static_cast<size_t>(r);
  }
  out->assign(buf.get(), buf.get() + got);
  return true;
}

}  // namespace gpool::image
