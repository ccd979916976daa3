// dynamic_smem: shared memory sized at launch time. Demonstrates `extern __shared__` arrays,
// the third launch parameter, cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize)
// to opt in to more than 48 KiB per block, cudaFuncGetAttributes, and that a launch asking for
// more than 48 KiB without the opt-in is refused (cudaErrorInvalidValue, not sticky).
//
// Build: nvcc -o dynamic_smem dynamic_smem.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./dynamic_smem
#include "check.h"

#include <vector>

// Each block stages `per_block` floats in dynamic shared memory and writes them back reversed
// and doubled.
__global__ void reverse_blocks(const float* in, float* out, int per_block) {
  extern __shared__ float staged[];
  const float* src = in + static_cast<size_t>(blockIdx.x) * per_block;
  float* dst = out + static_cast<size_t>(blockIdx.x) * per_block;
  for (int i = threadIdx.x; i < per_block; i += blockDim.x) staged[i] = src[i];
  __syncthreads();
  for (int i = threadIdx.x; i < per_block; i += blockDim.x) dst[i] = 2.0f * staged[per_block - 1 - i];
}

static void run_and_check(int per_block, int blocks, float* d_in, float* d_out,
                          const std::vector<float>& in) {
  const size_t smem = per_block * sizeof(float);
  CHECK(cudaMemset(d_out, 0, in.size() * sizeof(float)));
  reverse_blocks<<<blocks, 256, smem>>>(d_in, d_out, per_block);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> out(static_cast<size_t>(per_block) * blocks);
  CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (int b = 0; b < blocks; ++b)
    for (int i = 0; i < per_block; ++i) {
      const float want = 2.0f * in[static_cast<size_t>(b) * per_block + per_block - 1 - i];
      const float got = out[static_cast<size_t>(b) * per_block + i];
      if (got != want)
        example_fail("%zu-byte smem: out[%d][%d] = %g, expected %g", smem, b, i, got, want);
    }
}

int main() {
  int optin = 0;
  CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  const int big_bytes = optin < 64 * 1024 ? optin : 64 * 1024;
  if (big_bytes <= 48 * 1024)
    example_fail("the device allows only %d bytes of shared memory per block with opt-in", optin);

  const int big = big_bytes / static_cast<int>(sizeof(float));
  const int blocks = 6;
  std::vector<float> in(static_cast<size_t>(big) * blocks);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 4099);
  float *d_in = nullptr, *d_out = nullptr;
  CHECK(cudaMalloc(&d_in, in.size() * sizeof(float)));
  CHECK(cudaMalloc(&d_out, in.size() * sizeof(float)));
  CHECK(cudaMemcpy(d_in, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));

  // Small: 1000 floats per block fits the default 48 KiB.
  run_and_check(1000, blocks, d_in, d_out, in);

  // Too big without the opt-in: refused at launch, and the error is not sticky.
  reverse_blocks<<<blocks, 256, big_bytes>>>(d_in, d_out, big);
  EXPECT_ERR(cudaGetLastError(), cudaErrorInvalidValue);
  CHECK(cudaDeviceSynchronize());

  CHECK(cudaFuncSetAttribute(reverse_blocks, cudaFuncAttributeMaxDynamicSharedMemorySize, big_bytes));
  cudaFuncAttributes attr{};
  CHECK(cudaFuncGetAttributes(&attr, reverse_blocks));
  if (attr.maxDynamicSharedSizeBytes != big_bytes)
    example_fail("maxDynamicSharedSizeBytes = %d after setting %d", attr.maxDynamicSharedSizeBytes, big_bytes);
  if (attr.maxThreadsPerBlock < 256) example_fail("maxThreadsPerBlock = %d", attr.maxThreadsPerBlock);
  run_and_check(big, blocks, d_in, d_out, in);

  CHECK(cudaFree(d_in));
  CHECK(cudaFree(d_out));
  return example_pass();
}
