// The emulator's on-disk kernel cache: parsed PTX modules (serialize.h) stored by content hash,
// so a second process that loads the same PTX (a library image) skips the parse, which is what
// a module load spends most of its time on once kernels are lowered lazily (docs/emulator.md,
// "Lazy loading and the kernel cache"; figures in docs/performance.md).
//
// Entries: <dir>/<key>.ptxast, key = SHA-256 of (kFormatVersion, the build id of the binary
// holding this code, the PTX text) in hex. A file is a 16-byte header ("GPKCACHE", u32 format
// version, u32 0), the 32-byte key, the SHA-256 of the payload, the payload length (u64) and the
// payload. A read checks all of them and the payload's decoding; an entry that fails any check
// is ignored with a warning and replaced by the next store (never a wrong module, never a crash).
//
// Writes go to a temporary file in <dir> that is renamed over the entry, so readers in other
// processes see a whole entry or none. A hit refreshes the entry's modification time; after a
// store, the oldest entries (by modification time) are removed until the directory's entries
// total at most max_bytes (least recently used first). Concurrent processes may race on the
// eviction; the bound then holds once the last of them finishes.
//
// Configuration (common/src/variables.cc): GPOOL_EMU_KERNEL_CACHE (on/off, default on),
// GPOOL_EMU_KERNEL_CACHE_DIR (default $XDG_CACHE_HOME/gpool/kernels, else
// ~/.cache/gpool/kernels), GPOOL_EMU_KERNEL_CACHE_MAX_BYTES (default 1g). When the directory
// cannot be created or the binary has no GNU build id, the cache is off (logged once).
//
// Thread safety: all members may be called from any thread.
#pragma once

#include "gpool/emu/ptx/ast.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace gpool::emu::ptx {

class ParseCache {
 public:
  // A cache in `dir` (created if missing) bounded to `max_bytes`; `build_id` is mixed into
  // every key. An empty `dir` gives a disabled cache.
  ParseCache(std::string dir, uint64_t max_bytes, std::string build_id);

  // The process-wide cache as the environment configures it (read once).
  static ParseCache& instance();
  // The GNU build id (hex) of the binary holding this code, or "" when it has none.
  static std::string own_build_id();

  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // True with *out filled when `ptx` has a valid entry.
  bool lookup(std::string_view ptx, Module* out);
  // Stores the parse of `ptx` (errors are logged, never returned).
  void store(std::string_view ptx, const Module& m);
  // Parses `ptx` through the cache: a hit, or ptx::parse and a store. Errors as ptx::parse.
  bool parse(std::string_view ptx, Module* out, std::string* error);

  // The entry file for `ptx` (for tests and tools).
  std::string entry_path(std::string_view ptx) const;

  std::atomic<uint64_t> hits{0}, misses{0}, rejected{0}, stores{0};

 private:
  std::string key(std::string_view ptx) const;
  void evict();

  std::string dir_;
  uint64_t max_bytes_;
  std::string build_id_;
};

}  // namespace gpool::emu::ptx
