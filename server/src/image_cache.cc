#include "image_cache.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gpool/common/log.h"
#include "gpool/remote/call_codec.h"

namespace gpool::server {

ImageHash image_hash(const void* data, size_t size) {
  const auto full = remote::sha256({static_cast<const std::byte*>(data), size});
  ImageHash h;
  std::memcpy(h.data(), full.data(), h.size());
  return h;
}

std::string ImageCache::path_of(const ImageHash& hash) const {
  return dir_ + "/" + remote::to_hex(hash) + ".img";
}

const std::vector<std::byte>* ImageCache::find(const ImageHash& hash) {
  if (auto it = images_.find(hash); it != images_.end()) return &it->second;
  if (dir_.empty()) return nullptr;
  std::ifstream in(path_of(hash), std::ios::binary);
  if (!in) return nullptr;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<std::byte> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) return nullptr;
  if (image_hash(bytes.data(), bytes.size()) != hash) {
    log::logger("server").warn("image cache file {} does not match its hash; ignoring it",
                               path_of(hash));
    return nullptr;
  }
  return &(images_[hash] = std::move(bytes));
}

bool ImageCache::insert(const ImageHash& hash, std::vector<std::byte> image) {
  if (image_hash(image.data(), image.size()) != hash) return false;
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    const std::string tmp = path_of(hash) + ".tmp" + std::to_string(::getpid());
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    out.close();
    if (!out || std::rename(tmp.c_str(), path_of(hash).c_str()) != 0) {
      log::logger("server").warn("cannot write image cache file {}: {}; continuing without it",
                                 path_of(hash), std::strerror(errno));
      std::filesystem::remove(tmp, ec);
    }
  }
  images_[hash] = std::move(image);
  return true;
}

}  // namespace gpool::server
