// The image cache (image_cache.h; issue 13, part 4) and the size of a module's globals
// (image_globals.h; part 3): per-tenant disk folders (a tenant never finds another's image by
// hash), only kept (loaded) images reach the disk, the folder bounded with least-recently-used
// eviction, host memory charged and returned; globals counted from PTX and ELF images.
#include <gtest/gtest.h>

#include <lz4.h>
#include <sys/stat.h>
#include <zstd.h>

#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "image_cache.h"
#include "image_globals.h"
#include "test_files.h"

namespace gpool::server {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> padded(const std::string& text) {
  std::vector<std::byte> v(text.size() + 1);
  std::memcpy(v.data(), text.data(), text.size());
  return v;
}

size_t img_count(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().extension() == ".img") ++n;
  }
  return n;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/gpool-image-cache-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

TEST(ImageCacheTest, KeyedPerTenantAndOnlyKeptImagesReachDisk) {
  TempDir dir;
  const std::string text = ".version 7.0\n// alice's image\n";
  const ImageHash h = image_hash(text.data(), text.size());
  {
    ImageCache alice(dir.path, 1 << 20, "alice");
    ASSERT_TRUE(alice.insert(h, padded(text)));
    ASSERT_NE(alice.find(h), nullptr);
    EXPECT_EQ(alice.find(h)->size(), text.size() + 1);
    EXPECT_EQ(alice.find(h)->back(), std::byte{0}) << "held NUL-terminated";
    EXPECT_EQ(img_count(dir.path), 0u) << "not on disk before it loaded";
    alice.keep(h);
    EXPECT_EQ(img_count(dir.path), 1u);
  }
  ImageCache alice2(dir.path, 1 << 20, "alice");
  ASSERT_NE(alice2.find(h), nullptr) << "a later session of the same tenant finds it by hash";
  ImageCache bob(dir.path, 1 << 20, "bob");
  EXPECT_EQ(bob.find(h), nullptr) << "another tenant must upload it itself";
  EXPECT_NE(alice2.tenant_dir(), bob.tenant_dir());

  const std::string bad = "not an image that loads";
  const ImageHash hb = image_hash(bad.data(), bad.size());
  ASSERT_TRUE(bob.insert(hb, padded(bad)));
  bob.drop(hb);  // the load failed
  EXPECT_EQ(bob.find(hb), nullptr);
  EXPECT_EQ(img_count(dir.path), 1u) << "a failed image is never written";
  EXPECT_FALSE(bob.insert(h, padded(bad))) << "bytes that do not hash to the hash are refused";
}

TEST(ImageCacheTest, ChargesWhatItHoldsAndRefusesOverTheLimit) {
  TempDir dir;
  uint64_t charged = 0;
  const uint64_t limit = 100;
  auto charge = [&](uint64_t n) {
    if (charged + n > limit) return false;
    charged += n;
    return true;
  };
  auto uncharge = [&](uint64_t n) { charged -= n; };
  const std::string text(60, 'p');
  const ImageHash h = image_hash(text.data(), text.size());
  {
    ImageCache c(dir.path, 1 << 20, "t", charge, uncharge);
    ASSERT_TRUE(charge(61));  // the worker charges an upload before receiving it
    ASSERT_TRUE(c.insert(h, padded(text)));
    EXPECT_EQ(c.memory_bytes(), 61u);
    c.keep(h);
  }
  EXPECT_EQ(charged, 0u) << "a session's end returns its images' memory";
  {
    ImageCache c(dir.path, 1 << 20, "t", charge, uncharge);
    ASSERT_TRUE(charge(50));  // something else of the tenant's
    EXPECT_EQ(c.find(h), nullptr) << "reading it from disk would pass the limit";
    uncharge(50);
    ASSERT_NE(c.find(h), nullptr);
    EXPECT_EQ(charged, 61u);
    c.drop(h);
    EXPECT_EQ(charged, 0u);
  }
}

TEST(ImageCacheTest, BoundEvictsLeastRecentlyUsed) {
  TempDir dir;
  fs::create_directories(dir.path + "/t-a");
  fs::create_directories(dir.path + "/t-b");
  const auto now = fs::file_time_type::clock::now();
  const char* names[] = {"t-a/old.img", "t-b/mid.img", "t-a/new.img"};
  for (int i = 0; i < 3; ++i) {
    const std::string p = dir.path + "/" + names[i];
    std::ofstream(p) << std::string(400, 'x');
    fs::last_write_time(p, now - std::chrono::seconds(30 - 10 * i));
  }
  std::ofstream(dir.path + "/t-a/other.txt") << std::string(4000, 'y');  // not an image: not counted
  EXPECT_EQ(ImageCache::enforce_bound(dir.path, 1200), 1200u) << "within the bound: nothing goes";
  EXPECT_EQ(ImageCache::enforce_bound(dir.path, 900), 800u);
  EXPECT_FALSE(fs::exists(dir.path + "/t-a/old.img"));
  EXPECT_TRUE(fs::exists(dir.path + "/t-b/mid.img"));
  EXPECT_TRUE(fs::exists(dir.path + "/t-a/new.img"));
  EXPECT_EQ(ImageCache::enforce_bound(dir.path, 400), 400u);
  EXPECT_TRUE(fs::exists(dir.path + "/t-a/new.img"));
}

TEST(ImageCacheTest, ConfigKeys) {
  testing::TempToml ok("image_cache_max_bytes = \"2MiB\"\n[[tenant]]\nname = \"a\"\ntoken = \"t\"\nimage_memory = \"64MiB\"\n");
  Config cfg;
  std::string error;
  ASSERT_TRUE(load_config(ok.path(), cfg, error)) << error;
  EXPECT_EQ(cfg.image_cache_max_bytes, uint64_t{2} << 20);
  ASSERT_EQ(cfg.tenants.size(), 1u);
  EXPECT_EQ(cfg.tenants[0].image_memory, uint64_t{64} << 20);
  EXPECT_EQ(Tenant{}.image_memory, uint64_t{1} << 30) << "bounded by default";
  testing::TempToml small("image_cache_max_bytes = 1000\n");
  EXPECT_FALSE(load_config(small.path(), cfg, error));
  EXPECT_NE(error.find("image_cache_max_bytes must be at least 1MiB"), std::string::npos) << error;
  testing::TempToml bad("[[tenant]]\nname = \"a\"\ntoken = \"t\"\nimage_memory = \"lots\"\n");
  EXPECT_FALSE(load_config(bad.path(), cfg, error));
  EXPECT_NE(error.find("image_memory must be a byte count"), std::string::npos) << error;
}

TEST(ImageGlobalsTest, PtxDeclarations) {
  EXPECT_EQ(ptx_global_bytes(".visible .global .align 8 .b8 big[1073741824];\n"), uint64_t{1} << 30);
  EXPECT_EQ(ptx_global_bytes(".global .u32 x;\n.const .align 4 .f32 c[256];\n"), 4u + 1024u);
  EXPECT_EQ(ptx_global_bytes(".version 8.0\n.target sm_80\n.address_size 64\n.file 1 \"a.cu\"\n\n"
                             ".visible .global .align 8 .b8 huge[1073741824];\n"), uint64_t{1} << 30)
      << "line directives without ';' before the first declaration";
  EXPECT_EQ(ptx_global_bytes(".global .v4 .f32 v[2];\n"), 32u);
  EXPECT_EQ(ptx_global_bytes(".global .u32 init[] = {1, 2, 3};\n"), 12u);
  EXPECT_EQ(ptx_global_bytes(".global .f64 m[4][8] = {0};\n"), 256u);
  EXPECT_EQ(ptx_global_bytes(".extern .global .u32 other;\n.shared .u32 s[64];\n"), 0u) << "not this module's device memory";
  EXPECT_EQ(ptx_global_bytes("// .global .u32 commented[1000];\n/* .global .u32 c2[9]; */\n"), 0u);
  EXPECT_EQ(ptx_global_bytes(".entry k()\n{\n .local .u32 l[100];\n ret;\n}\n.global .u8 after[3];\n"), 3u)
      << "declarations inside a function body do not count";
}

TEST(ImageGlobalsTest, ElfSections) {
  // A minimal 64-bit ELF: section headers for "", .shstrtab, .nv.global (NOBITS, 1 GiB),
  // .nv.constant3 (16 bytes) and .nv.constant0.k (kernel parameters: not counted).
  const std::string strtab = std::string("\0.shstrtab\0.nv.global\0.nv.constant3\0.nv.constant0.k\0", 52);
  std::vector<std::byte> elf(64 + strtab.size() + 16 + 5 * 64);
  auto put = [&](size_t off, auto v) { std::memcpy(elf.data() + off, &v, sizeof v); };
  std::memcpy(elf.data(), "\x7f" "ELF", 4);
  elf[4] = std::byte{2};
  elf[5] = std::byte{1};
  const uint64_t shoff = 64 + strtab.size() + 16;
  put(0x28, shoff);
  put(0x3a, uint16_t{64});
  put(0x3c, uint16_t{5});
  put(0x3e, uint16_t{1});
  std::memcpy(elf.data() + 64, strtab.data(), strtab.size());
  auto section = [&](int i, uint32_t name, uint32_t type, uint64_t off, uint64_t size) {
    const size_t sh = shoff + 64 * static_cast<size_t>(i);
    put(sh, name);
    put(sh + 4, type);
    put(sh + 0x18, off);
    put(sh + 0x20, size);
  };
  section(1, 1, 3, 64, strtab.size());
  section(2, 11, 8, 0, uint64_t{1} << 30);
  section(3, 22, 1, 64 + strtab.size(), 16);
  section(4, 36, 1, 64 + strtab.size(), 16);
  const GlobalBytes g = image_global_bytes(elf);
  EXPECT_EQ(g.bytes, (uint64_t{1} << 30) + 16);
  EXPECT_FALSE(g.opaque);
}

TEST(ImageGlobalsTest, CompressedFatbinEntryIsCounted) {
  // A fatbin with one zstd-compressed PTX entry (flag 0x8000) declaring a 1 GiB __device__
  // array: compressing the image must not hide its globals from the quota.
  const std::string ptx = ".version 8.0\n.target sm_80\n.address_size 64\n"
                          ".visible .global .align 8 .b8 big[1073741824];\n";
  std::vector<char> packed(ZSTD_compressBound(ptx.size()));
  const size_t n = ZSTD_compress(packed.data(), packed.size(), ptx.data(), ptx.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  const size_t payload = (n + 7) / 8 * 8;
  std::vector<std::byte> fb(16 + 64 + payload);
  auto put = [&](size_t off, auto v) { std::memcpy(fb.data() + off, &v, sizeof v); };
  put(0, uint32_t{0xBA55ED50u});
  put(4, uint16_t{1});
  put(6, uint16_t{16});
  put(8, uint64_t{64 + payload});
  put(16, uint16_t{1});                 // PTX
  put(18, uint16_t{0x0101});
  put(20, uint32_t{64});                // entry header size
  put(24, uint64_t{payload});
  put(32, static_cast<uint32_t>(n));    // compressed size
  put(16 + 40, uint64_t{0x8000 | 0x11});  // zstd, 64-bit, Linux
  put(16 + 56, uint64_t{ptx.size()});   // uncompressed size
  std::memcpy(fb.data() + 80, packed.data(), n);
  const GlobalBytes g = image_global_bytes(fb);
  EXPECT_FALSE(g.opaque);
  EXPECT_EQ(g.bytes, uint64_t{1} << 30);
  put(16 + 56, uint64_t{1} << 40);  // claims 1 TiB uncompressed: not decompressed, opaque
  EXPECT_TRUE(image_global_bytes(fb).opaque);
}

TEST(ImageGlobalsTest, HostileHeadersStayInBounds) {
  // Random bytes behind each magic (seeded): the walk reads only inside the buffer (checked by
  // ASan in the sanitizer build) and never loops forever; sizes saturate instead of wrapping.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const char* magics[] = {"\x50\xed\x55\xba", "\x7f" "ELF", ".gl"};
  for (int i = 0; i < 3000; ++i) {
    std::vector<std::byte> b(static_cast<size_t>(rnd() % 512));
    for (auto& v : b) v = static_cast<std::byte>(rnd() % 7 == 0 ? 0 : rnd() & 0xff);
    const char* m = magics[i % 3];
    for (size_t k = 0; k < 4 && k < b.size() && m[k] != 0; ++k) b[k] = static_cast<std::byte>(m[k]);
    if (b.size() > 8 && i % 2 == 0) b[4] = std::byte{2}, b[5] = std::byte{1};  // ELF class/data
    (void)image_global_bytes(b);
  }
  EXPECT_EQ(ptx_global_bytes(".global .b8 a[99999999999999999999999];\n"), UINT64_MAX) << "saturates";
}


// fuzz_image_globals found that a compressed entry's header alone set the size of the buffer it
// was decompressed into: 72 bytes claiming 256 MiB cost a 256 MiB zero-filled allocation, so a
// 7 KiB upload of 100 such entries kept a worker busy for a minute (sanitizer build). The
// buffer is now bounded by what the payload can produce; the claim costs nothing.
uint64_t peak_rss_kib() {  // VmHWM, the peak resident set since the last reset
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream v(line.substr(6));
      uint64_t kib = 0;
      v >> kib;
      return kib;
    }
  }
  return 0;
}

uint64_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream v(line.substr(6));
      uint64_t kib = 0;
      v >> kib;
      return kib;
    }
  }
  return 0;
}

// A fatbin of `n` PTX entries, each `payload` compressed with `flags`, each header claiming
// `claimed` bytes uncompressed.
std::vector<std::byte> fatbin_of(const std::string& payload, uint64_t flags, uint64_t claimed, int n) {
  const size_t padded_size = (payload.size() + 7) / 8 * 8;
  std::vector<std::byte> fb(16 + static_cast<size_t>(n) * (64 + padded_size));
  auto put = [&](size_t off, auto v) { std::memcpy(fb.data() + off, &v, sizeof v); };
  put(0, uint32_t{0xBA55ED50u});
  put(4, uint16_t{1});
  put(6, uint16_t{16});
  put(8, uint64_t{fb.size() - 16});
  for (int i = 0; i < n; ++i) {
    const size_t e = 16 + static_cast<size_t>(i) * (64 + padded_size);
    put(e, uint16_t{1});  // PTX
    put(e + 2, uint16_t{0x0101});
    put(e + 4, uint32_t{64});
    put(e + 8, uint64_t{padded_size});
    put(e + 16, static_cast<uint32_t>(payload.size()));
    put(e + 40, flags | 0x11);
    put(e + 56, claimed);
    std::memcpy(fb.data() + e + 64, payload.data(), payload.size());
  }
  return fb;
}

TEST(ImageGlobalsTest, ClaimedSizeCostsNothing) {
  const std::string ptx = ".version 8.0\n.target sm_80\n.address_size 64\n.global .u32 x[4];\n";
  std::string zstd(ZSTD_compressBound(ptx.size()), '\0');
  zstd.resize(ZSTD_compress(zstd.data(), zstd.size(), ptx.data(), ptx.size(), 3));
  std::string lz4(static_cast<size_t>(LZ4_compressBound(static_cast<int>(ptx.size()))), '\0');
  lz4.resize(static_cast<size_t>(LZ4_compress_default(ptx.data(), lz4.data(), static_cast<int>(ptx.size()),
                                                      static_cast<int>(lz4.size()))));
  ASSERT_GT(lz4.size(), 0u);
  constexpr uint64_t k256M = uint64_t{256} << 20;
  const auto zstd_fb = fatbin_of(zstd, 0x8000, k256M, 1);
  const auto lz4_fb = fatbin_of(lz4, 0x2000, k256M, 1);
  const auto junk_fb = fatbin_of(std::string("\x28\xb5\x2f\xfd\0\0\0\0", 8), 0x8000, k256M, 16);

  // Reset the peak resident set (clear_refs "5", Linux >= 4.0) to measure these calls alone.
  {
    std::ofstream reset("/proc/self/clear_refs");
    reset << "5";
    reset.flush();
    if (!reset) GTEST_SKIP() << "cannot reset the peak RSS (/proc/self/clear_refs)";
  }
  const uint64_t before = rss_kib();
  const GlobalBytes z = image_global_bytes(zstd_fb);
  const GlobalBytes l = image_global_bytes(lz4_fb);
  const GlobalBytes j = image_global_bytes(junk_fb);
  const uint64_t grew_kib = peak_rss_kib() - before;

  EXPECT_EQ(z.bytes, 16u) << "a real payload under a false claim still counts what it declares";
  EXPECT_FALSE(z.opaque);
  EXPECT_EQ(l.bytes, 16u);
  EXPECT_FALSE(l.opaque);
  EXPECT_EQ(j.bytes, 0u);
  EXPECT_TRUE(j.opaque) << "a payload that does not decompress stays opaque";
  EXPECT_LT(grew_kib, uint64_t{32} << 10) << "the claimed 256 MiB was allocated: peak RSS grew by " << grew_kib << " KiB";
}

}  // namespace
}  // namespace gpool::server
