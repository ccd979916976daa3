#include "image_globals.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <lz4.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_decompressBound (exported by Debian's libzstd 1.5)
#include <zstd.h>

namespace gpool::server {
namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50u;

template <typename T>
bool read(std::span<const std::byte> b, uint64_t off, T& out) {
  if (off > b.size() || b.size() - off < sizeof(T)) return false;
  std::memcpy(&out, b.data() + off, sizeof(T));
  return true;
}

uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t mul_sat(uint64_t a, uint64_t b) { return (b != 0 && a > UINT64_MAX / b) ? UINT64_MAX : a * b; }

bool is_elf(std::span<const std::byte> b) { return b.size() >= 4 && std::memcmp(b.data(), "\x7f" "ELF", 4) == 0; }

// Sum of the sizes of .nv.global* and .nv.constant<N> (N != 0) sections.
uint64_t elf_global_bytes(std::span<const std::byte> b) {
  uint64_t shoff = 0;
  uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  if (!read(b, 0x28, shoff) || !read(b, 0x3a, shentsize) || !read(b, 0x3c, shnum) ||
      !read(b, 0x3e, shstrndx) || shentsize < 64 || shstrndx >= shnum) {
    return 0;
  }
  uint64_t str_off = 0, str_size = 0;
  const uint64_t str_sh = shoff + uint64_t{shentsize} * shstrndx;
  if (!read(b, str_sh + 0x18, str_off) || !read(b, str_sh + 0x20, str_size) || str_off > b.size() ||
      str_size > b.size() - str_off) {
    return 0;
  }
  uint64_t total = 0;
  for (uint16_t i = 0; i < shnum; ++i) {
    const uint64_t sh = shoff + uint64_t{shentsize} * i;
    uint32_t name = 0;
    uint64_t size = 0;
    if (!read(b, sh, name) || !read(b, sh + 0x20, size) || name >= str_size) continue;
    const char* s = reinterpret_cast<const char*>(b.data() + str_off + name);
    const std::string_view n(s, strnlen(s, static_cast<size_t>(str_size - name)));
    const bool global = n.rfind(".nv.global", 0) == 0;
    const bool constant = n.rfind(".nv.constant", 0) == 0 && n.size() > 12 && n[12] != '0';
    if (global || constant) total = add_sat(total, size);
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

// A compressed fatbin entry's payload, decompressed (flags 0x8000 zstd frame, 0x2000 raw LZ4
// block; cuda-driver-facts.md 5.3), or false when it cannot be (corrupt, or larger than
// kMaxDecompressed: such an entry stays opaque).
// The output buffer is sized by what the payload can actually produce, not by the size the
// entry header claims: a header is the tenant's word, and trusting it let a 72-byte entry cost
// a 256 MiB zero-filled allocation (found by fuzz_image_globals; ImageGlobalsTest.
// ClaimedSizeCostsNothing). zstd frames bound their own output (ZSTD_decompressBound); a raw LZ4
// block expands at most 255-fold. The buffer is not zero-filled, so only the bytes the
// decompressor writes are ever touched.
constexpr uint64_t kMaxDecompressed = uint64_t{256} << 20;
constexpr uint64_t kLz4MaxRatio = 255;

bool decompress(std::span<const std::byte> entry_header, std::span<const std::byte> payload,
                std::vector<std::byte>& out) {
  uint64_t flags = 0, full = 0;
  uint32_t packed = 0;
  if (!read(entry_header, 40, flags) || !read(entry_header, 56, full) || !read(entry_header, 16, packed) ||
      full == 0 || full > kMaxDecompressed || packed > payload.size() || packed > INT32_MAX) {
    return false;
  }
  uint64_t cap = 0;
  if (flags & 0x8000) {
    const unsigned long long bound = ZSTD_decompressBound(payload.data(), packed);
    if (bound == ZSTD_CONTENTSIZE_ERROR) return false;
    cap = std::min<uint64_t>(full, bound);
  } else if (flags & 0x2000) {
    cap = std::min<uint64_t>(full, mul_sat(packed, kLz4MaxRatio) + 16);
  } else {
    return false;
  }
  if (cap == 0) return false;
  const std::unique_ptr<std::byte[]> buf(new std::byte[static_cast<size_t>(cap)]);  // not zeroed
  size_t got = 0;
  if (flags & 0x8000) {
    const size_t r = ZSTD_decompress(buf.get(), static_cast<size_t>(cap), payload.data(), packed);
    if (ZSTD_isError(r)) return false;
    got = r;
  } else {
    const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(payload.data()), reinterpret_cast<char*>(buf.get()),
                                      static_cast<int>(packed), static_cast<int>(cap));
    if (r < 0) return false;
    got = static_cast<size_t>(r);
  }
  out.assign(buf.get(), buf.get() + got);
  return true;
}

}  // namespace

GlobalBytes image_global_bytes(std::span<const std::byte> image) {
  GlobalBytes out;
  uint32_t magic = 0;
  if (read(image, 0, magic) && magic == kFatbinMagic) {
    uint16_t header_size = 0;
    uint64_t total = 0;
    if (!read(image, 6, header_size) || !read(image, 8, total) || header_size > image.size() ||
        total > image.size() - header_size) {
      return out;
    }
    const std::span<const std::byte> entries = image.subspan(header_size, total);
    uint64_t at = 0;
    while (at < entries.size()) {
      uint32_t eh = 0, compressed = 0;
      uint64_t payload = 0;
      if (!read(entries, at + 4, eh) || !read(entries, at + 8, payload) || !read(entries, at + 16, compressed) ||
          eh < 64 || at + eh > entries.size() || payload > entries.size() - at - eh) {
        break;
      }
      const std::span<const std::byte> body = entries.subspan(at + eh, payload);
      uint16_t kind = 0;
      (void)read(entries, at, kind);  // 1 = PTX, 2 = ELF
      uint64_t bytes = 0;
      std::vector<std::byte> plain;
      if (compressed != 0) {
        if (decompress(entries.subspan(at, eh), body, plain)) {
          const std::span<const std::byte> p(plain);
          bytes = is_elf(p) ? elf_global_bytes(p)
                            : kind == 1 ? ptx_global_bytes({reinterpret_cast<const char*>(p.data()), p.size()}) : 0;
        } else {
          out.opaque = true;
        }
      } else if (is_elf(body)) {
        bytes = elf_global_bytes(body);
      } else if (kind == 1) {
        bytes = ptx_global_bytes({reinterpret_cast<const char*>(body.data()), body.size()});
      }
      out.bytes = std::max(out.bytes, bytes);
      at += eh + payload;
    }
    return out;
  }
  if (is_elf(image)) {
    out.bytes = elf_global_bytes(image);
    return out;
  }
  out.bytes = ptx_global_bytes({reinterpret_cast<const char*>(image.data()), image.size()});
  return out;
}

}  // namespace gpool::server
