// Public images: the device-code images embedded in the toolkit libraries the operator names
// (`public_images`: files or directories), indexed by content hash, so that a load of one of
// them by ANY tenant is answered from the server's own copy of the library, without the client
// sending the bytes (issue 11, item 4: library images travel once per server, not once per
// tenant). Private images (everything not in the index) stay per tenant (image_cache.h).
//
// Why this opens no side channel (docs/security.md, "Public library images"): whether a hash is
// in the index depends only on the files the operator configured, never on what any tenant did,
// so the answer "I have it" tells a tenant nothing about other tenants.
//
// Layout: one shared anonymous mapping (create_shared(), made by the supervisor before any
// fork), so every worker, forked before or after the index is complete, sees the same table.
// An indexer child process (Supervisor::spawn_indexer) fills it: for each file it walks every
// 8-byte aligned fatbin container header (magic 0xBA55ED50, a container whose entries parse,
// gpool/common/image/fatbin.h), hashes the container (header + entries: exactly the bytes a
// client sends for the same image, client-shim/src/module.cc) and records (hash, file, offset,
// size); then it sorts the entries by hash and publishes state kReady. Until then workers find
// nothing and ask for the bytes as before; nothing waits for the index.
//
// Bounds: at most kMaxFiles files and kMaxEntries images (about 5 MiB of shared memory, touched
// only as filled); the rest is skipped with a warning. No image bytes are held in the index:
// a worker reads an image from its file when a session loads it (read(), which checks the bytes
// still hash to the entry, so a library replaced since indexing is never served under an old
// hash) and holds it like an upload, charged to the tenant's image_memory.
//
// Thread safety: build() runs in one process (the indexer); find()/read()/state() may be called
// from any process once state() is kReady (the release store of the state publishes the table).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "image_cache.h"

namespace gpool::server {

// Trivially constructible, so that the index's table in its fresh (zeroed) mapping is not
// written, and so not touched, until entries are filled in.
struct PublicImageEntry {
  ImageHash hash;
  uint32_t file;  // index into the file table
  uint32_t reserved;
  uint64_t offset;  // of the container in the file
  uint64_t size;    // container header + entries
};

class PublicImageIndex {
 public:
  static constexpr uint32_t kMaxFiles = 256;
  static constexpr size_t kMaxPath = 1024;
  static constexpr uint32_t kMaxEntries = uint32_t{1} << 17;
  enum State : uint32_t { kOff = 0, kIndexing = 1, kReady = 2, kFailed = 3 };

  // A zeroed index (state kOff) in a shared anonymous mapping; nullptr (logged) when the mapping
  // cannot be made. Never unmapped.
  static PublicImageIndex* create_shared();

  // The regular files `paths` name: a file itself, or the regular files directly inside a
  // directory (sorted, not recursive; symbolic links followed, each file once). False with
  // `error` naming the path when one does not exist, is neither, or there are over kMaxFiles.
  static bool list_files(const std::vector<std::string>& paths, std::vector<std::string>& files,
                         std::string& error);

  // The indexer: sets kIndexing, indexes `files` (an unreadable file is logged and skipped),
  // sorts, then publishes kReady. Returns the number of images indexed.
  uint32_t build(const std::vector<std::string>& files);
  // Marks the index as being built (the supervisor, before it forks the indexer, so that status
  // shows "indexing" at once).
  void begin() { state_.store(kIndexing, std::memory_order_release); }
  void fail() { state_.store(kFailed, std::memory_order_release); }

  // The entry with `hash`, or nullptr (also while the index is not ready).
  const PublicImageEntry* find(const ImageHash& hash) const;
  // `e`'s bytes followed by one NUL in `padded`, checked against e.hash. False with `why` when
  // the file cannot be read or no longer holds those bytes.
  bool read(const PublicImageEntry& e, std::vector<std::byte>& padded, std::string& why) const;
  std::string path(uint32_t file) const;

  State state() const { return static_cast<State>(state_.load(std::memory_order_acquire)); }
  uint32_t images() const { return count_; }
  uint64_t bytes() const { return bytes_; }
  uint32_t files() const { return file_count_; }
  uint64_t skipped() const { return skipped_; }
  double seconds() const { return seconds_; }

 private:
  void index_file(uint32_t file, const std::string& path);

  std::atomic<uint32_t> state_{kOff};
  uint32_t count_ = 0;
  uint32_t file_count_ = 0;
  uint64_t bytes_ = 0;
  uint64_t skipped_ = 0;  // images over kMaxEntries
  double seconds_ = 0;    // the indexer's wall time
  char paths_[kMaxFiles][kMaxPath];         // zero in the fresh mapping; not initialised here
  PublicImageEntry entries_[kMaxEntries];  // idem
};

// "off", "indexing", "ready", "failed".
const char* public_index_state_name(PublicImageIndex::State s);

}  // namespace gpool::server
