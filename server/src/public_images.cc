#include "public_images.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <new>
#include <set>

#include "gpool/common/image/fatbin.h"
#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("public-images"); }

bool less(const PublicImageEntry& a, const PublicImageEntry& b) { return a.hash < b.hash; }

}  // namespace

const char* public_index_state_name(PublicImageIndex::State s) {
  switch (s) {
    case PublicImageIndex::kIndexing: return "indexing";
    case PublicImageIndex::kReady: return "ready";
    case PublicImageIndex::kFailed: return "failed";
    case PublicImageIndex::kOff: break;
  }
  return "off";
}

PublicImageIndex* PublicImageIndex::create_shared() {
  void* p = ::mmap(nullptr, sizeof(PublicImageIndex), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    logger().error("mmap of the public image index ({} bytes) failed: {}; public images are off",
                   sizeof(PublicImageIndex), std::strerror(errno));
    return nullptr;
  }
  return new (p) PublicImageIndex;  // default-initialised: the table keeps the mapping's zeros, untouched
}

bool PublicImageIndex::list_files(const std::vector<std::string>& paths, std::vector<std::string>& files,
                                  std::string& error) {
  namespace fs = std::filesystem;
  std::set<std::string> seen;  // canonical paths: a library and its symlinks count once
  const auto take = [&](const fs::path& p) {
    std::error_code ec;
    const fs::path canon = fs::canonical(p, ec);
    if (ec || !seen.insert(canon.string()).second) return true;
    if (canon.string().size() >= kMaxPath) {
      error = "public_images: the path " + canon.string() + " is too long";
      return false;
    }
    if (seen.size() > kMaxFiles) {
      error = "public_images names more than " + std::to_string(kMaxFiles) + " files";
      return false;
    }
    files.push_back(canon.string());
    return true;
  };
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      error = "public_images: " + path + " does not exist";
      return false;
    }
    if (fs::is_regular_file(st)) {
      if (!take(path)) return false;
    } else if (fs::is_directory(st)) {
      std::vector<fs::path> inside;
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (fs::is_regular_file(e.path(), ec)) inside.push_back(e.path());
      }
      if (ec) {
        error = "public_images: cannot list " + path + ": " + ec.message();
        return false;
      }
      std::sort(inside.begin(), inside.end());
      for (const auto& p : inside) {
        if (!take(p)) return false;
      }
    } else {
      error = "public_images: " + path + " is neither a file nor a directory";
      return false;
    }
  }
  return true;
}

void PublicImageIndex::index_file(uint32_t file, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    logger().warn("public_images: cannot read {}: {}; skipped", path, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return;
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 16) {
    ::close(fd);
    return;
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) {
    logger().warn("public_images: cannot map {}: {}; skipped", path, std::strerror(errno));
    return;
  }
  const auto* data = static_cast<const uint8_t*>(m);
  const image::Bytes all{data, size};
  uint32_t found = 0;
  for (size_t off = 0; off + 16 <= size;) {
    uint32_t magic = 0;
    std::memcpy(&magic, data + off, 4);
    if (magic != image::kFatbinMagic) {
      off += 8;
      continue;
    }
    size_t extent = 0;
    std::vector<image::FatbinEntry> entries;
    if (!image::fatbin_entries(all.sub(off, size - off), &entries, &extent, nullptr) || entries.empty()) {
      off += 8;  // the magic number by chance, or a container we would not serve
      continue;
    }
    if (count_ >= kMaxEntries) {
      ++skipped_;
    } else {
      PublicImageEntry& e = entries_[count_++];
      e.hash = image_hash(data + off, extent);
      e.file = file;
      e.reserved = 0;
      e.offset = off;
      e.size = extent;
      ++found;
    }
    off += (extent + 7) & ~size_t{7};
  }
  ::munmap(m, size);
  logger().debug("public_images: {}: {} image(s)", path, found);
}

uint32_t PublicImageIndex::build(const std::vector<std::string>& files) {
  const auto t0 = std::chrono::steady_clock::now();
  begin();
  count_ = 0;
  bytes_ = 0;
  skipped_ = 0;
  file_count_ = 0;
  for (const std::string& f : files) {
    if (file_count_ >= kMaxFiles || f.size() >= kMaxPath) break;
    std::memcpy(paths_[file_count_], f.c_str(), f.size() + 1);
    index_file(file_count_, f);
    ++file_count_;
  }
  std::sort(entries_, entries_ + count_, less);
  // The same container in two libraries (or twice in one) is one image: keep the first.
  const auto end = std::unique(entries_, entries_ + count_,
                               [](const PublicImageEntry& a, const PublicImageEntry& b) { return a.hash == b.hash; });
  bytes_ = 0;
  count_ = static_cast<uint32_t>(end - entries_);
  for (uint32_t i = 0; i < count_; ++i) bytes_ += entries_[i].size;
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (skipped_ > 0) {
    logger().warn("public_images: the index is full ({} images); {} more were not indexed and travel per tenant",
                  kMaxEntries, skipped_);
  }
  state_.store(kReady, std::memory_order_release);
  return count_;
}

const PublicImageEntry* PublicImageIndex::find(const ImageHash& hash) const {
  if (state() != kReady) return nullptr;
  PublicImageEntry key{};
  key.hash = hash;
  const PublicImageEntry* it = std::lower_bound(entries_, entries_ + count_, key, less);
  return it != entries_ + count_ && it->hash == hash ? it : nullptr;
}

std::string PublicImageIndex::path(uint32_t file) const {
  return file < file_count_ ? std::string(paths_[file]) : std::string();
}

bool PublicImageIndex::read(const PublicImageEntry& e, std::vector<std::byte>& padded, std::string& why) const {
  const std::string p = path(e.file);
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = "cannot open " + p + ": " + std::strerror(errno);
    return false;
  }
  padded.assign(e.size + 1, std::byte{0});
  size_t done = 0;
  while (done < e.size) {
    const ssize_t n = ::pread(fd, padded.data() + done, e.size - done, static_cast<off_t>(e.offset + done));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      why = "cannot read " + p + (n < 0 ? std::string(": ") + std::strerror(errno) : std::string(": file is shorter"));
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (image_hash(padded.data(), e.size) != e.hash) {
    why = p + " changed since it was indexed (the image at byte " + std::to_string(e.offset) + " no longer has its hash)";
    return false;
  }
  return true;
}

}  // namespace gpool::server
