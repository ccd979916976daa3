// Copies and memsets: 1D bounds, 2D/3D with pitches, memset forms.
#include "test_util.h"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

using RuntimeMemcpy = RuntimeTest;

TEST_F(RuntimeMemcpy, RoundTripAndBounds) {
  std::vector<uint32_t> in(256), out(256, 0);
  std::iota(in.begin(), in.end(), 1000u);
  CUdeviceptr d = 0, d2 = 0;
  ASSERT_CU(cuMemAlloc(&d, 1024));
  ASSERT_CU(cuMemAlloc(&d2, 1024));
  ASSERT_CU(cuMemcpyHtoD(d, in.data(), 1024));
  ASSERT_CU(cuMemcpyDtoD(d2, d, 1024));
  ASSERT_CU(cuMemcpyDtoH(out.data(), d2, 1024));
  EXPECT_EQ(in, out);
  // Unified cuMemcpy resolves both sides.
  std::vector<uint32_t> back(256, 0);
  ASSERT_CU(cuMemcpy(reinterpret_cast<CUdeviceptr>(back.data()), d, 1024));
  EXPECT_EQ(in, back);

  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(d + 1, in.data(), 1024));  // runs past the end
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(out.data(), d + 1020, 8));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(d2, 0xdead0000ull, 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(0xdead0000ull, in.data(), 4));
  // An unmapped host address is refused, not dereferenced.
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(reinterpret_cast<void*>(0x10), d, 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(d, reinterpret_cast<void*>(0x10), 4));
  // Zero bytes is fine.
  ASSERT_CU(cuMemcpyHtoD(d, in.data(), 0));
  ASSERT_CU(cuMemFree(d));
  ASSERT_CU(cuMemFree(d2));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(out.data(), d, 4));  // freed
}

TEST_F(RuntimeMemcpy, Copy2DWithPitches) {
  const size_t width = 10, height = 5, hpitch = 16;
  std::vector<uint8_t> host(hpitch * height);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<uint8_t>(i);
  CUdeviceptr d = 0;
  size_t dpitch = 0;
  ASSERT_CU(cuMemAllocPitch(&d, &dpitch, width + 3, height + 1, 4));
  ASSERT_CU(cuMemsetD8(d, 0xee, dpitch * (height + 1)));

  CUDA_MEMCPY2D c{};
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = host.data();
  c.srcPitch = hpitch;
  c.srcXInBytes = 2;
  c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  c.dstDevice = d;
  c.dstPitch = dpitch;
  c.dstXInBytes = 3;
  c.dstY = 1;
  c.WidthInBytes = width - 2;
  c.Height = height;
  ASSERT_CU(cuMemcpy2D(&c));

  std::vector<uint8_t> dev(dpitch * (height + 1));
  ASSERT_CU(cuMemcpyDtoH(dev.data(), d, dev.size()));
  for (size_t y = 0; y < height + 1; ++y) {
    for (size_t x = 0; x < dpitch; ++x) {
      uint8_t want = 0xee;
      if (y >= 1 && x >= 3 && x < 3 + width - 2) want = host[(y - 1) * hpitch + 2 + (x - 3)];
      ASSERT_EQ(want, dev[y * dpitch + x]) << "x " << x << " y " << y;
    }
  }

  // Device -> host, unified memory type on the device side, async form.
  std::vector<uint8_t> back(width * height, 0);
  CUDA_MEMCPY2D r{};
  r.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
  r.srcDevice = d;
  r.srcPitch = dpitch;
  r.dstMemoryType = CU_MEMORYTYPE_HOST;
  r.dstHost = back.data();
  r.dstPitch = width;
  r.WidthInBytes = width;
  r.Height = height;
  ASSERT_CU(cuMemcpy2DAsync(&r, nullptr));
  ASSERT_CU(cuStreamSynchronize(nullptr));
  for (size_t y = 0; y < height; ++y)
    for (size_t x = 0; x < width; ++x) ASSERT_EQ(dev[y * dpitch + x], back[y * width + x]);

  // A pitch below the width, and a copy running off the allocation, are refused.
  r.srcPitch = width - 1;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpy2D(&r));
  r.srcPitch = dpitch;
  r.Height = height + 2;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpy2D(&r));
  ASSERT_CU(cuMemFree(d));
}

TEST_F(RuntimeMemcpy, Copy3DWithPitches) {
  const size_t w = 6, h = 3, depth = 4;        // bytes, rows, slices copied
  const size_t spitch = 8, sheight = 5;        // host layout
  const size_t dpitch = 16, dheight = 4;       // device layout
  std::vector<uint8_t> src(spitch * sheight * depth);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, dpitch * dheight * depth));
  ASSERT_CU(cuMemsetD8(d, 0, dpitch * dheight * depth));
  CUDA_MEMCPY3D c{};
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = src.data();
  c.srcPitch = spitch;
  c.srcHeight = sheight;
  c.srcY = 1;
  c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  c.dstDevice = d;
  c.dstPitch = dpitch;
  c.dstHeight = dheight;
  c.dstXInBytes = 2;
  c.WidthInBytes = w;
  c.Height = h;
  c.Depth = depth;
  ASSERT_CU(cuMemcpy3D(&c));
  std::vector<uint8_t> out(dpitch * dheight * depth);
  ASSERT_CU(cuMemcpyDtoH(out.data(), d, out.size()));
  for (size_t z = 0; z < depth; ++z)
    for (size_t y = 0; y < dheight; ++y)
      for (size_t x = 0; x < dpitch; ++x) {
        uint8_t want = 0;
        if (y < h && x >= 2 && x < 2 + w) want = src[z * spitch * sheight + (y + 1) * spitch + (x - 2)];
        ASSERT_EQ(want, out[z * dpitch * dheight + y * dpitch + x]) << x << "," << y << "," << z;
      }
  c.Depth = depth + 1;  // one slice too many for the device allocation
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpy3D(&c));
  c.Depth = depth;
  c.srcMemoryType = CU_MEMORYTYPE_ARRAY;  // with no array behind it (array.cc has the real ones)
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuMemcpy3D(&c));
  ASSERT_CU(cuMemFree(d));
}

// A pitch so large that the extent of the rows wraps 64 bits (3 x pitch = 2^64 + 2) must not
// pass the allocation check as a small extent.
TEST_F(RuntimeMemcpy, WrappingPitchIsRefused) {
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 4096));
  std::vector<uint8_t> host(4096, 1);
  CUDA_MEMCPY2D c{};
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = host.data();
  c.srcPitch = 16;
  c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  c.dstDevice = d;
  c.dstPitch = 0x5555555555555556ull;
  c.WidthInBytes = 16;
  c.Height = 4;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpy2D(&c));
  c.dstPitch = 16;
  EXPECT_EQ(CUDA_SUCCESS, cuMemcpy2D(&c));
  ASSERT_CU(cuMemFree(d));
}

TEST_F(RuntimeMemcpy, MemsetForms) {
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 256));
  ASSERT_CU(cuMemsetD32(d, 0xdeadbeef, 64));
  ASSERT_CU(cuMemsetD16(d + 4, 0x1234, 2));
  ASSERT_CU(cuMemsetD8(d + 8, 0x7f, 1));
  std::vector<uint8_t> out(256);
  ASSERT_CU(cuMemcpyDtoH(out.data(), d, 256));
  uint32_t w0, w1, w2;
  std::memcpy(&w0, &out[0], 4);
  std::memcpy(&w1, &out[4], 4);
  std::memcpy(&w2, &out[8], 4);
  EXPECT_EQ(0xdeadbeefu, w0);
  EXPECT_EQ(0x12341234u, w1);
  EXPECT_EQ(0xdeadbe7fu, w2);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemsetD32(d + 2, 0, 1));   // misaligned
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemsetD8(d, 0, 257));      // past the end

  // 2D: 3 rows of 5 u16 in a pitch of 32 bytes; the rest untouched.
  ASSERT_CU(cuMemsetD8(d, 0, 256));
  ASSERT_CU(cuMemsetD2D16Async(d, 32, 0xabcd, 5, 3, nullptr));
  ASSERT_CU(cuCtxSynchronize());
  ASSERT_CU(cuMemcpyDtoH(out.data(), d, 256));
  for (size_t y = 0; y < 8; ++y)
    for (size_t x = 0; x < 32; x += 2) {
      uint16_t v;
      std::memcpy(&v, &out[y * 32 + x], 2);
      EXPECT_EQ((y < 3 && x < 10) ? 0xabcd : 0, v) << x << "," << y;
    }
  ASSERT_CU(cuMemFree(d));
}
