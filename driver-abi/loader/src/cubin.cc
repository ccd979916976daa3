// Cubin ELF files: their extent from the headers, per-kernel parameter
// layouts from the ".nv.info.<kernel>" sections (EIATTR_KPARAM_INFO,
// EIATTR_CBANK_PARAM_SIZE), and per-kernel register counts (EIATTR_REGCOUNT
// in the global ".nv.info", else sh_info >> 24 of ".text.<kernel>").
#include "internal.h"

#include "gpool/common/image/elf.h"

#include <algorithm>

namespace gpool::emu::loader::detail {
namespace {

using image::ElfHeader;
using image::kShtNobits;
using image::kShtSymtab;
using image::occupies_no_file_bytes;
using SectionHeader = image::ElfSection;
constexpr uint32_t kMaxSections = image::kMaxElfSections;

constexpr uint8_t kFmtNval = 1, kFmtBval = 2, kFmtHval = 3, kFmtSval = 4;
constexpr uint8_t kAttrKparamInfo = 0x17;
constexpr uint8_t kAttrCbankParamSize = 0x19;
constexpr uint8_t kAttrRegcount = 0x2f;  // global .nv.info: {u32 symbol index, u32 registers}

struct ProgramHeader {
  uint32_t type, flags;
  uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
static_assert(sizeof(ProgramHeader) == 56);

// The section table (gpool/common/image/elf.h); the emulator reads only tables of 64-byte
// entries.
bool read_sections(Bytes b, const ElfHeader& h, std::vector<SectionHeader>* out, uint32_t* shstrndx,
                   std::string* error) {
  if (h.shoff != 0 && h.shentsize != sizeof(SectionHeader)) {
    *error = "unexpected section header size " + std::to_string(h.shentsize);
    return false;
  }
  return image::read_elf_sections(b, h, out, shstrndx, error);
}

bool extent_of(Bytes b, const ElfHeader& h, const std::vector<SectionHeader>& sections, size_t* extent,
               std::string* error) {
  uint64_t end = sizeof(ElfHeader);
  end = std::max<uint64_t>(end, h.shoff + sections.size() * sizeof(SectionHeader));
  if (h.phoff != 0 && h.phnum != 0) {
    if (h.phentsize != sizeof(ProgramHeader) || h.phoff > kMaxImageBytes ||
        !b.has(h.phoff, uint64_t{h.phnum} * sizeof(ProgramHeader))) {
      *error = "program header table is out of bounds";
      return false;
    }
    end = std::max<uint64_t>(end, h.phoff + uint64_t{h.phnum} * sizeof(ProgramHeader));
    for (uint32_t i = 0; i < h.phnum; ++i) {
      ProgramHeader ph;
      std::memcpy(&ph, b.data + h.phoff + i * sizeof(ProgramHeader), sizeof ph);
      if (ph.offset > kMaxImageBytes || ph.filesz > kMaxImageBytes - ph.offset) {
        *error = "segment " + std::to_string(i) + " is out of range";
        return false;
      }
      end = std::max<uint64_t>(end, ph.offset + ph.filesz);
    }
  }
  for (size_t i = 0; i < sections.size(); ++i) {
    const SectionHeader& s = sections[i];
    if (occupies_no_file_bytes(s.type) || i == 0) continue;
    if (s.offset > kMaxImageBytes || s.size > kMaxImageBytes - s.offset) {
      *error = "section " + std::to_string(i) + " is out of range";
      return false;
    }
    end = std::max<uint64_t>(end, s.offset + s.size);
  }
  if (!b.has(0, end)) {
    *error = "ELF file is truncated: its headers describe " + std::to_string(end) + " bytes, " +
             std::to_string(b.size) + " given";
    return false;
  }
  *extent = static_cast<size_t>(end);
  return true;
}

bool section_name(Bytes b, const std::vector<SectionHeader>& sections, uint32_t shstrndx, uint32_t name,
                  std::string* out) {
  const std::optional<std::string_view> n = image::elf_section_name(b, sections, shstrndx, name);
  if (!n) return false;
  out->assign(*n);
  return true;
}

bool parse_nv_info(Bytes s, CubinKernel* k, std::string* error) {
  uint64_t off = 0;
  bool have_size = false;
  uint32_t cbank_size = 0;
  while (off + 4 <= s.size) {
    uint8_t fmt = s.data[off], attr = s.data[off + 1];
    uint16_t value = 0;
    std::memcpy(&value, s.data + off + 2, 2);
    uint64_t body = 0;
    switch (fmt) {
      case kFmtNval:
      case kFmtBval:
      case kFmtHval:
        break;
      case kFmtSval:
        body = value;
        break;
      default:
        *error = "unknown .nv.info record format " + std::to_string(fmt) + " at byte " + std::to_string(off);
        return false;
    }
    if (body > s.size - off - 4) {
      *error = ".nv.info record at byte " + std::to_string(off) + " runs past the section";
      return false;
    }
    const uint8_t* data = s.data + off + 4;
    if (attr == kAttrKparamInfo && fmt == kFmtSval) {
      if (body < 12) {
        *error = "EIATTR_KPARAM_INFO record is too short";
        return false;
      }
      uint16_t ordinal, offset;
      uint32_t packed;
      std::memcpy(&ordinal, data + 4, 2);
      std::memcpy(&offset, data + 6, 2);
      std::memcpy(&packed, data + 8, 4);
      k->params.push_back(KernelParamLayout{ordinal, offset, packed >> 18, packed & 0xffu});
    } else if (attr == kAttrCbankParamSize && fmt == kFmtHval) {
      have_size = true;
      cbank_size = value;
    }
    off += 4 + body;
  }
  std::sort(k->params.begin(), k->params.end(),
            [](const KernelParamLayout& a, const KernelParamLayout& b) { return a.ordinal < b.ordinal; });
  for (size_t i = 1; i < k->params.size(); ++i) {
    if (k->params[i].ordinal == k->params[i - 1].ordinal) {
      *error = "parameter " + std::to_string(k->params[i].ordinal) + " is described twice";
      return false;
    }
  }
  uint32_t end = 0;
  for (const KernelParamLayout& p : k->params) end = std::max(end, p.offset + p.size);
  k->param_bytes = have_size ? cbank_size : end;
  if (have_size && end > cbank_size) {
    *error = "parameters end at byte " + std::to_string(end) + " beyond the parameter buffer size " +
             std::to_string(cbank_size);
    return false;
  }
  return true;
}


// Symbol index -> name, from the .symtab section (empty when there is none or it is malformed).
std::vector<std::string> symbol_names(Bytes b, const std::vector<SectionHeader>& sections) {
  std::vector<std::string> names;
  for (const SectionHeader& s : sections) {
    if (s.type != kShtSymtab || s.link >= sections.size()) continue;
    const SectionHeader& str = sections[s.link];
    if (!b.has(s.offset, s.size) || !b.has(str.offset, str.size)) return {};
    constexpr uint64_t kSymSize = 24;
    const uint64_t n = std::min<uint64_t>(s.size / kSymSize, kMaxSections);
    names.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint32_t name = 0;
      std::memcpy(&name, b.data + s.offset + i * kSymSize, 4);
      if (name >= str.size) continue;
      const uint8_t* start = b.data + str.offset + name;
      const void* nul = std::memchr(start, 0, str.size - name);
      if (nul) names[i].assign(reinterpret_cast<const char*>(start), static_cast<const uint8_t*>(nul) - start);
    }
    break;
  }
  return names;
}

// EIATTR_REGCOUNT records of the global .nv.info section: kernel name -> registers.
void read_regcounts(Bytes s, const std::vector<std::string>& symbols,
                    std::vector<std::pair<std::string, uint32_t>>* out) {
  uint64_t off = 0;
  while (off + 4 <= s.size) {
    const uint8_t fmt = s.data[off], attr = s.data[off + 1];
    uint16_t value = 0;
    std::memcpy(&value, s.data + off + 2, 2);
    const uint64_t body = fmt == kFmtSval ? value : 0;
    if ((fmt < kFmtNval || fmt > kFmtSval) || body > s.size - off - 4) return;  // malformed: stop reading
    if (attr == kAttrRegcount && fmt == kFmtSval && body >= 8) {
      uint32_t sym = 0, regs = 0;
      std::memcpy(&sym, s.data + off + 4, 4);
      std::memcpy(&regs, s.data + off + 8, 4);
      if (sym < symbols.size() && !symbols[sym].empty()) out->emplace_back(symbols[sym], regs);
    }
    off += 4 + body;
  }
}

}  // namespace

bool elf_extent(Bytes b, size_t* extent, std::string* error) {
  ElfHeader h;
  if (!image::read_elf_header(b, &h, error)) return false;
  std::vector<SectionHeader> sections;
  uint32_t shstrndx = 0;
  if (!read_sections(b, h, &sections, &shstrndx, error)) return false;
  return extent_of(b, h, sections, extent, error);
}

bool parse_cubin(Bytes b, CubinInfo* out, std::string* error) {
  ElfHeader h;
  if (!image::read_elf_header(b, &h, error)) return false;
  std::vector<SectionHeader> sections;
  uint32_t shstrndx = 0;
  if (!read_sections(b, h, &sections, &shstrndx, error)) return false;
  size_t extent = 0;
  if (!extent_of(b, h, sections, &extent, error)) return false;
  // nvcc cubins (EI_OSABI 0x41): SM in bits 8-15 of e_flags; cuBLAS's (0x33): bits 0-7.
  out->sm = h.ident[7] == 0x33 ? (h.flags & 0xffu) : ((h.flags >> 8) & 0xffu);
  out->kernels.clear();
  static constexpr std::string_view kPrefix = ".nv.info.";
  static constexpr std::string_view kText = ".text.";
  // Registers per kernel: EIATTR_REGCOUNT in the global .nv.info (every cubin seen), else
  // bits 24-31 of sh_info of ".text.<kernel>" (sm_75 cubins; not set in sm_90 ones).
  std::vector<std::pair<std::string, uint32_t>> text_regs, info_regs;
  const std::vector<std::string> symbols = symbol_names(b, sections);
  for (size_t i = 1; i < sections.size(); ++i) {
    std::string name;
    if (!section_name(b, sections, shstrndx, sections[i].name, &name)) {
      *error = "section " + std::to_string(i) + " has an invalid name";
      return false;
    }
    if (name.size() > kText.size() && name.compare(0, kText.size(), kText) == 0) {
      text_regs.emplace_back(name.substr(kText.size()), sections[i].info >> 24);
      continue;
    }
    if (name == ".nv.info" && sections[i].type != kShtNobits && b.has(sections[i].offset, sections[i].size)) {
      read_regcounts(b.sub(sections[i].offset, sections[i].size), symbols, &info_regs);
      continue;
    }
    if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    if (sections[i].type == kShtNobits || !b.has(sections[i].offset, sections[i].size)) {
      *error = name + " is out of bounds";
      return false;
    }
    CubinKernel k;
    k.name = name.substr(kPrefix.size());
    k.param_bytes = 0;
    std::string why;
    if (!parse_nv_info(b.sub(sections[i].offset, sections[i].size), &k, &why)) {
      *error = name + ": " + why;
      return false;
    }
    out->kernels.push_back(std::move(k));
  }
  std::sort(out->kernels.begin(), out->kernels.end(),
            [](const CubinKernel& a, const CubinKernel& b) { return a.name < b.name; });
  for (const auto* list : {&text_regs, &info_regs}) {  // .nv.info last: it wins
    for (const auto& [kname, regs] : *list) {
      auto it = std::lower_bound(out->kernels.begin(), out->kernels.end(), kname,
                                 [](const CubinKernel& k, const std::string& n) { return k.name < n; });
      if (it != out->kernels.end() && it->name == kname && regs != 0) it->num_regs = regs;
    }
  }
  return true;
}

}  // namespace gpool::emu::loader::detail
