// The on-disk cache of parsed PTX modules (parse_cache.h).
#include "gpool/emu/ptx/parse_cache.h"

#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "gpool/common/sha256.h"
#include "gpool/emu/ptx/parser.h"
#include "gpool/emu/ptx/serialize.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace gpool::emu::ptx {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'G', 'P', 'K', 'C', 'A', 'C', 'H', 'E'};
constexpr size_t kHeaderBytes = 16 + 32 + 32 + 8;
constexpr const char* kSuffix = ".ptxast";

spdlog::logger& log() { return gpool::log::logger("emulator"); }

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// The build id note of the object that holds `addr`.
struct NoteSearch {
  uintptr_t base = 0;
  std::string id;
};

int find_note(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<NoteSearch*>(data);
  if (info->dlpi_addr != s->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const uint8_t* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) n;
      std::memcpy(&n, p, sizeof n);
      const uint8_t* name = p + sizeof n;
      const uint8_t* desc = name + ((n.n_namesz + 3) & ~3u);
      const uint8_t* next = desc + ((n.n_descsz + 3) & ~3u);
      if (next > end) break;
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        s->id = gpool::hash::to_hex(std::span(desc, n.n_descsz));
        return 1;
      }
      p = next;
    }
  }
  return 0;
}

std::string default_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/gpool/kernels";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/gpool/kernels";
  return {};
}

}  // namespace

std::string ParseCache::own_build_id() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ParseCache::own_build_id), &info) == 0 || info.dli_fbase == nullptr) return {};
  NoteSearch s;
  // dlpi_addr is the load bias: 0 for a non-PIE executable, whose dli_fbase is its first segment.
  s.base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  dl_iterate_phdr(find_note, &s);
  if (s.id.empty()) {
    s.base = 0;
    dl_iterate_phdr(find_note, &s);
  }
  return s.id;
}

ParseCache::ParseCache(std::string dir, uint64_t max_bytes, std::string build_id)
    : dir_(std::move(dir)), max_bytes_(max_bytes), build_id_(std::move(build_id)) {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_, ec)) {
    log().warn("kernel cache: cannot use directory {} ({}); the cache is off", dir_, ec.message());
    dir_.clear();
  }
}

ParseCache& ParseCache::instance() {
  static ParseCache* cache = [] {
    std::string dir;
    const std::string id = own_build_id();
    if (!gpool::env::get_bool("GPOOL_EMU_KERNEL_CACHE", true)) {
      log().debug("kernel cache: off (GPOOL_EMU_KERNEL_CACHE)");
    } else if (id.empty()) {
      log().info("kernel cache: off (the emulator binary has no GNU build id to key entries by)");
    } else {
      dir = gpool::env::get("GPOOL_EMU_KERNEL_CACHE_DIR").value_or(default_dir());
      if (dir.empty()) log().info("kernel cache: off (no GPOOL_EMU_KERNEL_CACHE_DIR, XDG_CACHE_HOME or HOME)");
    }
    const uint64_t max = gpool::env::get_size("GPOOL_EMU_KERNEL_CACHE_MAX_BYTES", 1ull << 30);
    return new ParseCache(dir, max, id);  // lives until exit: modules load from atexit handlers too
  }();
  return *cache;
}

std::string ParseCache::key(std::string_view ptx) const {
  std::string material = "gpool-emu-ptx-ast/" + std::to_string(kFormatVersion) + "/" + build_id_ + "/";
  material.append(ptx);
  const auto h = gpool::hash::sha256(bytes_of(material));
  return gpool::hash::to_hex(h);
}

std::string ParseCache::entry_path(std::string_view ptx) const { return dir_ + "/" + key(ptx) + kSuffix; }

bool ParseCache::lookup(std::string_view ptx, Module* out) {
  if (!enabled()) return false;
  const std::string k = key(ptx);
  const std::string path = dir_ + "/" + k + kSuffix;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ++misses;
    return false;
  }
  std::string data;
  struct stat st{};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    data.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    data.resize(got);  // a shorter file than its size said fails the length check below
  }
  ::close(fd);
  auto reject = [&](const char* why) {
    ++rejected;
    ++misses;
    log().warn("kernel cache: ignoring entry {}: {}", path, why);
    return false;
  };
  if (data.size() < kHeaderBytes) return reject("truncated header");
  if (std::memcmp(data.data(), kMagic, 8) != 0) return reject("not a gpool kernel cache entry");
  uint32_t version = 0;
  std::memcpy(&version, data.data() + 8, 4);
  if (version != kFormatVersion) return reject("written by another format version");
  if (gpool::hash::to_hex(std::span(reinterpret_cast<const uint8_t*>(data.data()) + 16, 32)) != k)
    return reject("its key does not match its name");
  uint64_t len = 0;
  std::memcpy(&len, data.data() + 80, 8);
  if (len != data.size() - kHeaderBytes) return reject("truncated payload");
  const std::string_view payload(data.data() + kHeaderBytes, len);
  const auto sum = gpool::hash::sha256(bytes_of(payload));
  if (std::memcmp(sum.data(), data.data() + 48, 32) != 0) return reject("checksum mismatch");
  std::string err;
  if (!deserialize(payload, out, &err)) return reject(err.c_str());
  ++hits;
  log().debug("kernel cache: hit {} ({} PTX bytes)", path, ptx.size());
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // recently used
  return true;
}

void ParseCache::store(std::string_view ptx, const Module& m) {
  if (!enabled()) return;
  const std::string k = key(ptx);
  std::string payload;
  serialize(m, &payload);
  const auto sum = gpool::hash::sha256(bytes_of(payload));
  std::string file(kMagic, 8);
  const uint32_t version = kFormatVersion, zero = 0;
  file.append(reinterpret_cast<const char*>(&version), 4);
  file.append(reinterpret_cast<const char*>(&zero), 4);
  std::vector<uint8_t> raw_key(32);
  for (size_t i = 0; i < 32; ++i) raw_key[i] = static_cast<uint8_t>(std::stoi(k.substr(2 * i, 2), nullptr, 16));
  file.append(reinterpret_cast<const char*>(raw_key.data()), 32);
  file.append(reinterpret_cast<const char*>(sum.data()), 32);
  const uint64_t len = payload.size();
  file.append(reinterpret_cast<const char*>(&len), 8);
  file.append(payload);
  if (file.size() > max_bytes_) return;  // would never fit
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = dir_ + "/.tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    log().warn("kernel cache: cannot write {}: {}", tmp, std::strerror(errno));
    return;
  }
  size_t done = 0;
  while (done < file.size()) {
    const ssize_t n = ::write(fd, file.data() + done, file.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == file.size() && ::close(fd) == 0;
  const std::string path = dir_ + "/" + k + kSuffix;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    log().warn("kernel cache: cannot store {}: {}", path, std::strerror(errno));
    ::unlink(tmp.c_str());
    return;
  }
  ++stores;
  log().debug("kernel cache: stored {} ({} bytes)", path, file.size());
  evict();
}

void ParseCache::evict() {
  struct Entry {
    fs::path path;
    uint64_t size;
    fs::file_time_type used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != kSuffix) continue;
    std::error_code ec2;
    const uint64_t size = e.file_size(ec2);
    const auto used = e.last_write_time(ec2);
    if (ec2) continue;
    entries.push_back({e.path(), size, used});
    total += size;
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
  for (const auto& e : entries) {
    if (total <= max_bytes_) break;
    std::error_code ec2;
    if (fs::remove(e.path, ec2) || !fs::exists(e.path, ec2)) total -= e.size;  // gone (maybe by another process)
    log().debug("kernel cache: evicted {} ({} bytes)", e.path.string(), e.size);
  }
}

bool ParseCache::parse(std::string_view ptx, Module* out, std::string* error) {
  if (lookup(ptx, out)) return true;
  if (!ptx::parse(ptx, out, error)) return false;
  store(ptx, *out);
  return true;
}

}  // namespace gpool::emu::ptx
