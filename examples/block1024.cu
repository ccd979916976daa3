// block1024: an ordinary kernel launched with 1024-thread blocks, the largest block every
// CUDA GPU accepts. A block-wide sum in shared memory, with the register count, the block
// limit and occupancy the runtime reports checked for agreement: a 1024-thread block needs
// at most 64 registers per thread (65536 per block), and the launch must not be refused.
//
// Build: nvcc -o block1024 block1024.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./block1024
#include "check.h"

#include <vector>

constexpr int kBlock = 1024;

__global__ void block_sums(const int* in, long long* out, int n) {
  __shared__ long long partial[kBlock];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  partial[threadIdx.x] = i < n ? static_cast<long long>(in[i]) * (threadIdx.x % 7 + 1) : 0;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

int main() {
  cudaFuncAttributes attr{};
  CHECK(cudaFuncGetAttributes(&attr, block_sums));
  std::printf("block_sums: %d registers per thread, at most %d threads per block\n", attr.numRegs,
              attr.maxThreadsPerBlock);
  if (attr.numRegs < 1 || attr.numRegs > 64)
    example_fail("numRegs = %d: a kernel this small needs far fewer than 64 registers", attr.numRegs);
  if (attr.maxThreadsPerBlock != kBlock) example_fail("maxThreadsPerBlock = %d, expected 1024", attr.maxThreadsPerBlock);
  int per_sm = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, block_sums, kBlock, 0));
  if (per_sm < 1) example_fail("occupancy says no 1024-thread block fits on an SM");

  const int blocks = 3, n = blocks * kBlock - 100;
  std::vector<int> in(n);
  ExampleRng rng(7);
  for (int& v : in) v = rng.range(-1000, 1000);
  int* d_in = nullptr;
  long long* d_out = nullptr;
  CHECK(cudaMalloc(&d_in, n * sizeof(int)));
  CHECK(cudaMalloc(&d_out, blocks * sizeof(long long)));
  CHECK(cudaMemcpy(d_in, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  block_sums<<<blocks, kBlock>>>(d_in, d_out, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<long long> out(blocks);
  CHECK(cudaMemcpy(out.data(), d_out, blocks * sizeof(long long), cudaMemcpyDeviceToHost));
  for (int b = 0; b < blocks; ++b) {
    long long want = 0;
    for (int t = 0; t < kBlock; ++t) {
      const int i = b * kBlock + t;
      if (i < n) want += static_cast<long long>(in[i]) * (t % 7 + 1);
    }
    if (out[b] != want) example_fail("block %d: sum %lld, expected %lld", b, out[b], want);
  }
  CHECK(cudaFree(d_in));
  CHECK(cudaFree(d_out));
  return example_pass();
}
