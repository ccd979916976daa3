// Module images by content hash (SHA-256), so a client sends an image the server already holds
// only by its hash. Images live in the worker's memory for the session and, when the server has
// an image_cache_dir, on disk across sessions (written to a temporary name and renamed, checked
// against the hash again when read back).
//
// Ownership: one ImageCache per worker process. Thread safety: one thread (the worker's).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gpool::server {

using ImageHash = std::array<uint8_t, 16>;  // the first 16 bytes of the SHA-256

class ImageCache {
 public:
  explicit ImageCache(std::string dir) : dir_(std::move(dir)) {}

  // The image with this hash, or nullptr when neither memory nor disk has it.
  const std::vector<std::byte>* find(const ImageHash& hash);

  // Stores `image` if it hashes to `hash`; false (nothing stored) when it does not.
  bool insert(const ImageHash& hash, std::vector<std::byte> image);

 private:
  std::string path_of(const ImageHash& hash) const;

  std::string dir_;
  std::map<ImageHash, std::vector<std::byte>> images_;
};

ImageHash image_hash(const void* data, size_t size);

}  // namespace gpool::server
