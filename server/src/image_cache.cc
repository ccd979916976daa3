#include "image_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "gpool/common/log.h"
#include "gpool/remote/call_codec.h"

namespace gpool::server {
namespace {

namespace fs = std::filesystem;

spdlog::logger& logger() { return log::logger("server"); }

// A tenant's folder name: not its name (names may hold any character), a hash of it.
std::string tenant_key(const std::string& tenant) {
  const auto h = remote::sha256({reinterpret_cast<const std::byte*>(tenant.data()), tenant.size()});
  std::array<uint8_t, 8> head{};
  std::memcpy(head.data(), h.data(), head.size());
  return "t-" + remote::to_hex(head);
}

}  // namespace

ImageHash image_hash(const void* data, size_t size) {
  const auto full = remote::sha256({static_cast<const std::byte*>(data), size});
  ImageHash h;
  std::memcpy(h.data(), full.data(), h.size());
  return h;
}

ImageCache::ImageCache(std::string dir, uint64_t max_bytes, const std::string& tenant, Charge charge,
                       Uncharge uncharge)
    : dir_(std::move(dir)), max_bytes_(max_bytes), charge_(std::move(charge)), uncharge_(std::move(uncharge)) {
  if (!dir_.empty()) tenant_dir_ = dir_ + "/" + tenant_key(tenant);
}

ImageCache::~ImageCache() {
  if (uncharge_ && memory_bytes_ > 0) uncharge_(memory_bytes_);
}

std::string ImageCache::path_of(const ImageHash& hash) const {
  return tenant_dir_ + "/" + remote::to_hex(hash) + ".img";
}

const std::vector<std::byte>* ImageCache::find(const ImageHash& hash) {
  if (auto it = images_.find(hash); it != images_.end()) return &it->second;
  if (tenant_dir_.empty()) return nullptr;
  const std::string path = path_of(hash);
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  if (charge_ && !charge_(size + 1)) {
    logger().info("image cache: {} ({} bytes) is over the tenant's image_memory; asking for the upload", path, size);
    return nullptr;
  }
  std::vector<std::byte> bytes(size + 1);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in || image_hash(bytes.data(), size) != hash) {
    if (uncharge_) uncharge_(size + 1);
    logger().warn("image cache file {} cannot be read or does not match its hash; deleting it", path);
    std::error_code ec;
    fs::remove(path, ec);
    return nullptr;
  }
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // used now (LRU)
  bytes.back() = std::byte{0};
  memory_bytes_ += bytes.size();
  on_disk_[hash] = true;
  return &(images_[hash] = std::move(bytes));
}

bool ImageCache::insert(const ImageHash& hash, std::vector<std::byte> padded) {
  if (padded.empty() || image_hash(padded.data(), padded.size() - 1) != hash) return false;
  padded.back() = std::byte{0};
  memory_bytes_ += padded.size();
  auto [it, fresh] = images_.try_emplace(hash);
  if (!fresh) {  // already held (cannot happen: find() comes first); keep one copy
    memory_bytes_ -= padded.size();
    if (uncharge_) uncharge_(padded.size());
    return true;
  }
  it->second = std::move(padded);
  return true;
}

void ImageCache::drop(const ImageHash& hash) {
  auto it = images_.find(hash);
  if (it == images_.end()) return;
  const uint64_t n = it->second.size();
  images_.erase(it);
  memory_bytes_ -= n;
  if (uncharge_) uncharge_(n);
}

void ImageCache::keep(const ImageHash& hash) {
  if (tenant_dir_.empty() || on_disk_.count(hash)) return;
  auto it = images_.find(hash);
  if (it == images_.end()) return;
  on_disk_[hash] = true;
  const uint64_t size = it->second.size() - 1;
  if (size > max_bytes_) {
    logger().info("image cache: an image of {} bytes is larger than image_cache_max_bytes={}; not kept on disk",
                  size, max_bytes_);
    return;
  }
  std::error_code ec;
  fs::create_directories(tenant_dir_, ec);
  const std::string path = path_of(hash);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(it->second.data()), static_cast<std::streamsize>(size));
    out.close();
    if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) {
      logger().warn("cannot write image cache file {}: {}; continuing without it", path, std::strerror(errno));
      fs::remove(tmp, ec);
      return;
    }
  }
  enforce_bound(dir_, max_bytes_);
}

uint64_t ImageCache::enforce_bound(const std::string& dir, uint64_t max_bytes) {
  struct File {
    fs::path path;
    uint64_t size;
    fs::file_time_type mtime;
  };
  std::vector<File> files;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".img") continue;
    const uint64_t size = it->file_size(ec);
    if (ec) continue;
    files.push_back({it->path(), size, it->last_write_time(ec)});
    total += size;
  }
  if (total <= max_bytes) return total;
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.mtime < b.mtime; });
  for (const File& f : files) {
    if (total <= max_bytes) break;
    if (fs::remove(f.path, ec)) {
      total -= f.size;
      logger().info("image cache: evicted {} ({} bytes, least recently used) to stay within {} bytes",
                    f.path.string(), f.size, max_bytes);
    }
  }
  return total;
}

}  // namespace gpool::server
