// Device-code images as cudart, cuBLAS and applications hand them to the
// driver (cuLibraryLoadData, cuModuleLoadData[Ex], cuModuleLoadFatBinary and
// the *File variants), and what the emulator takes from them.
//
// Accepted formats (see /work/shared/cuda-driver-facts.md section 5):
//   FatbinWrapper  __fatBinC_Wrapper_t (magic 0x466243B1), v1, or v2 whose
//                  NULL-terminated pre-linked array of fatbins is followed too
//   Fatbin         a bare fatbin container (magic 0xBA55ED50); with a known
//                  size, containers placed back to back are all read
//   Elf            a cubin (7f 45 4c 46), 64-bit little-endian, either flavour
//   PtxText        NUL-terminated PTX (".version" or a comment first)
// Fatbin entries compressed with zstd (flag 0x8000) or LZ4 raw blocks
// (0x2000) are decompressed. The emulator cannot run SASS: ELF cubins give
// only metadata (parameter layouts from .nv.info EIATTR_KPARAM_INFO, and the
// register count ptxas allocated to each kernel).
//
// Bounds: every read is bounded by `max_size` when the caller knows the size
// (files) and by the sizes the headers declare; images passed by pointer alone
// (cuLibraryLoadData) are trusted to be as long as their headers say, as the
// real driver does. A wrapper's fatbin pointer is followed as given. Corrupt or
// oversized input fails with a message; nothing reads past these bounds.
//
// Thread safety: all functions are reentrant and keep no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpool::emu::loader {

// One kernel parameter, from EIATTR_KPARAM_INFO.
struct KernelParamLayout {
  uint32_t ordinal;    // 0-based parameter number
  uint32_t offset;     // byte offset in the parameter buffer
  uint32_t size;       // bytes
  uint32_t log2_align; // log2 of the pointee alignment (0 when not recorded)
};

struct CubinKernel {
  std::string name;                        // mangled name, from ".nv.info.<name>"
  std::vector<KernelParamLayout> params;   // sorted by ordinal
  uint32_t param_bytes;                    // EIATTR_CBANK_PARAM_SIZE, else end of the last param
  uint32_t num_regs = 0;  // registers per thread ptxas allocated: EIATTR_REGCOUNT (0x2f) of the
                          // global .nv.info, else sh_info >> 24 of ".text.<name>" (0: unknown)
};

// What a target's suffix says about the devices that may run it (CUDA 12.0 added "a", 12.9 "f"):
//   Plain           compute_90: every device of that capability or later (PTX is JIT-compiled
//                   forward);
//   ArchSpecific    compute_90a, sm_100a: exactly that capability, nothing else;
//   FamilySpecific  compute_100f, sm_120f: the same major capability, minor at least the
//                   target's (compute_100f: 10.0 and 10.3, not 11.0 or 12.x).
// Fatbin entries say it with a flag bit (gpool/common/image/fatbin.h), PTX text with the suffix of
// its ".target sm_90a".
enum class ArchVariant : uint8_t { Plain, ArchSpecific, FamilySpecific };

// True when PTX for `arch` (75 for compute_75) of `variant` can be JIT-compiled for a device of
// `device_sm` (75 for compute capability 7.5), by the rule above.
bool ptx_runs_on(uint32_t arch, ArchVariant variant, uint32_t device_sm);

// "compute_90a", "sm_100f", "compute_75": `prefix` followed by the number and the suffix.
std::string target_name(const char* prefix, uint32_t arch, ArchVariant variant);

struct CubinInfo {
  uint32_t sm;                       // 75 for sm_75
  std::vector<CubinKernel> kernels;  // sorted by name
  ArchVariant variant{};             // sm_90a, sm_100f (from the fatbin entry's flags)
};

struct PtxEntry {
  uint32_t arch;     // 75 for compute_75 (without the suffix: compute_90a is 90)
  std::string text;  // decompressed, without the terminating NUL
  // The compilation unit the entry belongs to: the index of the fatbin container it came from,
  // counted over the whole image (a v2 wrapper: its own fatbin first, then each pre-linked one).
  // Entries of different units are separate translation units that must be linked (-rdc=true).
  // gpool's own linked images (the emulator's cuLinkComplete output) hold all units in one
  // container: an entry whose options contain "-gpool-link-unit=K" belongs to the container's
  // first unit + K.
  uint32_t unit = 0;
  std::string options;  // the entry's ptxas options ("--compile-only" for relocatable PTX)
  ArchVariant variant = ArchVariant::Plain;
};

struct Image {
  enum class Format { FatbinWrapper, Fatbin, Elf, PtxText } format = Format::PtxText;
  // Bytes the image occupies at `base` (wrapper: the extent of the fatbin
  // container it points to, and base is that container), for content hashing.
  size_t size = 0;
  const void* base = nullptr;
  std::vector<PtxEntry> ptx;       // every PTX entry, decompressed, in image order
  std::vector<CubinInfo> cubins;   // ELF entries: metadata only
  uint32_t units = 0;              // fatbin containers read (see PtxEntry::unit)
};

// Parses the image at `data`. On success fills *out and returns true; on failure
// returns false with *error saying what is wrong ("fatbin entry 2: zstd payload
// is corrupt: ..."), and *out is unspecified. `error` may be null.
// REQUIRES: data readable for max_size bytes, or (max_size == SIZE_MAX) for as
// many bytes as its headers declare.
bool parse_image(const void* data, Image* out, std::string* error, size_t max_size = SIZE_MAX);

// The register count ptxas gave kernel `name` in the image's cubin that a
// device of `device_sm` would run (same major version, the highest minor <=
// the device's), else in the cubin of the nearest SM. 0 when no cubin
// describes the kernel.
uint32_t cubin_register_count(const Image& img, const std::string& name, uint32_t device_sm);

// The PTX the device JIT-compiles, as the driver chooses it: among the entries that
// ptx_runs_on() the device, the one with the highest arch; on equal arch an arch-specific entry
// before a family-specific one before a plain one (the most specific build for this device), and
// then the first in image order. nullptr when there is none.
const PtxEntry* select_ptx(const Image& img, uint32_t device_sm);

// One PTX entry per compilation unit that has one the device can run (select_ptx's rule within
// each unit), in unit order. Several entries mean the units must be linked into one program.
std::vector<const PtxEntry*> select_ptx_units(const Image& img, uint32_t device_sm);

// True when the image holds SASS that a real device of `device_sm` would run (same major
// capability, minor not above the device's; arch-specific SASS only on exactly its capability):
// a load the emulator refuses for want of PTX, where NVIDIA's driver would succeed.
bool holds_device_sass(const Image& img, uint32_t device_sm);

// The message for CUDA_ERROR_NO_BINARY_FOR_GPU when select_ptx() found nothing
// for `device_sm` (0 = no particular device): what the image holds, why none of its PTX fits the
// device, and how to rebuild it with PTX. When the image holds SASS a real device of this
// capability would run (what a CUDA library picks for a 12.x device), it also says that the
// emulator's default device (compute capability 13.0) runs such libraries from their PTX.
std::string no_ptx_message(const Image& img, uint32_t device_sm = 0);

// Reads a whole file (for cuModuleLoad / cuLibraryLoadFromFile). Returns false
// with *error naming the path and the errno text on failure.
// gpool's linked image (the emulator's cuLinkComplete output): one fatbin container holding one
// uncompressed PTX entry per unit, each with the options "-gpool-link-unit=K" (K = its index)
// followed by `options` (e.g. "-maxrregcount=32"). parse_image() reads it back with one
// PtxEntry per unit; module loading links the units.
struct LinkUnit {
  uint32_t arch;        // 75 for compute_75
  std::string text;     // PTX text (no NUL)
  uint32_t unit = UINT32_MAX;  // K of "-gpool-link-unit=K"; UINT32_MAX: its index in `units`
  ArchVariant variant = ArchVariant::Plain;  // written as the entry's flag bit
};
// With `base` (a fatbin container of `base_size` bytes), its entries come first, unchanged (they
// are unit 0 of the result): the client shim makes a -rdc=true program's wrapper self-contained
// this way, keeping the device-linked SASS a real driver runs and adding each pre-linked
// unit's PTX (with unit K >= 1) for the emulator.
std::vector<uint8_t> make_link_image(const std::vector<LinkUnit>& units, const std::string& options,
                                     const void* base = nullptr, size_t base_size = 0);

bool load_file(const std::string& path, std::vector<uint8_t>* bytes, std::string* error);

}  // namespace gpool::emu::loader
