// Module images by content hash (the first 16 bytes of SHA-256), so a client sends an image the
// server already holds only by its hash (issue 13, part 4).
//
// Two levels:
// - Session memory: images this session uploaded (or read from disk), for loading them again by
//   hash. Each is held with a NUL after it (PTX text loaders read up to one), and its bytes are
//   host memory charged to the tenant (TenantSlot::image_bytes) through the `charge`/`uncharge`
//   callbacks: the worker charges an upload before receiving it; the cache charges what it
//   reads from disk and uncharges what it drops.
// - Disk, when the server has an image_cache_dir: DIR/<tenant key>/<hash>.img, one folder per
//   tenant (its key is a hash of the tenant's name), so a tenant finds by hash only images it
//   uploaded itself, and nothing tells it which images another tenant runs. Only images that
//   loaded successfully are written (keep()); files are written to a temporary name and renamed,
//   checked against their hash when read back (a mismatch is deleted), and touched on every use.
//   The whole folder is bounded by image_cache_max_bytes: after each write the least recently
//   used files (oldest modification time) are deleted until it fits. Several workers share the
//   folder; a file deleted while another worker reads it stays readable to that worker.
//
// Ownership: one ImageCache per worker process. Thread safety: one thread (the worker's).
// Errors: disk problems are logged and the cache continues in memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gpool::server {

using ImageHash = std::array<uint8_t, 16>;  // the first 16 bytes of the SHA-256

class ImageCache {
 public:
  using Charge = std::function<bool(uint64_t)>;    // false: over the tenant's image_memory
  using Uncharge = std::function<void(uint64_t)>;
  // `dir` empty: memory only. `tenant` names the disk folder. Without callbacks nothing is charged.
  ImageCache(std::string dir, uint64_t max_bytes, const std::string& tenant, Charge charge = {},
             Uncharge uncharge = {});
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  // The image with this hash (size = image bytes + 1, the last one NUL), from session memory or
  // this tenant's disk folder; nullptr when neither has it (or reading it would exceed the
  // tenant's image_memory).
  const std::vector<std::byte>* find(const ImageHash& hash);

  // Stores `padded` (the image followed by one NUL byte, already charged by the caller) in
  // session memory if the image hashes to `hash`; false (nothing stored, nothing uncharged) if not.
  bool insert(const ImageHash& hash, std::vector<std::byte> padded);

  // The image loaded: writes it to this tenant's disk folder (once) and enforces the bound.
  void keep(const ImageHash& hash);
  // The image did not load: forgets it (memory uncharged, nothing on disk).
  void drop(const ImageHash& hash);

  uint64_t memory_bytes() const { return memory_bytes_; }
  std::string tenant_dir() const { return tenant_dir_; }

  // Deletes the least recently used *.img files under `dir` (all tenants) until their total is at
  // most `max_bytes`. Returns the bytes left.
  static uint64_t enforce_bound(const std::string& dir, uint64_t max_bytes);

 private:
  std::string path_of(const ImageHash& hash) const;

  std::string dir_;
  std::string tenant_dir_;  // dir_/<tenant key>, or "" when dir_ is empty
  uint64_t max_bytes_;
  Charge charge_;
  Uncharge uncharge_;
  std::map<ImageHash, std::vector<std::byte>> images_;
  std::map<ImageHash, bool> on_disk_;  // kept this session
  uint64_t memory_bytes_ = 0;
};

ImageHash image_hash(const void* data, size_t size);

}  // namespace gpool::server
