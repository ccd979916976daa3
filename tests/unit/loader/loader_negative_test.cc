// Malformed images: every one fails with a message and never reads out of
// bounds (run under ASan in the sanitizer build).
#include "gpool/emu/loader/image.h"
#include "loader_test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

namespace gpool::emu::loader {
namespace {

// Parses a copy of `bytes` in a buffer of exactly its size, so ASan sees any overread.
bool parse_exact(const std::vector<uint8_t>& bytes, std::string* err, Image* img = nullptr) {
  Image local;
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size() ? bytes.size() : 1]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  err->clear();
  return parse_image(copy.get(), img ? img : &local, err, bytes.size());
}

void expect_fails(const std::vector<uint8_t>& bytes, const std::string& contains) {
  std::string err;
  EXPECT_FALSE(parse_exact(bytes, &err));
  EXPECT_NE(err.find(contains), std::string::npos) << "error: " << err;
}

const RawEntry& entry_of_kind(const std::vector<RawEntry>& entries, uint16_t kind) {
  for (const RawEntry& e : entries)
    if (e.kind == kind) return e;
  ADD_FAILURE() << "no entry of kind " << kind;
  return entries.at(0);
}

TEST(LoaderNegative, NullAndTinyAndUnknown) {
  Image img;
  std::string err;
  EXPECT_FALSE(parse_image(nullptr, &img, &err));
  EXPECT_NE(err.find("null"), std::string::npos);
  expect_fails({0x50, 0xed}, "too short");
  expect_fails({1, 2, 3, 4, 5, 6, 7, 8}, "unrecognised image");
  expect_fails({' ', '\n', 'x', 0}, "unrecognised image");
}

TEST(LoaderNegative, EveryTruncationOfAFatbinFails) {
  for (const char* file : {"default.fatbin", "speed.fatbin", "size.fatbin"}) {
    std::vector<uint8_t> bytes = read_image(file);
    for (size_t n = 0; n < bytes.size(); n += (n < 256 ? 1 : 97)) {
      std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
      std::string err;
      EXPECT_FALSE(parse_exact(cut, &err)) << file << " cut at " << n;
      EXPECT_FALSE(err.empty());
    }
  }
}

TEST(LoaderNegative, EveryTruncationOfACubinFails) {
  std::vector<uint8_t> bytes = read_image("sm75.cubin");
  for (size_t n = 0; n < bytes.size(); n += (n < 128 ? 1 : 61)) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    std::string err;
    EXPECT_FALSE(parse_exact(cut, &err)) << "cut at " << n;
    EXPECT_FALSE(err.empty());
  }
}

TEST(LoaderNegative, FatbinHeaderFields) {
  std::vector<uint8_t> good = read_image("default.fatbin");
  std::vector<uint8_t> b = good;
  poke<uint64_t>(b, 8, uint64_t{1} << 40);
  expect_fails(b, "declares");
  b = good;
  poke<uint16_t>(b, 6, 4);
  expect_fails(b, "header size");
  b = good;
  auto entries = raw_entries(good);
  poke<uint32_t>(b, entries[0].header_offset + 4, 8);  // entry header size below 64
  expect_fails(b, "entry header size");
  b = good;
  poke<uint64_t>(b, entries[0].header_offset + 8, uint64_t{1} << 33);  // payload past the container
  expect_fails(b, "runs past the container");
}

TEST(LoaderNegative, CompressedSizeOverflowAndBadSizes) {
  std::vector<uint8_t> good = read_image("default.fatbin");
  const RawEntry ptx = entry_of_kind(raw_entries(good), 1);
  std::vector<uint8_t> b = good;
  poke<uint32_t>(b, ptx.header_offset + 16, static_cast<uint32_t>(ptx.payload_size + 8));
  expect_fails(b, "exceeds the payload size");
  b = good;
  poke<uint32_t>(b, ptx.header_offset + 16, 0xffffffffu);
  expect_fails(b, "exceeds the payload size");
  b = good;
  poke<uint64_t>(b, ptx.header_offset + 56, uint64_t{1} << 40);  // absurd uncompressed size
  expect_fails(b, "out of range");
  b = good;
  poke<uint64_t>(b, ptx.header_offset + 56, ptx.uncompressed_size + 100);  // too large by a bit
  expect_fails(b, "zstd payload holds");
  b = good;
  poke<uint64_t>(b, ptx.header_offset + 56, ptx.uncompressed_size - 100);  // too small
  expect_fails(b, "zstd payload is corrupt");
  b = good;
  poke<uint64_t>(b, ptx.header_offset + 40, ptx.flags & ~uint64_t{0x8000});  // no compression flag
  expect_fails(b, "no known compression");
  b = good;
  poke<uint64_t>(b, ptx.header_offset + 40, ptx.flags | 0x2000);  // both flags
  expect_fails(b, "both");
}

// /proc/self/status field `key` ("VmHWM:", "VmRSS:") in KiB, 0 when absent.
uint64_t status_kib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      std::istringstream v(line.substr(key.size()));
      uint64_t kib = 0;
      v >> kib;
      return kib;
    }
  }
  return 0;
}

// A compressed entry's header claims its uncompressed size; the loader used to allocate (and
// zero) that many bytes before decompressing, so a few bytes of payload claiming 1 GiB cost
// 1 GiB. The shared decompressor (gpool/common/image/fatbin.h) sizes the buffer by what the
// payload can produce: the entry is refused for its false claim without the allocation.
TEST(LoaderNegative, ClaimedUncompressedSizeIsNotAllocated) {
  std::vector<uint8_t> b = read_image("default.fatbin");
  const RawEntry ptx = entry_of_kind(raw_entries(b), 1);
  ASSERT_TRUE(ptx.flags & 0x8000) << "default.fatbin's PTX entry is zstd-compressed";
  poke<uint64_t>(b, ptx.header_offset + 56, uint64_t{1} << 30);  // the loader's limit, claimed
  {
    std::ofstream reset("/proc/self/clear_refs");  // reset the peak RSS (Linux >= 4.0)
    reset << "5";
    reset.flush();
    if (!reset) GTEST_SKIP() << "cannot reset the peak RSS (/proc/self/clear_refs)";
  }
  const uint64_t before = status_kib("VmRSS:");
  expect_fails(b, "zstd payload holds");
  const uint64_t grew_kib = status_kib("VmHWM:") - before;
  EXPECT_LT(grew_kib, uint64_t{64} << 10) << "the claim of 1 GiB was allocated";
}

TEST(LoaderNegative, CorruptZstdPayload) {
  std::vector<uint8_t> good = read_image("default.fatbin");
  const RawEntry ptx = entry_of_kind(raw_entries(good), 1);
  const size_t payload = ptx.header_offset + ptx.header_size;
  std::vector<uint8_t> b = good;
  b[payload] ^= 0xff;  // frame magic
  expect_fails(b, "zstd payload is corrupt");
  b = good;
  poke<uint32_t>(b, ptx.header_offset + 16, ptx.compressed_size / 2);  // truncated frame
  expect_fails(b, "zstd payload is corrupt");
  b = good;
  for (size_t i = 8; i < ptx.compressed_size; ++i) b[payload + i] = 0xff;  // garbage blocks
  expect_fails(b, "zstd");
}

TEST(LoaderNegative, CorruptLz4Payload) {
  std::vector<uint8_t> good = read_image("speed.fatbin");
  const RawEntry ptx = entry_of_kind(raw_entries(good), 1);
  ASSERT_TRUE(ptx.flags & 0x2000);
  const size_t payload = ptx.header_offset + ptx.header_size;
  std::vector<uint8_t> b = good;
  for (size_t i = 0; i < ptx.compressed_size; ++i) b[payload + i] = 0xff;
  expect_fails(b, "LZ4 payload is corrupt");
  b = good;
  poke<uint32_t>(b, ptx.header_offset + 16, ptx.compressed_size / 2);
  expect_fails(b, "LZ4");
  b = good;
  poke<uint64_t>(b, ptx.header_offset + 56, ptx.uncompressed_size + 64);
  expect_fails(b, "LZ4 payload");
}

TEST(LoaderNegative, CorruptCubin) {
  std::vector<uint8_t> good = read_image("sm75.cubin");
  std::vector<uint8_t> b = good;
  b[4] = 1;  // ELFCLASS32
  expect_fails(b, "64-bit");
  b = good;
  poke<uint64_t>(b, 0x28, uint64_t{1} << 50);  // e_shoff
  expect_fails(b, "out of bounds");
  b = good;
  poke<uint16_t>(b, 0x3a, 32);  // e_shentsize
  expect_fails(b, "section header size");
  b = good;
  poke<uint16_t>(b, 0x3e, 0x7fff);  // e_shstrndx
  expect_fails(b, "invalid name");
  // A section whose extent runs past the end of the file.
  uint64_t shoff = 0;
  std::memcpy(&shoff, good.data() + 0x28, 8);
  b = good;
  poke<uint64_t>(b, shoff + 64 * 1 + 0x20, uint64_t{1} << 20);  // section 1 sh_size
  expect_fails(b, "truncated");
}

TEST(LoaderNegative, CorruptNvInfo) {
  // Find .nv.info.<vectorAdd> through the loader-independent section table walk.
  std::vector<uint8_t> good = read_image("sm75.cubin");
  uint64_t shoff = 0;
  uint16_t shnum = 0, shstrndx = 0;
  std::memcpy(&shoff, good.data() + 0x28, 8);
  std::memcpy(&shnum, good.data() + 0x3c, 2);
  std::memcpy(&shstrndx, good.data() + 0x3e, 2);
  auto sh = [&](size_t i, size_t field, size_t width) {
    uint64_t v = 0;
    std::memcpy(&v, good.data() + shoff + 64 * i + field, width);
    return v;
  };
  uint64_t strtab = sh(shstrndx, 0x18, 8);
  uint64_t info_off = 0, info_size = 0;
  for (size_t i = 1; i < shnum; ++i) {
    const char* name = reinterpret_cast<const char*>(good.data() + strtab + sh(i, 0, 4));
    if (std::strcmp(name, ".nv.info._Z9vectorAddPKfS0_Pfi") == 0) {
      info_off = sh(i, 0x18, 8);
      info_size = sh(i, 0x20, 8);
    }
  }
  ASSERT_NE(info_off, 0u);
  std::vector<uint8_t> b = good;
  b[info_off] = 9;  // unknown record format
  expect_fails(b, "unknown .nv.info record format");
  b = good;
  // An SVAL record whose length runs past the section.
  b[info_off] = 4;
  poke<uint16_t>(b, info_off + 2, static_cast<uint16_t>(info_size));
  expect_fails(b, "runs past the section");
  // Parameter buffer size smaller than the parameters: find CBANK_PARAM_SIZE (03 19).
  b = good;
  for (size_t off = 0; off + 4 <= info_size;) {
    uint8_t fmt = good[info_off + off], attr = good[info_off + off + 1];
    uint16_t val = 0;
    std::memcpy(&val, good.data() + info_off + off + 2, 2);
    if (fmt == 3 && attr == 0x19) poke<uint16_t>(b, info_off + off + 2, 8);
    off += 4 + (fmt == 4 ? val : 0);
  }
  expect_fails(b, "beyond the parameter buffer size");
}

TEST(LoaderNegative, WrapperVersion) {
  std::vector<uint8_t> fatbin = read_image("default.fatbin");
  struct {
    uint32_t magic, version;
    const void* fatbin;
    const void* prelinked;
  } w{0x466243B1u, 3, fatbin.data(), nullptr};
  Image img;
  std::string err;
  EXPECT_FALSE(parse_image(&w, &img, &err));
  EXPECT_NE(err.find("version 3"), std::string::npos) << err;
  w.version = 1;
  w.fatbin = nullptr;
  EXPECT_FALSE(parse_image(&w, &img, &err));
  EXPECT_NE(err.find("null fatbin"), std::string::npos) << err;
  std::vector<uint8_t> bad = fatbin;
  bad[0] ^= 1;
  w.fatbin = bad.data();
  EXPECT_FALSE(parse_image(&w, &img, &err));
  EXPECT_NE(err.find("bad fatbin magic"), std::string::npos) << err;
  // A wrapper in a sized buffer (here cut short) is refused: its pointers mean nothing there.
  std::vector<uint8_t> cut(reinterpret_cast<const uint8_t*>(&w), reinterpret_cast<const uint8_t*>(&w) + 12);
  expect_fails(cut, "cannot be loaded from bytes");
}

}  // namespace
}  // namespace gpool::emu::loader

namespace gpool::emu::loader {
namespace {

// Found by fuzz_loader: an ELF image whose section header table holds no entries (e_shnum 0 and
// sh[0].sh_size 0) made read_sections memcpy from/to a null vector buffer (undefined behaviour;
// UBSan stops here). It must parse as an ordinary image or fail with a message.
TEST(LoaderNegative, ElfWithEmptySectionTableFoundByFuzzing) {
  std::ifstream in(GPOOL_TEST_SOURCE_DIR "/fuzz/corpus/loader/regress_elf_empty_section_table.bin", std::ios::binary);
  ASSERT_TRUE(in.good());
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 3912u);
  Image img;
  std::string error;
  const bool ok = parse_image(bytes.data(), &img, &error, bytes.size());
  EXPECT_TRUE(ok || !error.empty()) << "a refusal must say why";
}

// Found by fuzz_loader: bytes of a known size that start with the fatbin wrapper magic made the
// loader follow the wrapper's fatbin pointer (an address the bytes chose: a SEGV, or a read of
// whatever lies there). A wrapper only means something in the process that registered it.
TEST(LoaderNegative, WrapperAsBytesFoundByFuzzing) {
  std::ifstream in(GPOOL_TEST_SOURCE_DIR "/fuzz/corpus/loader/regress_wrapper_as_bytes.bin", std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 29u);
  Image img;
  std::string error;
  EXPECT_FALSE(parse_image(bytes.data(), &img, &error, bytes.size()));
  EXPECT_NE(error.find("fatbin wrapper"), std::string::npos) << error;
}

}  // namespace
}  // namespace gpool::emu::loader
