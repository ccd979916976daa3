// 3D copies between contexts (cuMemcpy3DPeer, cuMemcpy3DPeerAsync) and batches of copies
// (cuMemcpyBatchAsync). Through the pool each is the single copies it describes, checked as
// those are (client-shim/src/memcpy_batch.cc).
#include <cstring>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using CopyBatchTest = DiffTest;

TEST_F(CopyBatchTest, Memcpy3DPeerPitchedBoxes) {
  constexpr size_t pitch = 64, rows = 4, slices = 2, bytes = pitch * rows * slices;
  CUdeviceptr src = 0, dst = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&src, bytes));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&dst, bytes));
  std::vector<unsigned char> host(bytes);
  for (size_t i = 0; i < bytes; ++i) host[i] = static_cast<unsigned char>(i * 7 + 1);
  ASSERT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(src, host.data(), bytes));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD8(dst, 0, bytes));

  // A 16 x 3 x 2 box from (8, 1, 0) of src to (4, 0, 0) of dst, device to device.
  CUDA_MEMCPY3D_PEER p{};
  p.srcMemoryType = p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  p.srcDevice = src;
  p.dstDevice = dst;
  p.srcContext = p.dstContext = primary_context();
  p.srcXInBytes = 8;
  p.srcY = 1;
  p.dstXInBytes = 4;
  p.srcPitch = p.dstPitch = pitch;
  p.srcHeight = p.dstHeight = rows;
  p.WidthInBytes = 16;
  p.Height = 3;
  p.Depth = 2;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy3DPeer(&p));
  std::vector<unsigned char> got(bytes);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(got.data(), dst, bytes));
  auto at = [&](size_t x, size_t y, size_t z) { return z * pitch * rows + y * pitch + x; };
  EXPECT_SAME_VALUE(host[at(8, 1, 0)], got[at(4, 0, 0)]);
  EXPECT_SAME_VALUE(host[at(23, 3, 1)], got[at(19, 2, 1)]);
  EXPECT_SAME_VALUE(0, got[at(3, 0, 0)]) << "outside the box";
  EXPECT_SAME_VALUE(0, got[at(4, 3, 0)]) << "outside the box";

  // Host to device on a stream.
  std::vector<unsigned char> row(32, 0xab);
  CUDA_MEMCPY3D_PEER h{};
  h.srcMemoryType = CU_MEMORYTYPE_HOST;
  h.srcHost = row.data();
  h.srcPitch = 32;
  h.srcHeight = 1;
  h.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  h.dstDevice = dst;
  h.dstPitch = pitch;
  h.dstHeight = rows;
  h.srcContext = h.dstContext = primary_context();
  h.WidthInBytes = 32;
  h.Height = 1;
  h.Depth = 1;
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy3DPeerAsync(&h, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(got.data(), dst, bytes));
  EXPECT_SAME_VALUE(0xab, got[0]);
  EXPECT_SAME_VALUE(0xab, got[31]);
  EXPECT_SAME_VALUE(0, got[32]);

  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpy3DPeer(nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(src));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(dst));
}

TEST_F(CopyBatchTest, BatchOfCopiesInStreamOrder) {
  constexpr size_t n = 1024;
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&b, n));
  std::vector<unsigned char> in(n), out(n, 0);
  for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i ^ 0x5a);
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  // host -> a, a -> b, b -> host: each copy sees the one before it.
  CUdeviceptr dsts[] = {a, b, reinterpret_cast<CUdeviceptr>(out.data())};
  CUdeviceptr srcs[] = {reinterpret_cast<CUdeviceptr>(in.data()), a, b};
  size_t sizes[] = {n, n, n};
  CUmemcpyAttributes attr{};
  attr.srcAccessOrder = CU_MEMCPY_SRC_ACCESS_ORDER_STREAM;
  attr.srcLocHint.type = CU_MEM_LOCATION_TYPE_DEVICE;
  attr.dstLocHint.type = CU_MEM_LOCATION_TYPE_DEVICE;
  size_t attr_idx = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyBatchAsync(dsts, srcs, sizes, 3, &attr, &attr_idx, 1, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(in[0], out[0]);
  EXPECT_SAME_VALUE(in[n - 1], out[n - 1]);
  EXPECT_SAME_VALUE(0, std::memcmp(in.data(), out.data(), n));

  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyBatchAsync(dsts, srcs, sizes, 0, &attr, &attr_idx, 1, s))
      << "no copies";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyBatchAsync(dsts, srcs, sizes, 1, &attr, &attr_idx, 2, s))
      << "more attributes than copies";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyBatchAsync(dsts, srcs, sizes, 1, nullptr, &attr_idx, 1, s))
      << "attributes missing";
  // A device range past its allocation: refused at the call.
  CUdeviceptr bad_dst[] = {b};
  CUdeviceptr bad_src[] = {a + 512};
  size_t bad_size[] = {n};
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyBatchAsync(bad_dst, bad_src, bad_size, 1, &attr, &attr_idx, 1, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(b));
}

}  // namespace
}  // namespace diff
