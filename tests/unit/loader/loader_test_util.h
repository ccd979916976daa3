// Helpers for the loader tests: reading the nvcc-built images and walking raw
// fatbin entry headers independently of the loader (to check what a test
// exercises, e.g. that an entry really is LZ4-compressed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

std::vector<uint8_t> read_image(const std::string& name);  // from GPOOL_TEST_IMAGE_DIR

struct RawEntry {
  size_t header_offset;  // from the start of the container
  uint16_t kind;
  uint32_t header_size;
  uint64_t payload_size;
  uint32_t compressed_size;
  uint32_t arch;
  uint64_t flags;
  uint64_t uncompressed_size;
};
std::vector<RawEntry> raw_entries(const std::vector<uint8_t>& fatbin);

template <class T>
void poke(std::vector<uint8_t>& b, size_t off, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) b.at(off + i) = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}
