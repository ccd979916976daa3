// image_bounds_ok: uploaded images whose headers reach past the bytes sent are refused before
// the driver, which takes no size, reads them (server/src/image_check.h).
#include "image_check.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gpool::server {
namespace {

template <typename T>
void put(std::vector<std::byte>& b, size_t off, T v) {
  if (b.size() < off + sizeof v) b.resize(off + sizeof v);
  std::memcpy(b.data() + off, &v, sizeof v);
}

// A minimal 64-bit ELF: header, then `shnum` section headers at 64, then `payload` bytes.
std::vector<std::byte> elf(uint16_t shnum, uint64_t section_off, uint64_t section_size) {
  std::vector<std::byte> b(64 + 64u * shnum + 32);
  std::memcpy(b.data(), "\x7f" "ELF", 4);
  put<uint8_t>(b, 4, 2);
  put<uint8_t>(b, 5, 1);
  put<uint64_t>(b, 0x28, 64);
  put<uint16_t>(b, 0x3a, 64);
  put<uint16_t>(b, 0x3c, shnum);
  for (uint16_t i = 0; i < shnum; ++i) {
    put<uint32_t>(b, 64 + 64u * i + 4, 1);  // PROGBITS
    put<uint64_t>(b, 64 + 64u * i + 0x18, section_off);
    put<uint64_t>(b, 64 + 64u * i + 0x20, section_size);
  }
  return b;
}

// A fatbin holding one uncompressed entry with `payload`; `declared_total` overrides the size.
std::vector<std::byte> fatbin(const std::vector<std::byte>& payload, uint64_t declared_total = 0) {
  std::vector<std::byte> b(16 + 64);
  put<uint32_t>(b, 0, 0xBA55ED50u);
  put<uint16_t>(b, 4, 1);
  put<uint16_t>(b, 6, 16);
  put<uint64_t>(b, 8, declared_total ? declared_total : 64 + payload.size());
  put<uint16_t>(b, 16, 2);
  put<uint32_t>(b, 16 + 4, 64);
  put<uint64_t>(b, 16 + 8, payload.size());
  b.resize(16 + 64 + payload.size());
  if (!payload.empty()) std::memcpy(b.data() + 16 + 64, payload.data(), payload.size());
  return b;
}

TEST(ImageCheck, AcceptsPtxTextAndWellFormedContainers) {
  std::string why;
  const std::string ptx = ".version 8.0\n.target sm_75\n";
  EXPECT_TRUE(image_bounds_ok({reinterpret_cast<const std::byte*>(ptx.data()), ptx.size()}, why));
  const auto e = elf(2, 64 + 128, 32);
  EXPECT_TRUE(image_bounds_ok(e, why)) << why;
  EXPECT_TRUE(image_bounds_ok(fatbin(e), why)) << why;
}

TEST(ImageCheck, RefusesAWrapperWhosePointerTheWorkerWouldFollow) {
  std::vector<std::byte> b;
  put<uint32_t>(b, 0, 0x466243b1u);
  put<uint32_t>(b, 4, 1);
  put<uint64_t>(b, 8, 0xdeadbeef000ull);
  std::string why;
  EXPECT_FALSE(image_bounds_ok(b, why));
  EXPECT_NE(why.find("wrapper"), std::string::npos) << why;
}

TEST(ImageCheck, RefusesAFatbinDeclaringMoreThanWasSent) {
  std::string why;
  EXPECT_FALSE(image_bounds_ok(fatbin(elf(1, 128, 32), 1u << 30), why));
  auto b = fatbin(elf(1, 128, 32));
  put<uint64_t>(b, 16 + 8, 1u << 20);  // the entry's payload runs past the container
  EXPECT_FALSE(image_bounds_ok(b, why));
}

TEST(ImageCheck, RefusesAnElfWhoseTablesOrSectionsLieOutside) {
  std::string why;
  auto shifted = elf(1, 128, 32);
  put<uint64_t>(shifted, 0x28, 1u << 20);  // section headers far past the end
  EXPECT_FALSE(image_bounds_ok(shifted, why));
  EXPECT_FALSE(image_bounds_ok(elf(1, 100, 1u << 20), why));         // a section past the end
  EXPECT_FALSE(image_bounds_ok(elf(1, ~uint64_t{0} - 4, 16), why));  // offset + size overflows
  EXPECT_FALSE(image_bounds_ok(fatbin(elf(1, 100, 1u << 20)), why));  // the same inside a fatbin
}

TEST(ImageCheck, SharedSectionsOfRelocatableCubinsHoldNoFileBytes) {
  // A relocatable (-rdc=true) cubin's .nv.shared.<kernel> (SHT_CUDA_SHARED, 0x7000000a) sizes the
  // kernel's static shared memory, usually far more than the file holds, like SHT_NOBITS.
  std::string why;
  auto shared = elf(1, 100, 1u << 20);
  put<uint32_t>(shared, 64 + 4, 0x7000000au);
  EXPECT_TRUE(image_bounds_ok(shared, why)) << why;
  EXPECT_TRUE(image_bounds_ok(fatbin(shared), why)) << why;
  put<uint32_t>(shared, 64 + 4, 0x7000000bu);  // another processor-specific type: bytes checked
  EXPECT_FALSE(image_bounds_ok(shared, why));
}

}  // namespace
}  // namespace gpool::server
