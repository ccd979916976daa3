// Writing gpool's linked image (see image.h, make_link_image): the inverse of
// parse_container() for uncompressed PTX entries.
#include "internal.h"

#include "gpool/common/image/fatbin.h"

namespace gpool::emu::loader {
namespace {

template <class T>
void put(std::vector<uint8_t>* out, size_t off, T v) {
  std::memcpy(out->data() + off, &v, sizeof v);
}

size_t align8(size_t n) { return (n + 7) & ~size_t{7}; }

}  // namespace

std::vector<uint8_t> make_link_image(const std::vector<LinkUnit>& units, const std::string& options,
                                     const void* base, size_t base_size) {
  constexpr size_t kContainerHeader = 16, kEntryHeader = 64;
  std::vector<uint8_t> out(kContainerHeader, 0);
  if (base != nullptr && base_size > kContainerHeader) {
    uint16_t header = 0;
    uint64_t total = 0;
    std::memcpy(&header, static_cast<const uint8_t*>(base) + 6, 2);
    std::memcpy(&total, static_cast<const uint8_t*>(base) + 8, 8);
    if (header >= kContainerHeader && header <= base_size && total <= base_size - header) {
      const auto* entries = static_cast<const uint8_t*>(base) + header;
      const size_t at = out.size();
      out.resize(at + total);  // entries are read back to back: no padding
      std::memcpy(out.data() + at, entries, total);
    }
  }
  for (size_t k = 0; k < units.size(); ++k) {
    const uint32_t unit = units[k].unit == UINT32_MAX ? static_cast<uint32_t>(k) : units[k].unit;
    const std::string opts = "-gpool-link-unit=" + std::to_string(unit) + (options.empty() ? "" : " " + options);
    const size_t header = align8(kEntryHeader + 8 + opts.size());
    const size_t payload = align8(units[k].text.size() + 1);
    const size_t at = out.size();
    out.resize(at + header + payload, 0);
    put<uint16_t>(&out, at + 0, 1);        // kind: PTX
    put<uint16_t>(&out, at + 2, 0x0101);   // entry version, as nvcc writes it
    put<uint32_t>(&out, at + 4, static_cast<uint32_t>(header));
    put<uint64_t>(&out, at + 8, payload);
    put<uint32_t>(&out, at + 20, kEntryHeader);  // options_offset
    put<uint32_t>(&out, at + 28, units[k].arch);
    const uint64_t variant = units[k].variant == ArchVariant::ArchSpecific     ? image::kFatbinFlagArchSpecific
                             : units[k].variant == ArchVariant::FamilySpecific ? image::kFatbinFlagFamilySpecific
                                                                               : 0;
    put<uint64_t>(&out, at + 40, 0x11 | variant);  // 64-bit, Linux host, the target's suffix
    put<uint32_t>(&out, at + kEntryHeader, static_cast<uint32_t>(kEntryHeader + 8));
    put<uint32_t>(&out, at + kEntryHeader + 4, static_cast<uint32_t>(opts.size()));
    std::memcpy(out.data() + at + kEntryHeader + 8, opts.data(), opts.size());
    std::memcpy(out.data() + at + header, units[k].text.data(), units[k].text.size());
  }
  put<uint32_t>(&out, 0, 0xBA55ED50);
  put<uint16_t>(&out, 4, 1);
  put<uint16_t>(&out, 6, kContainerHeader);
  put<uint64_t>(&out, 8, out.size() - kContainerHeader);
  return out;
}

}  // namespace gpool::emu::loader
