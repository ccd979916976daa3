// async_copy: asynchronous global -> shared copies (cp.async), checked against a CPU reference.
//   1. A double-buffered tile pipeline: while a block computes on tile t in one shared buffer,
//      the copy of tile t + 1 into the other buffer is in flight (__pipeline_memcpy_async,
//      __pipeline_commit, __pipeline_wait_prior(1): cp.async.cg with commit_group/wait_group).
//      The last tile is partial: its missing elements are zero-filled by the copy itself
//      (cp.async with a src-size smaller than the copy size).
//   2. cuda::memcpy_async completing on a cuda::barrier (mbarrier.init/arrive/test_wait and
//      cp.async.mbarrier.arrive).
//   3. A two-stage cuda::pipeline (producer_acquire/commit, consumer_wait/release: mbarrier
//      phases with test_wait.parity), the pattern of cuda-samples' globalToShmemAsyncCopy.
// Parts 2 and 3 use one-warp blocks: with several warps, a warp polling the barrier for the
// others needs the emulator to switch warps while it spins.
//
// Build: nvcc -arch=sm_80 -o async_copy async_copy.cu      (cp.async needs sm_80)
// Run:   LD_LIBRARY_PATH=build/emulator ./async_copy
#include "check.h"

#include <cooperative_groups.h>
#include <cuda/barrier>
#include <cuda/pipeline>
#include <cuda_pipeline.h>

#include <vector>

namespace cg = cooperative_groups;

constexpr int kTile = 128;  // floats per tile = threads per block x 1 float4 / 4 ... see below

// out[i] = sum of in[i] and its right neighbour within the tile (the last one of a tile pairs
// with 0), reading both from shared memory. Each thread copies one float4 (4 floats), so a tile
// of 4 * blockDim.x floats needs blockDim.x copies.
__global__ void pairwise_tiles(const float* in, float* out, int n, int tiles_per_block) {
  extern __shared__ float4 buf[];  // 2 buffers of blockDim.x float4
  const int t = threadIdx.x, per_tile = 4 * blockDim.x;
  const int first = blockIdx.x * tiles_per_block;
  auto issue = [&](int tile, int slot) {
    const int base = tile * per_tile + 4 * t;
    const int valid = n - base;  // floats of this thread's float4 that exist
    float4* dst = &buf[slot * blockDim.x + t];
    if (valid >= 4) {
      __pipeline_memcpy_async(dst, in + base, sizeof(float4));
    } else {
      // Copy what exists, zero-fill the rest (zfill = bytes to fill with zeros).
      const int keep = valid > 0 ? valid : 0;
      __pipeline_memcpy_async(dst, keep ? in + base : in, sizeof(float4), sizeof(float4) - keep * sizeof(float));
    }
    __pipeline_commit();
  };
  issue(first, 0);
  for (int i = 0; i < tiles_per_block; ++i) {
    const int tile = first + i;
    if (i + 1 < tiles_per_block) issue(tile + 1, (i + 1) % 2);
    else __pipeline_commit();  // an empty group keeps the wait count uniform
    __pipeline_wait_prior(1);  // everything but the newest group is complete: tile `tile` is here
    __syncthreads();
    const float* s = reinterpret_cast<const float*>(&buf[(i % 2) * blockDim.x]);
    for (int j = 0; j < 4; ++j) {
      const int local = 4 * t + j, g = tile * per_tile + local;
      if (g < n) out[g] = s[local] + (local + 1 < per_tile ? s[local + 1] : 0.0f);
    }
    __syncthreads();  // the buffer is overwritten two iterations later
  }
}

// One warp copies a 256-int chunk per block with cuda::memcpy_async, waits on a block barrier,
// then writes the chunk reversed.
__global__ void reverse_chunks(const int* in, int* out) {
  __shared__ int s[256];
#pragma nv_diag_suppress static_var_with_dynamic_init
  __shared__ cuda::barrier<cuda::thread_scope_block> bar;
  auto block = cg::this_thread_block();
  if (block.thread_rank() == 0) init(&bar, block.size());
  block.sync();
  cuda::memcpy_async(block, s, in + blockIdx.x * 256, sizeof(int) * 256, bar);
  bar.arrive_and_wait();
  for (int i = block.thread_rank(); i < 256; i += block.size()) out[blockIdx.x * 256 + i] = s[255 - i];
}

// Each block sums, per lane, column `lane` of `tiles` consecutive 32-float tiles, fetching them
// through a two-stage pipeline.
__global__ void pipelined_column_sums(const float* in, float* out, int tiles) {
  constexpr int kStages = 2;
  __shared__ float buf[kStages][32];
#pragma nv_diag_suppress static_var_with_dynamic_init
  __shared__ cuda::pipeline_shared_state<cuda::thread_scope_block, kStages> state;
  auto block = cg::this_thread_block();
  auto pipe = cuda::make_pipeline(block, &state);
  const float* src = in + blockIdx.x * tiles * 32;
  float acc = 0;
  for (int fetch = 0, use = 0; use < tiles; ++use) {
    for (; fetch < tiles && fetch < use + kStages; ++fetch) {
      pipe.producer_acquire();
      cuda::memcpy_async(block, buf[fetch % kStages], src + fetch * 32, sizeof(float) * 32, pipe);
      pipe.producer_commit();
    }
    pipe.consumer_wait();
    acc += buf[use % kStages][threadIdx.x];
    pipe.consumer_release();
  }
  out[blockIdx.x * 32 + threadIdx.x] = acc;
}

int main() {
  // 1. Double-buffered pipeline over 4 blocks x 5 tiles x 512 floats, the last tile partial.
  const int threads = kTile, per_tile = 4 * threads, tiles_per_block = 5, blocks = 4;
  const int n = blocks * tiles_per_block * per_tile - 200;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>((i * 37) % 1001) - 500.0f;
  float *din = nullptr, *dout = nullptr;
  CHECK(cudaMalloc(&din, n * sizeof(float)));
  CHECK(cudaMalloc(&dout, n * sizeof(float)));
  CHECK(cudaMemcpy(din, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(dout, 0xff, n * sizeof(float)));
  pairwise_tiles<<<blocks, threads, 2 * threads * sizeof(float4)>>>(din, dout, n, tiles_per_block);
  CHECK(cudaGetLastError());
  std::vector<float> out(n);
  CHECK(cudaMemcpy(out.data(), dout, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    const int local = i % per_tile;
    const float right = local + 1 < per_tile && i + 1 < n ? in[i + 1] : 0.0f;
    if (out[i] != in[i] + right) example_fail("pipeline: out[%d] = %g, expected %g", i, out[i], in[i] + right);
  }
  std::printf("double-buffered cp.async pipeline over %d floats: ok\n", n);

  // 2. cuda::memcpy_async + cuda::barrier, one warp per block.
  const int chunks = 8;
  std::vector<int> iv(chunks * 256);
  for (int i = 0; i < chunks * 256; ++i) iv[i] = i * 7 - 300;
  int *dci = nullptr, *dco = nullptr;
  CHECK(cudaMalloc(&dci, iv.size() * sizeof(int)));
  CHECK(cudaMalloc(&dco, iv.size() * sizeof(int)));
  CHECK(cudaMemcpy(dci, iv.data(), iv.size() * sizeof(int), cudaMemcpyHostToDevice));
  reverse_chunks<<<chunks, 32>>>(dci, dco);
  CHECK(cudaGetLastError());
  std::vector<int> ov(iv.size());
  CHECK(cudaMemcpy(ov.data(), dco, ov.size() * sizeof(int), cudaMemcpyDeviceToHost));
  for (int c = 0; c < chunks; ++c)
    for (int i = 0; i < 256; ++i)
      if (ov[c * 256 + i] != iv[c * 256 + 255 - i])
        example_fail("barrier copy: chunk %d element %d = %d, expected %d", c, i, ov[c * 256 + i],
                     iv[c * 256 + 255 - i]);
  std::printf("cuda::memcpy_async with cuda::barrier: ok\n");

  // 3. cuda::pipeline, 4 blocks of one warp, 9 tiles each.
  const int pblocks = 4, ptiles = 9;
  std::vector<float> pin(pblocks * ptiles * 32);
  for (size_t i = 0; i < pin.size(); ++i) pin[i] = static_cast<float>(i % 13) - 6.0f;
  float *dpin = nullptr, *dpout = nullptr;
  CHECK(cudaMalloc(&dpin, pin.size() * sizeof(float)));
  CHECK(cudaMalloc(&dpout, pblocks * 32 * sizeof(float)));
  CHECK(cudaMemcpy(dpin, pin.data(), pin.size() * sizeof(float), cudaMemcpyHostToDevice));
  pipelined_column_sums<<<pblocks, 32>>>(dpin, dpout, ptiles);
  CHECK(cudaGetLastError());
  std::vector<float> pout(pblocks * 32);
  CHECK(cudaMemcpy(pout.data(), dpout, pout.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (int b = 0; b < pblocks; ++b)
    for (int l = 0; l < 32; ++l) {
      float want = 0;
      for (int t = 0; t < ptiles; ++t) want += pin[(b * ptiles + t) * 32 + l];
      if (pout[b * 32 + l] != want)
        example_fail("pipeline sums: block %d lane %d = %g, expected %g", b, l, pout[b * 32 + l], want);
    }
  std::printf("two-stage cuda::pipeline: ok\n");
  CHECK(cudaFree(dpin));
  CHECK(cudaFree(dpout));
  CHECK(cudaFree(din));
  CHECK(cudaFree(dout));
  CHECK(cudaFree(dci));
  CHECK(cudaFree(dco));
  return example_pass();
}
