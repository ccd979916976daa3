#include "loader_test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

std::vector<uint8_t> read_image(const std::string& name) {
  std::string path = std::string(GPOOL_TEST_IMAGE_DIR) + "/" + name;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<RawEntry> raw_entries(const std::vector<uint8_t>& b) {
  std::vector<RawEntry> v;
  uint64_t total = 0;
  std::memcpy(&total, b.data() + 8, 8);
  size_t off = 16;
  while (off < 16 + total && off + 64 <= b.size()) {
    RawEntry e{};
    e.header_offset = off;
    std::memcpy(&e.kind, b.data() + off, 2);
    std::memcpy(&e.header_size, b.data() + off + 4, 4);
    std::memcpy(&e.payload_size, b.data() + off + 8, 8);
    std::memcpy(&e.compressed_size, b.data() + off + 16, 4);
    std::memcpy(&e.arch, b.data() + off + 28, 4);
    std::memcpy(&e.flags, b.data() + off + 40, 8);
    std::memcpy(&e.uncompressed_size, b.data() + off + 56, 8);
    v.push_back(e);
    off += e.header_size + e.payload_size;
  }
  return v;
}
