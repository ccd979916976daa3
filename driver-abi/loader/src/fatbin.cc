// Fatbin containers: a 16-byte header, then entries (PTX or ELF), each a
// variable-size header plus payload, possibly compressed.
#include "internal.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace gpool::emu::loader::detail {
namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50;
constexpr uint16_t kKindPtx = 1;
constexpr uint16_t kKindElf = 2;
constexpr uint32_t kMinEntryHeader = 64;

struct EntryHeader {
  uint16_t kind;
  uint16_t version;
  uint32_t header_size;
  uint64_t payload_size;
  uint32_t compressed_size;
  uint32_t options_offset;
  uint16_t minor, major;
  uint32_t arch;
  uint32_t name_offset, name_length;
  uint64_t flags;
  uint64_t reserved;
  uint64_t uncompressed_size;
};
static_assert(sizeof(EntryHeader) == 64);

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

bool parse_container(Bytes b, Image* img, size_t* extent, std::string* error) {
  const uint32_t unit = img->units;
  uint32_t last_unit = unit;
  uint32_t magic = 0;
  uint16_t version = 0, header_size = 0;
  uint64_t total = 0;
  if (!b.get(0, &magic) || !b.get(4, &version) || !b.get(6, &header_size) || !b.get(8, &total)) {
    *error = "fatbin header is truncated";
    return false;
  }
  if (magic != kFatbinMagic) {
    *error = "bad fatbin magic";
    return false;
  }
  if (header_size < 16 || header_size > 256) {
    *error = "fatbin header size " + std::to_string(header_size) + " is invalid";
    return false;
  }
  if (total > kMaxImageBytes || !b.has(header_size, total)) {
    *error = "fatbin declares " + std::to_string(total) + " bytes of entries, more than " +
             (b.size == SIZE_MAX ? std::string("the limit") : "the " + std::to_string(b.size) + " bytes given");
    return false;
  }
  const uint64_t end = header_size + total;
  uint64_t off = header_size;
  int index = 0;
  while (off < end) {
    auto fail = [&](const std::string& what) {
      *error = "fatbin entry " + std::to_string(index) + " (at byte " + std::to_string(off) + "): " + what;
      return false;
    };
    if (end - off < kMinEntryHeader) return fail("entry header is truncated");
    EntryHeader h;
    std::memcpy(&h, b.data + off, sizeof h);
    if (h.header_size < kMinEntryHeader || h.header_size > end - off)
      return fail("entry header size " + std::to_string(h.header_size) + " is invalid");
    if (h.payload_size > end - off - h.header_size)
      return fail("payload of " + std::to_string(h.payload_size) + " bytes runs past the container");
    Bytes payload = b.sub(off + h.header_size, h.payload_size);
    if (h.kind == kKindPtx || h.kind == kKindElf) {
      std::vector<uint8_t> plain;
      if (h.compressed_size != 0) {
        if (h.compressed_size > h.payload_size)
          return fail("compressed size " + std::to_string(h.compressed_size) + " exceeds the payload size " +
                      std::to_string(h.payload_size));
        std::string why;
        if (!decompress(h.flags, payload.sub(0, h.compressed_size), h.uncompressed_size, &plain, &why))
          return fail(why);
        payload = Bytes{plain.data(), plain.size()};
      }
      if (h.kind == kKindPtx) {
        const void* nul = std::memchr(payload.data, 0, payload.size);
        size_t len = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - payload.data) : payload.size;
        PtxEntry e{h.arch, std::string(reinterpret_cast<const char*>(payload.data), len)};
        e.options = entry_options(b.sub(off, h.header_size), h.options_offset);
        e.unit = unit + link_unit(e.options);
        last_unit = std::max(last_unit, e.unit);
        img->ptx.push_back(std::move(e));
      } else {
        CubinInfo info;
        std::string why;
        if (!parse_cubin(payload, &info, &why)) return fail("ELF: " + why);
        if (info.sm == 0) info.sm = h.arch;
        img->cubins.push_back(std::move(info));
      }
    }
    // Other kinds (LTO IR, ...) carry nothing the emulator can use: skipped.
    off += h.header_size + h.payload_size;
    ++index;
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
