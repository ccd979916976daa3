// ELF64 headers, section tables and section names (gpool/common/image/elf.h).
#include "gpool/common/image/elf.h"

namespace gpool::image {
namespace {

constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfData2Lsb = 1;
constexpr uint16_t kShnXindex = 0xffff;

}  // namespace

bool is_elf(Bytes b) { return b.has(0, 4) && std::memcmp(b.data, "\x7f" "ELF", 4) == 0; }

bool read_elf_header(Bytes b, ElfHeader* h, std::string* error) {
  if (!b.get(0, h)) {
    if (error) *error = "ELF header is truncated";
    return false;
  }
  if (std::memcmp(h->ident, "\x7f" "ELF", 4) != 0) {
    if (error) *error = "bad ELF magic";
    return false;
  }
  if (h->ident[4] != kElfClass64 || h->ident[5] != kElfData2Lsb) {
    if (error) *error = "only 64-bit little-endian cubins are supported";
    return false;
  }
  return true;
}

bool read_elf_sections(Bytes b, const ElfHeader& h, std::vector<ElfSection>* out, uint32_t* shstrndx,
                       std::string* error) {
  out->clear();
  *shstrndx = h.shstrndx;
  if (h.shoff == 0) return true;
  if (h.shentsize < sizeof(ElfSection)) {
    if (error) *error = "unexpected section header size " + std::to_string(h.shentsize);
    return false;
  }
  uint64_t count = h.shnum;
  ElfSection first;
  if (h.shoff > kMaxImageBytes || !b.get(h.shoff, &first)) {
    if (error) *error = "section header table is out of bounds";
    return false;
  }
  if (count == 0) count = first.size;
  if (*shstrndx == kShnXindex) *shstrndx = first.link;
  const uint64_t stride = h.shentsize;
  if (count > kMaxElfSections || !b.has(h.shoff, count * stride) || h.shoff + count * stride > kMaxImageBytes) {
    if (error) *error = "section header table of " + std::to_string(count) + " entries is out of bounds";
    return false;
  }
  out->resize(count);
  for (uint64_t i = 0; i < count; ++i) std::memcpy(&(*out)[i], b.data + h.shoff + i * stride, sizeof(ElfSection));
  return true;
}

std::optional<std::string_view> elf_section_name(Bytes b, const std::vector<ElfSection>& sections,
                                                 uint32_t shstrndx, uint32_t name, bool allow_unterminated) {
  if (shstrndx == 0 || shstrndx >= sections.size()) return std::nullopt;
  const ElfSection& str = sections[shstrndx];
  if (str.type == kShtNobits || !b.has(str.offset, str.size) || name >= str.size) return std::nullopt;
  const char* start = reinterpret_cast<const char*>(b.data + str.offset + name);
  const size_t room = static_cast<size_t>(str.size - name);
  const void* nul = std::memchr(start, 0, room);
  if (nul == nullptr && !allow_unterminated) return std::nullopt;
  return std::string_view(start, nul ? static_cast<size_t>(static_cast<const char*>(nul) - start) : room);
}

}  // namespace gpool::image
