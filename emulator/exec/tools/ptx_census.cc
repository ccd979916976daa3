// gpool-ptx-census: which PTX instruction forms of a binary's embedded images the emulator
// refuses. For scripts/ptx-census.sh (the census of NVIDIA's libraries, docs/emulator.md
// "PTX coverage of the CUDA libraries"); not used by the runtime.
//
//   gpool-ptx-census [--all-ptx] [--max-arch N] [--dump DIR] FILE...
//
// Every fatbin container in FILE (found by its magic at any 8-byte aligned offset, as
// libraries embed them in .nv_fatbin and private sections) is walked with the shared reader
// (gpool/common/image/fatbin.h). By default only the PTX entry the default device would JIT is
// examined: the highest-arch PTX entry with arch <= --max-arch (default 130, compute 13.0);
// --all-ptx examines every PTX entry. Each examined text is parsed and lowered with the same
// parser and Program::build the runtime uses. On a parse error the offending line is blanked
// and parsing retried; on a lowering error the refused instruction's form (opcode with its
// modifiers) is removed everywhere in the module (each removed instruction counted) and the
// build retried, until the module lowers or nothing more can be removed. So one run lists
// every form an image needs that the emulator lacks, not only the first. --dump DIR writes the
// text of every image that is not fully supported to DIR/<file>-<offset>-<arch>.ptx.
//
// Output, tab-separated, one record a line (scripts/ptx-census.sh aggregates it):
//   image   FILE OFFSET ARCH PTX_BYTES KERNELS INSTRUCTIONS STATUS     (ok | refused | incomplete)
//   parse   FILE OFFSET ARCH LINE_TEXT_OPCODE COUNT MESSAGE
//   refuse  FILE OFFSET ARCH FORM COUNT MESSAGE
//   other   FILE OFFSET ARCH - 1 MESSAGE                             (an error not tied to an
//                                                                     instruction; the image
//                                                                     is then left incomplete)
//   use     FILE OFFSET ARCH FORM COUNT -                            (how often the image uses
//                                                                     each form of the watched
//                                                                     families, kWatched)
// Exit status 0, 1 when a FILE cannot be read, 2 on a usage error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gpool/common/image/fatbin.h"
#include "gpool/emu/exec/program.h"
#include "gpool/emu/ptx/parser.h"

namespace {

namespace ptx = gpool::emu::ptx;
namespace exec = gpool::emu::exec;
namespace image = gpool::image;

constexpr uint64_t kMaxEntryBytes = 1ull << 30;
constexpr int kMaxRetries = 400;  // per image: parse repairs plus lowering removals

// Opcodes whose every form the census reports as used (with counts), so that the table-driven
// tests can be checked against what the libraries really contain.
constexpr const char* kWatched[] = {"mma",   "wmma",  "ldmatrix", "stmatrix", "cp",   "redux", "prmt",
                                    "griddepcontrol", "mbarrier", "shfl", "vote", "match", "atom", "red"};

bool watched(const std::string& opcode) {
  for (const char* w : kWatched)
    if (opcode == w) return true;
  return false;
}

std::string full_opcode(const ptx::Instruction& in) {
  std::string s = in.opcode;
  for (const auto& m : in.modifiers) s += "." + m;
  return s;
}

// One line of output text: tabs and newlines in messages become spaces.
std::string clean(std::string s) {
  for (auto& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

// "line 12, column 3: ..." -> 12; 0 when absent.
int parse_error_line(const std::string& e) {
  if (e.rfind("line ", 0) != 0) return 0;
  return std::atoi(e.c_str() + 5);
}

// "... at PTX line 123" -> 123; 0 when absent.
int lower_error_line(const std::string& e) {
  const size_t p = e.rfind(" at PTX line ");
  if (p == std::string::npos) return 0;
  return std::atoi(e.c_str() + p + 13);
}

// The message without its " in FUNCTION at PTX line N" tail (kernel names would make every
// message distinct).
std::string reason_of(const std::string& e) {
  size_t p = e.rfind(" at PTX line ");
  std::string s = p == std::string::npos ? e : e.substr(0, p);
  p = s.rfind(" in ");
  if (p != std::string::npos) s.resize(p);
  return s;
}

struct Where {
  const char* file;
  uint64_t offset;
  uint32_t arch;
};

void emit(const Where& w, const char* kind, const std::string& form, uint64_t count, const std::string& msg) {
  std::printf("%s\t%s\t%llu\t%u\t%s\t%llu\t%s\n", kind, w.file, static_cast<unsigned long long>(w.offset), w.arch,
              clean(form).c_str(), static_cast<unsigned long long>(count), clean(msg).c_str());
}

// The first word of line `line` (1-based) of `text`, for naming what did not parse.
std::string_view line_span(std::string& text, int line, size_t* begin) {
  size_t pos = 0;
  for (int l = 1; l < line && pos != std::string::npos; ++l) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  if (pos == std::string::npos || pos >= text.size()) return {};
  size_t end = text.find('\n', pos);
  if (end == std::string::npos) end = text.size();
  *begin = pos;
  return std::string_view(text).substr(pos, end - pos);
}

std::string first_word(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "(blank)";
  if (s[b] == '@') {  // guard
    b = s.find_first_of(" \t", b);
    if (b == std::string_view::npos) return "(guard)";
    b = s.find_first_not_of(" \t", b);
    if (b == std::string_view::npos) return "(guard)";
  }
  size_t e = s.find_first_of(" \t;,", b);
  return std::string(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
}

// --dump DIR: where the text of each image that is not "ok" is written, or empty.
std::string g_dump_dir;

void dump(const Where& w, const std::string& text) {
  if (g_dump_dir.empty()) return;
  std::string base = w.file;
  base = base.substr(base.rfind('/') + 1);
  const std::string path = g_dump_dir + "/" + base + "-" + std::to_string(w.offset) + "-" + std::to_string(w.arch) + ".ptx";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
}

void census(const Where& w, std::string text) {
  const size_t bytes = text.size();
  const std::string original = g_dump_dir.empty() ? std::string() : text;
  ptx::Module m;
  std::string err;
  std::map<std::string, std::pair<uint64_t, std::string>> unparsed;  // first word -> count, message
  int retries = 0;
  bool complete = true;
  while (!ptx::parse(text, &m, &err)) {
    const int line = parse_error_line(err);
    size_t begin = 0;
    std::string_view span = line > 0 ? line_span(text, line, &begin) : std::string_view{};
    if (span.empty() || ++retries > kMaxRetries) {
      emit(w, "other", "-", 1, "parse: " + err);
      dump(w, original);
      std::printf("image\t%s\t%llu\t%u\t%zu\t0\t0\tincomplete\n", w.file, static_cast<unsigned long long>(w.offset),
                  w.arch, bytes);
      return;
    }
    auto& u = unparsed[first_word(span)];
    ++u.first;
    if (u.second.empty()) u.second = err;
    // Blank the line (keeping line numbers); a statement split over lines may need more rounds.
    for (size_t i = begin; i < begin + span.size(); ++i) text[i] = ' ';
    err.clear();
  }
  for (auto& [word, u] : unparsed) emit(w, "parse", word, u.first, u.second);

  uint64_t kernels = 0, instructions = 0;
  std::map<int, std::vector<ptx::Statement*>> by_line;
  std::map<std::string, uint64_t> used;
  for (auto& f : m.functions) {
    if (f.is_entry && !f.is_extern) ++kernels;
    for (auto& s : f.body)
      if (s.kind == ptx::Statement::Kind::Instr) {
        ++instructions;
        by_line[s.instr.line].push_back(&s);
        if (watched(s.instr.opcode)) ++used[full_opcode(s.instr)];
      }
  }
  for (auto& [form, n] : used) emit(w, "use", form, n, "-");
  std::map<std::string, std::pair<uint64_t, std::string>> refused;  // form -> count, message
  uint64_t removed_labels = 0;
  while (true) {
    err.clear();
    if (exec::Program::build(m, &err)) break;
    const int line = lower_error_line(err);
    auto it = by_line.find(line);
    std::string form;
    if (it != by_line.end())
      for (ptx::Statement* s : it->second)
        if (s->kind == ptx::Statement::Kind::Instr) form = full_opcode(s->instr);
    if (form.empty() || ++retries > kMaxRetries) {
      emit(w, "other", "-", 1, err);
      complete = false;
      break;
    }
    // Remove every instruction of this form (they would fail the same way): each becomes a
    // label of its own, which lowers to nothing.
    uint64_t n = 0;
    for (auto& f : m.functions)
      for (auto& s : f.body)
        if (s.kind == ptx::Statement::Kind::Instr && full_opcode(s.instr) == form) {
          s.kind = ptx::Statement::Kind::Label;
          s.label = "$gpool_census_removed_" + std::to_string(removed_labels++);
          ++n;
        }
    auto& r = refused[form];
    r.first += n;
    if (r.second.empty()) r.second = reason_of(err);
  }
  for (auto& [form, r] : refused) emit(w, "refuse", form, r.first, r.second);
  const char* status = !complete ? "incomplete" : (refused.empty() && unparsed.empty() ? "ok" : "refused");
  if (std::strcmp(status, "ok") != 0) dump(w, original);
  std::printf("image\t%s\t%llu\t%u\t%zu\t%llu\t%llu\t%s\n", w.file, static_cast<unsigned long long>(w.offset), w.arch,
              bytes, static_cast<unsigned long long>(kernels), static_cast<unsigned long long>(instructions), status);
  std::fflush(stdout);
}

// The text of a PTX entry (decompressed, up to its first NUL), or false.
bool entry_text(const image::FatbinEntry& e, std::string* out, std::string* why) {
  image::Bytes payload = e.payload;
  std::vector<uint8_t> plain;
  if (e.h.compressed_size != 0) {
    if (e.h.compressed_size > e.h.payload_size) {
      *why = "compressed size exceeds payload";
      return false;
    }
    if (!image::fatbin_decompress(e.h.flags, payload.sub(0, e.h.compressed_size), e.h.uncompressed_size,
                                  kMaxEntryBytes, &plain, why))
      return false;
    payload = image::Bytes{plain.data(), plain.size()};
  }
  const void* nul = std::memchr(payload.data, 0, payload.size);
  const size_t len = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - payload.data) : payload.size;
  out->assign(reinterpret_cast<const char*>(payload.data), len);
  return true;
}

int run_file(const char* path, bool all_ptx, uint32_t max_arch) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::fprintf(stderr, "gpool-ptx-census: cannot read %s: %s\n", path, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 1;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = size ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (map == MAP_FAILED) {
    std::fprintf(stderr, "gpool-ptx-census: cannot map %s\n", path);
    return 1;
  }
  const image::Bytes file{static_cast<const uint8_t*>(map), size};
  for (uint64_t off = 0; off + 16 <= size;) {
    uint32_t magic = 0;
    file.get(off, &magic);
    if (magic != image::kFatbinMagic) {
      off += 8;
      continue;
    }
    std::vector<image::FatbinEntry> entries;
    size_t extent = 0;
    std::string why;
    if (!image::fatbin_entries(file.sub(off, size - off), &entries, &extent, &why) || extent == 0) {
      off += 8;  // a stray magic number, not a container
      continue;
    }
    std::vector<const image::FatbinEntry*> chosen;
    const image::FatbinEntry* best = nullptr;
    for (const auto& e : entries) {
      if (e.h.kind != image::kFatbinKindPtx) continue;
      if (all_ptx) chosen.push_back(&e);
      else if (e.h.arch <= max_arch && (!best || e.h.arch > best->h.arch)) best = &e;
    }
    if (best) chosen.push_back(best);
    for (const image::FatbinEntry* e : chosen) {
      const Where w{path, off, e->h.arch};
      std::string text;
      if (!entry_text(*e, &text, &why)) {
        emit(w, "other", "-", 1, "entry: " + why);
        continue;
      }
      census(w, std::move(text));
    }
    off += (extent + 7) & ~uint64_t{7};
  }
  ::munmap(map, size);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool all_ptx = false;
  uint32_t max_arch = 130;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--all-ptx") all_ptx = true;
    else if (a == "--dump" && i + 1 < argc) g_dump_dir = argv[++i];
    else if (a == "--max-arch" && i + 1 < argc) max_arch = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    else if (!a.empty() && a[0] == '-') files.clear(), files.push_back(nullptr), i = argc;
    else files.push_back(argv[i]);
  }
  if (files.empty() || files[0] == nullptr) {
    std::fprintf(stderr, "usage: %s [--all-ptx] [--max-arch N] [--dump DIR] FILE...\n", argv[0]);
    return 2;
  }
  int rc = 0;
  for (const char* f : files) rc |= run_file(f, all_ptx, max_arch);
  return rc;
}
