// Format detection and the public entry points of image.h.
#include "internal.h"

#include <cerrno>
#include <cstdio>
#include <set>
#include <utility>

namespace gpool::emu::loader {
namespace {

using detail::Bytes;

constexpr uint32_t kWrapperMagic = 0x466243B1;
constexpr uint32_t kFatbinMagic = 0xBA55ED50;

struct Wrapper {
  uint32_t magic;
  uint32_t version;
  uint64_t fatbin;     // pointer to the fatbin container
  uint64_t prelinked;  // v2: pointer to a NULL-terminated array of fatbin pointers
};
static_assert(sizeof(Wrapper) == 24);

// PTX text starts, after whitespace and comments, with ".version" (or a comment).
bool looks_like_ptx(Bytes b) {
  uint64_t i = 0;
  while (b.has(i, 1)) {
    char c = static_cast<char>(b.data[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '/' && b.has(i, 2) && (b.data[i + 1] == '/' || b.data[i + 1] == '*')) return true;
    return b.has(i, 8) && std::memcmp(b.data + i, ".version", 8) == 0;
  }
  return false;
}

bool parse_wrapper(Bytes b, Image* out, std::string* error) {
  Wrapper w;
  if (!b.get(0, &w)) {
    *error = "fatbin wrapper is truncated (24 bytes needed)";
    return false;
  }
  if (w.version != 1 && w.version != 2) {
    *error = "unsupported fatbin wrapper version " + std::to_string(w.version);
    return false;
  }
  if (w.fatbin == 0) {
    *error = "fatbin wrapper has a null fatbin pointer";
    return false;
  }
  const auto* fatbin = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(w.fatbin));
  size_t extent = 0;
  if (!detail::parse_fatbin(Bytes{fatbin, SIZE_MAX}, false, out, &extent, error)) return false;
  out->base = fatbin;
  out->size = extent;
  if (w.version == 2 && w.prelinked != 0) {
    const auto* list = reinterpret_cast<const uint64_t*>(static_cast<uintptr_t>(w.prelinked));
    for (size_t i = 0;; ++i) {
      if (i == detail::kMaxPrelinked) {
        *error = "fatbin wrapper's pre-linked list has no end within " +
                 std::to_string(detail::kMaxPrelinked) + " entries";
        return false;
      }
      uint64_t p = 0;
      std::memcpy(&p, &list[i], sizeof p);
      if (p == 0) break;
      size_t more = 0;
      std::string why;
      if (!detail::parse_fatbin(Bytes{reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(p)), SIZE_MAX},
                                false, out, &more, &why)) {
        *error = "pre-linked fatbin " + std::to_string(i) + ": " + why;
        return false;
      }
    }
  }
  return true;
}

}  // namespace

bool parse_image(const void* data, Image* out, std::string* error, size_t max_size) {
  std::string local;
  std::string* err = error ? error : &local;
  *out = Image{};
  if (data == nullptr) {
    *err = "image pointer is null";
    return false;
  }
  Bytes b{static_cast<const uint8_t*>(data), max_size};
  uint32_t magic = 0;
  if (!b.get(0, &magic)) {
    *err = "image is too short (" + std::to_string(max_size) + " bytes) to hold any known format";
    return false;
  }
  if (magic == kWrapperMagic) {
    // A wrapper holds pointers into the process that registered it: as bytes of a known size
    // (a file, an upload) they point nowhere it may read (found by fuzz_loader).
    if (max_size != SIZE_MAX) {
      *err = "a fatbin wrapper (cudart's registration record) holds pointers into its own "
             "process and cannot be loaded from bytes; load the fatbin it points to";
      return false;
    }
    out->format = Image::Format::FatbinWrapper;
    if (!parse_wrapper(b, out, err)) return false;
  } else if (magic == kFatbinMagic) {
    out->format = Image::Format::Fatbin;
    size_t extent = 0;
    if (!detail::parse_fatbin(b, max_size != SIZE_MAX, out, &extent, err)) return false;
    out->base = data;
    out->size = extent;
  } else if (std::memcmp(&magic, "\x7f" "ELF", 4) == 0) {
    out->format = Image::Format::Elf;
    size_t extent = 0;
    if (!detail::elf_extent(b, &extent, err)) return false;
    CubinInfo info;
    if (!detail::parse_cubin(b.sub(0, extent), &info, err)) return false;
    out->cubins.push_back(std::move(info));
    out->base = data;
    out->size = extent;
  } else if (looks_like_ptx(b)) {
    out->format = Image::Format::PtxText;
    const char* text = static_cast<const char*>(data);
    size_t len = max_size == SIZE_MAX ? std::strlen(text) : strnlen(text, max_size);
    PtxEntry e;
    e.text.assign(text, len);
    // The PTX's own .target decides its arch; the loader leaves it to the parser.
    e.arch = 0;
    size_t t = e.text.find(".target");
    if (t != std::string::npos) {
      size_t p = e.text.find_first_not_of(" \t", t + 7);
      if (p != std::string::npos && e.text.compare(p, 3, "sm_") == 0) {
        char* end = nullptr;
        e.arch = static_cast<uint32_t>(std::strtoul(e.text.c_str() + p + 3, &end, 10));
        if (*end == 'a') e.variant = ArchVariant::ArchSpecific;
        if (*end == 'f') e.variant = ArchVariant::FamilySpecific;
      }
    }
    out->ptx.push_back(std::move(e));
    out->base = data;
    out->size = len < max_size ? len + 1 : len;
  } else {
    char buf[64];
    snprintf(buf, sizeof buf, "0x%08x", magic);
    *err = std::string("unrecognised image (first word ") + buf +
           "): expected a fatbin wrapper, a fatbin, an ELF cubin or PTX text";
    return false;
  }
  return true;
}

bool ptx_runs_on(uint32_t arch, ArchVariant variant, uint32_t device_sm) {
  switch (variant) {
    case ArchVariant::Plain: return arch <= device_sm;
    case ArchVariant::ArchSpecific: return arch == device_sm;
    case ArchVariant::FamilySpecific: return arch / 10 == device_sm / 10 && arch <= device_sm;
  }
  return false;
}

std::string target_name(const char* prefix, uint32_t arch, ArchVariant variant) {
  const char* suffix = variant == ArchVariant::ArchSpecific ? "a" : variant == ArchVariant::FamilySpecific ? "f" : "";
  return prefix + std::to_string(arch) + suffix;
}

namespace {

// select_ptx's order among entries the device can run: newer arch first, then the more specific
// variant (ArchSpecific, FamilySpecific, Plain).
bool better(const PtxEntry& e, const PtxEntry* than) {
  if (than == nullptr) return true;
  if (e.arch != than->arch) return e.arch > than->arch;
  auto rank = [](ArchVariant v) { return v == ArchVariant::ArchSpecific ? 2 : v == ArchVariant::FamilySpecific ? 1 : 0; };
  return rank(e.variant) > rank(than->variant);
}

}  // namespace

const PtxEntry* select_ptx(const Image& img, uint32_t device_sm) {
  const PtxEntry* best = nullptr;
  for (const PtxEntry& e : img.ptx)
    if (ptx_runs_on(e.arch, e.variant, device_sm) && better(e, best)) best = &e;
  return best;
}

std::vector<const PtxEntry*> select_ptx_units(const Image& img, uint32_t device_sm) {
  std::vector<const PtxEntry*> best(img.units + 1, nullptr);
  for (const PtxEntry& e : img.ptx) {
    if (e.unit >= best.size() || !ptx_runs_on(e.arch, e.variant, device_sm)) continue;
    if (better(e, best[e.unit])) best[e.unit] = &e;
  }
  std::vector<const PtxEntry*> out;
  for (const PtxEntry* e : best)
    if (e) out.push_back(e);
  return out;
}

uint32_t cubin_register_count(const Image& img, const std::string& name, uint32_t device_sm) {
  // Rank: a cubin the device would run (same major, minor <= the device's,
  // the newest first), then any other by distance from the device's SM.
  auto rank = [device_sm](uint32_t sm) -> uint64_t {
    if (sm / 10 == device_sm / 10 && sm <= device_sm) return device_sm - sm;
    const uint32_t dist = sm > device_sm ? sm - device_sm : device_sm - sm;
    return 1000 + uint64_t{dist} * 2 + (sm > device_sm ? 1 : 0);
  };
  uint32_t regs = 0;
  uint64_t best = UINT64_MAX;
  for (const CubinInfo& c : img.cubins) {
    for (const CubinKernel& k : c.kernels) {
      if (k.name != name || k.num_regs == 0 || rank(c.sm) >= best) continue;
      best = rank(c.sm);
      regs = k.num_regs;
    }
  }
  return regs;
}

bool holds_device_sass(const Image& img, uint32_t device_sm) {
  if (device_sm == 0) return false;
  for (const CubinInfo& c : img.cubins)
    if (c.sm / 10 == device_sm / 10 && c.sm <= device_sm && (c.variant != ArchVariant::ArchSpecific || c.sm == device_sm))
      return true;
  return false;
}

std::string no_ptx_message(const Image& img, uint32_t device_sm) {
  using Target = std::pair<uint32_t, ArchVariant>;  // ordered by number, then variant
  std::set<Target> sass, ptx, newer, exact;
  const bool device_sass = holds_device_sass(img, device_sm);  // SASS a real device of this capability would run
  for (const CubinInfo& c : img.cubins) sass.insert({c.sm, c.variant});
  for (const PtxEntry& e : img.ptx) {
    ptx.insert({e.arch, e.variant});
    (e.variant == ArchVariant::Plain || e.arch > device_sm ? newer : exact).insert({e.arch, e.variant});
  }
  auto list = [](const std::set<Target>& targets, const char* prefix) {
    std::string s;
    for (const Target& t : targets) s += (s.empty() ? "" : ", ") + target_name(prefix, t.first, t.second);
    return s;
  };
  const std::string device = device_sm ? " (sm_" + std::to_string(device_sm) + ")" : std::string();
  std::string held;
  if (ptx.empty() && sass.empty()) {
    held = "the image holds no device code";
  } else if (ptx.empty()) {
    held = "the image holds only SASS (" + list(sass, "sm_") + ") and no PTX";
  } else {
    held = "the image's PTX targets " + list(ptx, "compute_") + ", none of which the emulated device" + device + " can JIT";
    if (!newer.empty() && !exact.empty()) {
      held += " (" + list(newer, "compute_") + ": newer than the device; " + list(exact, "compute_") +
              ": arch- or family-specific, for other devices only)";
    } else if (!exact.empty()) {
      held += " (arch-specific \"a\" PTX runs only on exactly its capability, family-specific \"f\" PTX only on "
              "its own major capability)";
    } else {
      held += " (newer than the device)";
    }
  }
  const uint32_t want = device_sm ? device_sm : 75;
  std::string msg = held + "; the gpool emulator runs kernels from PTX only: rebuild with PTX embedded, e.g. nvcc "
                           "-gencode arch=compute_" + std::to_string(want) + ",code=compute_" + std::to_string(want) +
                    " (keep your other -gencode options)";
  if (device_sass) {
    msg += ". A real GPU of this capability would run the image's SASS, which is why a CUDA library (cuBLAS, "
           "cuBLASLt, cuFFT...) may choose such a kernel for this device: the emulator's default device (compute "
           "capability 13.0, GPOOL_EMU_CC unset) is newer than every SASS in the CUDA 13 toolkit, so libraries run "
           "their PTX on it";
  }
  return msg;
}

bool load_file(const std::string& path, std::vector<uint8_t>* bytes, std::string* error) {
  std::string local;
  std::string* err = error ? error : &local;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *err = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  bytes->clear();
  uint8_t buf[1 << 16];
  while (true) {
    size_t n = std::fread(buf, 1, sizeof buf, f);
    bytes->insert(bytes->end(), buf, buf + n);
    if (bytes->size() > detail::kMaxImageBytes) {
      *err = "cannot load " + path + ": larger than " + std::to_string(detail::kMaxImageBytes) + " bytes";
      std::fclose(f);
      return false;
    }
    if (n < sizeof buf) break;
  }
  bool failed = std::ferror(f) != 0;
  int saved = errno;
  std::fclose(f);
  if (failed) {
    *err = "cannot read " + path + ": " + std::strerror(saved);
    return false;
  }
  return true;
}

}  // namespace gpool::emu::loader
