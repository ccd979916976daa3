// Fatbin containers: a 16-byte header, then entries (PTX or ELF), each a
// variable-size header plus payload, possibly compressed.
#include "internal.h"

#include "gpool/common/image/fatbin.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace gpool::emu::loader::detail {
namespace {

using image::FatbinEntry;
using image::kFatbinMagic;

// A PTX entry's option string: at options_offset within the entry header, {u32 offset of the
// text from the header start, u32 length}, then the text ("--compile-only" for relocatable
// PTX from -rdc=true). Anything out of bounds reads as no options.
std::string entry_options(Bytes header, uint32_t options_offset) {
  uint32_t text_off = 0, text_len = 0;
  if (options_offset == 0 || !header.get(options_offset, &text_off) || !header.get(options_offset + 4, &text_len) ||
      !header.has(text_off, text_len))
    return {};
  std::string s(reinterpret_cast<const char*>(header.data + text_off), text_len);
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

// The unit offset an entry's options give: "-gpool-link-unit=K" (gpool's cuLinkComplete output,
// one container holding the inputs of a link, see image.h), else 0. Bounded by kMaxLinkUnits.
uint32_t link_unit(const std::string& options) {
  static constexpr std::string_view kKey = "-gpool-link-unit=";
  const size_t p = options.find(kKey);
  if (p == std::string::npos) return 0;
  const unsigned long k = std::strtoul(options.c_str() + p + kKey.size(), nullptr, 10);
  return static_cast<uint32_t>(std::min<unsigned long>(k, kMaxLinkUnits - 1));
}

ArchVariant variant_of(uint64_t flags) {
  if (flags & image::kFatbinFlagArchSpecific) return ArchVariant::ArchSpecific;
  if (flags & image::kFatbinFlagFamilySpecific) return ArchVariant::FamilySpecific;
  return ArchVariant::Plain;
}

// The emulator's reading of one container: the shared walk (gpool/common/image/fatbin.h), then
// each PTX entry's text and each ELF entry's metadata; other kinds (LTO IR, ...) carry nothing
// the emulator can use and are skipped. Header sizes over 256 bytes are refused.
bool parse_container(Bytes b, Image* img, size_t* extent, std::string* error) {
  const uint32_t unit = img->units;
  uint32_t last_unit = unit;
  uint32_t magic = 0;
  uint16_t header_size = 0;
  if (b.get(0, &magic) && magic == kFatbinMagic && b.get(6, &header_size) && header_size > 256) {
    *error = "fatbin header size " + std::to_string(header_size) + " is invalid";
    return false;
  }
  std::vector<FatbinEntry> entries;
  size_t end = 0;
  if (!image::fatbin_entries(b, &entries, &end, error)) return false;
  for (size_t index = 0; index < entries.size(); ++index) {
    const FatbinEntry& e = entries[index];
    const image::FatbinEntryHeader& h = e.h;
    auto fail = [&](const std::string& what) {
      *error = "fatbin entry " + std::to_string(index) + " (at byte " + std::to_string(e.offset) + "): " + what;
      return false;
    };
    if (h.kind != image::kFatbinKindPtx && h.kind != image::kFatbinKindElf) continue;
    Bytes payload = e.payload;
    std::vector<uint8_t> plain;
    if (h.compressed_size != 0) {
      if (h.compressed_size > h.payload_size)
        return fail("compressed size " + std::to_string(h.compressed_size) + " exceeds the payload size " +
                    std::to_string(h.payload_size));
      std::string why;
      if (!image::fatbin_decompress(h.flags, payload.sub(0, h.compressed_size), h.uncompressed_size,
                                    kMaxUncompressedBytes, &plain, &why))
        return fail(why);
      if (plain.size() != h.uncompressed_size)
        return fail(std::string(h.flags & image::kFatbinFlagZstd ? "zstd" : "LZ4") + " payload holds " +
                    std::to_string(plain.size()) + " bytes, the header says " + std::to_string(h.uncompressed_size));
      payload = Bytes{plain.data(), plain.size()};
    }
    if (h.kind == image::kFatbinKindPtx) {
      const void* nul = std::memchr(payload.data, 0, payload.size);
      size_t len = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - payload.data) : payload.size;
      PtxEntry p{h.arch, std::string(reinterpret_cast<const char*>(payload.data), len)};
      p.options = entry_options(e.header, h.options_offset);
      p.unit = unit + link_unit(p.options);
      p.variant = variant_of(h.flags);
      last_unit = std::max(last_unit, p.unit);
      img->ptx.push_back(std::move(p));
    } else {
      CubinInfo info;
      std::string why;
      if (!parse_cubin(payload, &info, &why)) return fail("ELF: " + why);
      if (info.sm == 0) info.sm = h.arch;
      info.variant = variant_of(h.flags);
      img->cubins.push_back(std::move(info));
    }
  }
  img->units = last_unit + 1;
  *extent = end;
  return true;
}

}  // namespace

bool parse_fatbin(Bytes b, bool all, Image* img, size_t* extent, std::string* error) {
  size_t used = 0;
  if (!parse_container(b, img, &used, error)) return false;
  if (all) {
    // Further containers back to back, each 8-aligned.
    while (true) {
      uint64_t next = (used + 7) & ~uint64_t{7};
      uint32_t magic = 0;
      if (!b.get(next, &magic) || magic != kFatbinMagic) break;
      size_t more = 0;
      std::string why;
      if (!parse_container(b.sub(next, b.size - next), img, &more, &why)) {
        *error = "fatbin container at byte " + std::to_string(next) + ": " + why;
        return false;
      }
      used = next + more;
    }
  }
  *extent = used;
  return true;
}

}  // namespace gpool::emu::loader::detail
