#include "image_check.h"

#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include <vector>

#include "gpool/common/image/fatbin.h"

namespace gpool::server {
namespace {

constexpr uint32_t kWrapperMagic = 0x466243b1u;

template <typename T>
bool read(std::span<const std::byte> b, uint64_t off, T& out) {
  if (off > b.size() || b.size() - off < sizeof(T)) return false;
  std::memcpy(&out, b.data() + off, sizeof(T));
  return true;
}

// [off, off + len) lies inside a buffer of `size` bytes (no overflow).
bool inside(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

bool is_elf(std::span<const std::byte> b) {
  return b.size() >= 4 && std::memcmp(b.data(), "\x7f" "ELF", 4) == 0;
}

// A 64-bit little-endian ELF: its program and section header tables and every section's bytes
// (except NOBITS ones) lie inside `b`.
bool elf_ok(std::span<const std::byte> b, std::string& why) {
  uint8_t cls = 0, data = 0;
  if (!read(b, 4, cls) || !read(b, 5, data) || cls != 2 || data != 1) {
    why = "an ELF image that is not 64-bit little-endian";
    return false;
  }
  uint64_t phoff = 0, shoff = 0;
  uint16_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
  if (!read(b, 0x20, phoff) || !read(b, 0x28, shoff) || !read(b, 0x36, phentsize) ||
      !read(b, 0x38, phnum) || !read(b, 0x3a, shentsize) || !read(b, 0x3c, shnum)) {
    why = "an ELF image shorter than its header";
    return false;
  }
  if (phnum != 0 && (phentsize < 56 || !inside(phoff, uint64_t{phentsize} * phnum, b.size()))) {
    why = "an ELF image whose program headers lie outside the bytes sent";
    return false;
  }
  if (shnum != 0 && (shentsize < 64 || !inside(shoff, uint64_t{shentsize} * shnum, b.size()))) {
    why = "an ELF image whose section headers lie outside the bytes sent";
    return false;
  }
  for (uint16_t i = 0; i < shnum; ++i) {
    const uint64_t sh = shoff + uint64_t{shentsize} * i;
    uint32_t type = 0;
    uint64_t off = 0, size = 0;
    if (!read(b, sh + 4, type) || !read(b, sh + 0x18, off) || !read(b, sh + 0x20, size)) return false;
    // SHT_NOBITS, and SHT_CUDA_SHARED (.nv.shared.<kernel> of a relocatable -rdc=true cubin): no
    // file bytes; their offset and size describe memory only.
    if (type == 8 /* SHT_NOBITS */ || type == 0x7000000a /* SHT_CUDA_SHARED */) continue;
    if (!inside(off, size, b.size())) {
      why = fmt::format("an ELF image whose section {} lies outside the bytes sent", i);
      return false;
    }
  }
  return true;
}

// A fatbin container at the start of `b`: its entries, as the header's total declares them,
// lie inside `b`, and so does each entry's payload (the shared walk, gpool/common/image/
// fatbin.h); an uncompressed ELF payload is checked too.
bool fatbin_ok(std::span<const std::byte> b, std::string& why) {
  std::vector<gpool::image::FatbinEntry> entries;
  size_t extent = 0;
  std::string error;
  if (!gpool::image::fatbin_entries({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, &entries, &extent,
                                    &error)) {
    why = fmt::format("a fatbin that does not fit the {} bytes sent: {}", b.size(), error);
    return false;
  }
  for (const gpool::image::FatbinEntry& e : entries) {
    const std::span<const std::byte> body(reinterpret_cast<const std::byte*>(e.payload.data), e.payload.size);
    if (e.h.compressed_size == 0 && is_elf(body) && !elf_ok(body, why)) return false;
  }
  return true;
}

}  // namespace

bool image_bounds_ok(std::span<const std::byte> image, std::string& why) {
  uint32_t magic = 0;
  if (!read(image, 0, magic)) return true;  // shorter than 4 bytes: PTX text (or nothing)
  if (magic == kWrapperMagic) {
    why = "a fatBinC wrapper (it holds a pointer into the sending process); send the fatbin it "
          "points to";
    return false;
  }
  if (magic == gpool::image::kFatbinMagic) return fatbin_ok(image, why);
  if (is_elf(image)) return elf_ok(image, why);
  return true;
}

}  // namespace gpool::server
