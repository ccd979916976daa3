#include "image_globals.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gpool/common/image/elf.h"
#include "gpool/common/image/fatbin.h"

namespace gpool::server {
namespace {

image::Bytes bytes_of(std::span<const std::byte> b) { return {reinterpret_cast<const uint8_t*>(b.data()), b.size()}; }

uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t mul_sat(uint64_t a, uint64_t b) { return (b != 0 && a > UINT64_MAX / b) ? UINT64_MAX : a * b; }

// Sum of the sizes of .nv.global* and .nv.constant<N> (N != 0) sections (0 when the header or
// section table does not read).
uint64_t elf_global_bytes(image::Bytes b) {
  image::ElfHeader h;
  std::vector<image::ElfSection> sections;
  uint32_t shstrndx = 0;
  if (!image::read_elf_header(b, &h, nullptr) || !image::read_elf_sections(b, h, &sections, &shstrndx, nullptr))
    return 0;
  uint64_t total = 0;
  for (const image::ElfSection& s : sections) {
    // A name the table ends without a NUL still counts, up to the table's end.
    const std::optional<std::string_view> n = image::elf_section_name(b, sections, shstrndx, s.name, true);
    if (!n) continue;
    const bool global = n->starts_with(".nv.global");
    const bool constant = n->starts_with(".nv.constant") && n->size() > 12 && (*n)[12] != '0';
    if (global || constant) total = add_sat(total, s.size);
  }
  return total;
}

size_t type_size(std::string_view t) {
  if (t == ".b8" || t == ".u8" || t == ".s8" || t == ".pred") return 1;
  if (t == ".b16" || t == ".u16" || t == ".s16" || t == ".f16" || t == ".bf16") return 2;
  if (t == ".b32" || t == ".u32" || t == ".s32" || t == ".f32" || t == ".f16x2" || t == ".bf16x2") return 4;
  if (t == ".b64" || t == ".u64" || t == ".s64" || t == ".f64") return 8;
  if (t == ".b128") return 16;
  return 0;
}

// One module-scope declaration (without the trailing ';'): its size when it is a .global or
// .const variable, else 0.
uint64_t declaration_bytes(std::string_view d) {
  // Module directives that end at their line, not at a ';' (.version 8.0, .target sm_90,
  // .address_size 64, .file 1 "a.cu"), may precede the declaration: skip those lines.
  for (;;) {
    size_t k = 0;
    while (k < d.size() && std::isspace(static_cast<unsigned char>(d[k]))) ++k;
    d.remove_prefix(k);
    const bool line_directive = d.rfind(".version", 0) == 0 || d.rfind(".target", 0) == 0 ||
                                d.rfind(".address_size", 0) == 0 || d.rfind(".file", 0) == 0;
    if (!line_directive) break;
    const size_t nl = d.find('\n');
    if (nl == std::string_view::npos) return 0;
    d.remove_prefix(nl + 1);
  }
  // Tokens up to the name: directives start with '.'.
  bool space = false, external = false;
  uint64_t elem = 0, vec = 1;
  size_t i = 0;
  while (i < d.size()) {
    while (i < d.size() && std::isspace(static_cast<unsigned char>(d[i]))) ++i;
    if (i >= d.size() || d[i] != '.') break;
    size_t j = i;
    while (j < d.size() && !std::isspace(static_cast<unsigned char>(d[j])) && d[j] != '[' && d[j] != '=') ++j;
    const std::string_view tok = d.substr(i, j - i);
    if (tok == ".global" || tok == ".const") space = true;
    else if (tok == ".extern") external = true;
    else if (tok == ".v2") vec = 2;
    else if (tok == ".v4") vec = 4;
    else if (tok == ".v8") vec = 8;
    else if (tok == ".align") {  // .align N
      i = j;
      while (i < d.size() && std::isspace(static_cast<unsigned char>(d[i]))) ++i;
      while (i < d.size() && std::isdigit(static_cast<unsigned char>(d[i]))) ++i;
      continue;
    } else if (size_t s = type_size(tok)) elem = s;
    i = j;
  }
  if (!space || external || elem == 0) return 0;
  // The name, then any [N] dimensions (an empty [] takes its size from the initializer: count
  // its elements).
  while (i < d.size() && (std::isalnum(static_cast<unsigned char>(d[i])) || d[i] == '_' || d[i] == '$' || d[i] == '%')) ++i;
  uint64_t count = 1;
  bool unsized = false;
  while (i < d.size()) {
    while (i < d.size() && std::isspace(static_cast<unsigned char>(d[i]))) ++i;
    if (i >= d.size() || d[i] != '[') break;
    ++i;
    uint64_t n = 0;
    bool digits = false;
    while (i < d.size() && std::isdigit(static_cast<unsigned char>(d[i]))) {
      n = add_sat(mul_sat(n, 10), static_cast<uint64_t>(d[i] - '0'));
      digits = true;
      ++i;
    }
    while (i < d.size() && d[i] != ']') ++i;
    ++i;
    if (digits) count = mul_sat(count, n);
    else unsized = true;
  }
  if (unsized) {  // = {a, b, c}: count the commas at depth 1
    const size_t eq = d.find('=', i > d.size() ? d.size() : i);
    if (eq != std::string_view::npos) count = mul_sat(count, 1 + static_cast<uint64_t>(std::count(d.begin() + static_cast<long>(eq), d.end(), ',')));
  }
  return mul_sat(mul_sat(elem, vec), count);
}

}  // namespace

uint64_t ptx_global_bytes(std::string_view ptx) {
  uint64_t total = 0;
  int depth = 0;
  std::string decl;
  bool in_line_comment = false, in_block_comment = false;
  for (size_t i = 0; i < ptx.size(); ++i) {
    const char ch = ptx[i];
    if (ch == '\0') break;
    if (in_line_comment) {
      if (ch == '\n') in_line_comment = false;
      continue;
    }
    if (in_block_comment) {
      if (ch == '*' && i + 1 < ptx.size() && ptx[i + 1] == '/') {
        in_block_comment = false;
        ++i;
      }
      continue;
    }
    if (ch == '/' && i + 1 < ptx.size() && ptx[i + 1] == '/') {
      in_line_comment = true;
      continue;
    }
    if (ch == '/' && i + 1 < ptx.size() && ptx[i + 1] == '*') {
      in_block_comment = true;
      continue;
    }
    if (ch == '{') {
      // An initializer's braces belong to the declaration; a function body's do not.
      if (depth == 0 && decl.find('=') != std::string::npos) {
        decl += ch;
        int inner = 1;
        while (++i < ptx.size() && inner > 0) {
          if (ptx[i] == '{') ++inner;
          if (ptx[i] == '}') --inner;
          decl += ptx[i];
        }
        --i;
        continue;
      }
      ++depth;
      decl.clear();
      continue;
    }
    if (ch == '}') {
      if (depth > 0) --depth;
      decl.clear();
      continue;
    }
    if (depth > 0) continue;
    if (ch == ';') {
      total = add_sat(total, declaration_bytes(decl));
      decl.clear();
      continue;
    }
    if (decl.size() < 4096) decl += ch;  // a declaration's head is short; initializers are skipped
  }
  return total;
}

namespace {

// A compressed fatbin entry's payload, decompressed, or false when it cannot be (corrupt, or
// over kMaxDecompressed: such an entry stays opaque). The buffer is sized by what the payload
// can actually produce, not by the size the entry header claims (image::fatbin_decompress): a
// header is the tenant's word, and trusting it let a 72-byte entry cost a 256 MiB zero-filled
// allocation (found by fuzz_image_globals; ImageGlobalsTest.ClaimedSizeCostsNothing).
constexpr uint64_t kMaxDecompressed = uint64_t{256} << 20;

uint64_t entry_global_bytes(image::Bytes body, uint16_t kind) {
  if (image::is_elf(body)) return elf_global_bytes(body);
  if (kind == image::kFatbinKindPtx) return ptx_global_bytes({reinterpret_cast<const char*>(body.data), body.size});
  return 0;
}

}  // namespace

GlobalBytes image_global_bytes(std::span<const std::byte> upload) {
  GlobalBytes out;
  const image::Bytes b = bytes_of(upload);
  uint32_t magic = 0;
  if (b.get(0, &magic) && magic == image::kFatbinMagic) {
    // A malformed entry ends the walk: the entries before it still count.
    std::vector<image::FatbinEntry> entries;
    size_t extent = 0;
    (void)image::fatbin_entries(b, &entries, &extent, nullptr);
    for (const image::FatbinEntry& e : entries) {
      uint64_t bytes = 0;
      if (e.h.compressed_size != 0) {
        std::vector<uint8_t> plain;
        if (e.h.compressed_size <= e.payload.size &&
            image::fatbin_decompress(e.h.flags, e.payload.sub(0, e.h.compressed_size), e.h.uncompressed_size,
                                     kMaxDecompressed, &plain, nullptr)) {
          bytes = entry_global_bytes({plain.data(), plain.size()}, e.h.kind);
        } else {
          out.opaque = true;
        }
      } else {
        bytes = entry_global_bytes(e.payload, e.h.kind);
      }
      out.bytes = std::max(out.bytes, bytes);
    }
    return out;
  }
  if (image::is_elf(b)) {
    out.bytes = elf_global_bytes(b);
    return out;
  }
  out.bytes = ptx_global_bytes({reinterpret_cast<const char*>(upload.data()), upload.size()});
  return out;
}

}  // namespace gpool::server
