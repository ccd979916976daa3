// Device memory: allocation, information, copies of every direction (sync, async, 2D) and
// memsets, with byte-exact checks and the error codes for bad sizes and ranges.
#include <cstring>
#include <numeric>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using MemoryTest = DiffTest;
using CopyTest = DiffTest;
using MemsetTest = DiffTest;

TEST_F(MemoryTest, AllocFreeInfoRange) {
  size_t free_before = 0, total = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemGetInfo(&free_before, &total));
  EXPECT_GT(total, 0u);
  EXPECT_LE(free_before, total);
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 1 << 20));
  EXPECT_NE(0u, p);
  EXPECT_SAME_VALUE(0, p % 256) << "allocations are at least 256-byte aligned";
  CUdeviceptr base = 0;
  size_t size = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemGetAddressRange(&base, &size, p + 1000));
  EXPECT_EQ(p, base);
  EXPECT_SAME_VALUE(1 << 20, size);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(0)) << "freeing 0 is a no-op";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemAlloc(&p, 0));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemAlloc(nullptr, 256));
  EXPECT_CU(CUDA_ERROR_OUT_OF_MEMORY, api().cuMemAlloc(&p, size_t{1} << 60));
}

TEST_F(MemoryTest, PitchAndHostAlloc) {
  CUdeviceptr p = 0;
  size_t pitch = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocPitch(&p, &pitch, 100, 8, 4));
  EXPECT_GE(pitch, 100u);
  record_machine("pitch for 100-byte rows", static_cast<long long>(pitch));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemAllocPitch(&p, &pitch, 100, 8, 3));
  void* host = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&host, 4096));
  std::memset(host, 0x5a, 4096);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(host));
}

TEST_F(CopyTest, SyncDirectionsRoundTrip) {
  constexpr size_t n = 64 * 1024;
  std::vector<unsigned> in(n), out(n, 0);
  std::iota(in.begin(), in.end(), 17u);
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&b, n * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(a, in.data(), n * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoD(b, a, n * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(out.data(), b, n * 4));
  EXPECT_TRUE(in == out) << "HtoD, DtoD, DtoH round trip changed the bytes";
  unsigned word = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy(reinterpret_cast<CUdeviceptr>(&word), b + 4 * 100, 4));
  EXPECT_SAME_VALUE(117, word) << "unified cuMemcpy from device to host";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(b));
}

// A copy past the end of its allocation is refused by the call itself, and refusing it does not
// disturb the next calls.
TEST_F(CopyTest, OutOfRangeRefusedAtTheCall) {
  constexpr size_t bytes = 4096;
  std::vector<unsigned char> host(2 * bytes, 1);
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, bytes));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&b, bytes));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyHtoD(a + bytes - 16, host.data(), 64));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyDtoH(host.data(), a + bytes - 16, 64));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyDtoD(b, a + 8, bytes));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(b));
}

TEST_F(CopyTest, AsyncOnAStreamWithPinnedHost) {
  constexpr size_t bytes = 256 * 1024;
  void* pinned = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&pinned, 2 * bytes));
  auto* src = static_cast<unsigned char*>(pinned);
  auto* dst = src + bytes;
  for (size_t i = 0; i < bytes; ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
  std::memset(dst, 0, bytes);
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, bytes));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&b, bytes));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoDAsync(a, src, bytes, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoDAsync(b, a, bytes, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoHAsync(dst, b, bytes, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_EQ(0, std::memcmp(src, dst, bytes)) << "async round trip changed the bytes";
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(b));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(pinned));
}

TEST_F(CopyTest, TwoDimensionalPitchedCopy) {
  constexpr size_t width = 100, height = 8;  // bytes per row, rows
  std::vector<unsigned char> host(width * height), back(width * height, 0);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<unsigned char>(i ^ 0x3c);
  CUdeviceptr dev = 0;
  size_t pitch = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocPitch(&dev, &pitch, width, height, 4));
  CUDA_MEMCPY2D up{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = host.data();
  up.srcPitch = width;
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = dev;
  up.dstPitch = pitch;
  up.WidthInBytes = width;
  up.Height = height;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy2D(&up));
  CUDA_MEMCPY2D down{};
  down.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  down.srcDevice = dev;
  down.srcPitch = pitch;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = back.data();
  down.dstPitch = width;
  down.WidthInBytes = width;
  down.Height = height;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy2D(&down));
  EXPECT_TRUE(host == back) << "2D round trip changed the bytes";
  // The second row starts one pitch after the first.
  unsigned char first = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&first, dev + pitch, 1));
  EXPECT_SAME_VALUE(host[width], first);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(dev));
}

TEST_F(CopyTest, TwoDimensionalBadPitchRefused) {
  unsigned char host[64] = {};
  CUdeviceptr dev = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&dev, 4096));
  CUDA_MEMCPY2D bad{};
  bad.srcMemoryType = CU_MEMORYTYPE_HOST;
  bad.srcHost = host;
  bad.srcPitch = 16;
  bad.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  bad.dstDevice = dev;
  bad.dstPitch = 15;  // a pitch smaller than the width
  bad.WidthInBytes = 16;
  bad.Height = 4;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpy2D(&bad));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(dev));
}

TEST_F(MemsetTest, EveryWidthAndTwoD) {
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 4096));
  unsigned char bytes[8] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD8(p, 0xab, 4096));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD16(p + 2, 0x1234, 1));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(bytes, p, 8));
  EXPECT_SAME_VALUE(0xab, bytes[0]);
  EXPECT_SAME_VALUE(0x34, bytes[2]);
  EXPECT_SAME_VALUE(0x12, bytes[3]);
  EXPECT_SAME_VALUE(0xab, bytes[4]);
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(p, 0xdeadbeef, 1024, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  unsigned last = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&last, p + 4092, 4));
  EXPECT_SAME_VALUE(0xdeadbeef, last);
  // 2D: 4 rows of 16 words with a 1024-byte pitch; the bytes between rows stay as they were.
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD2D32(p, 1024, 0x11111111, 16, 4));
  unsigned row_end[2] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(row_end, p + 1024 + 60, 8));
  EXPECT_SAME_VALUE(0x11111111, row_end[0]);
  EXPECT_SAME_VALUE(0xdeadbeef, row_end[1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
}

// Memsets a driver refuses at the call: misaligned, past the end, to an address nothing allocated.
TEST_F(MemsetTest, BadRangesRefusedAtTheCall) {
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 4096));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemsetD32(p + 2, 0, 4)) << "a misaligned 32-bit memset";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemsetD8(p + 4000, 0, 200)) << "past the end";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
}

TEST_F(MemsetTest, UnknownAddressRefusedAtTheCall) {
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemsetD32(0x1000, 0, 1)) << "nothing allocated there";
}

}  // namespace
}  // namespace diff
