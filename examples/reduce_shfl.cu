// reduce_shfl: a sum reduction built from warp shuffles. Demonstrates __shfl_down_sync for the
// in-warp tree, shared memory for the per-warp partials, a second warp-level pass, atomicAdd for
// the per-block results, __ballot_sync + __popc for a warp vote, and __reduce_add_sync (the
// sm_80 redux.sync instruction) with a __shfl_xor_sync fallback when compiled for older targets.
//
// Build: nvcc -o reduce_shfl reduce_shfl.cu                          (default sm_75: xor fallback)
//        nvcc -arch=sm_80 -o reduce_shfl_sm80 reduce_shfl.cu         (uses __reduce_add_sync)
// Run:   LD_LIBRARY_PATH=build/emulator ./reduce_shfl
#include "check.h"

#include <vector>

constexpr unsigned kFull = 0xffffffffu;

__device__ int warp_sum(int v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(kFull, v, offset);
  return v;  // lane 0 holds the warp's total
}

// Every lane gets the warp's total. Writes which path was compiled to *path (1 = redux.sync).
__device__ unsigned warp_count(unsigned v, int* path) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  *path = 1;
  return __reduce_add_sync(kFull, v);
#else
  *path = 2;
  for (int mask = 16; mask > 0; mask >>= 1) v += __shfl_xor_sync(kFull, v, mask);
  return v;
#endif
}

// total: sum of in[]; positives: number of in[i] > 0; voters: number of threads whose own
// grid-stride partial sum is > 0 (counted with a ballot).
__global__ void reduce_sum(const int* in, int n, int* total, unsigned* positives, unsigned* voters,
                           int* path) {
  __shared__ int warp_partials[32];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;

  int sum = 0;
  unsigned pos = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    sum += in[i];
    pos += in[i] > 0 ? 1u : 0u;
  }

  const unsigned ballot = __ballot_sync(kFull, sum > 0);
  const unsigned warp_pos = warp_count(pos, path);
  if (lane == 0) {
    atomicAdd(voters, static_cast<unsigned>(__popc(ballot)));
    atomicAdd(positives, warp_pos);
  }

  const int ws = warp_sum(sum);
  if (lane == 0) warp_partials[warp] = ws;
  __syncthreads();
  if (warp == 0) {
    const int block_total = warp_sum(lane < warps ? warp_partials[lane] : 0);
    if (lane == 0) atomicAdd(total, block_total);
  }
}

int main() {
  const int n = (1 << 20) + 77;
  std::vector<int> in(n);
  ExampleRng rng(2024);
  for (int& v : in) v = rng.range(-50, 50);

  const int block = 256, grid = 64, threads = block * grid;
  long long want_total = 0;
  unsigned want_pos = 0, want_voters = 0;
  std::vector<long long> per_thread(threads, 0);
  for (int i = 0; i < n; ++i) {
    want_total += in[i];
    want_pos += in[i] > 0 ? 1u : 0u;
    per_thread[i % threads] += in[i];
  }
  for (long long s : per_thread) want_voters += s > 0 ? 1u : 0u;

  int* d_in = nullptr;
  int* d_total = nullptr;
  unsigned* d_counts = nullptr;  // [0] positives, [1] voters
  int* d_path = nullptr;
  CHECK(cudaMalloc(&d_in, n * sizeof(int)));
  CHECK(cudaMalloc(&d_total, sizeof(int)));
  CHECK(cudaMalloc(&d_counts, 2 * sizeof(unsigned)));
  CHECK(cudaMalloc(&d_path, sizeof(int)));
  CHECK(cudaMemcpy(d_in, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(d_total, 0, sizeof(int)));
  CHECK(cudaMemset(d_counts, 0, 2 * sizeof(unsigned)));
  CHECK(cudaMemset(d_path, 0, sizeof(int)));

  reduce_sum<<<grid, block>>>(d_in, n, d_total, d_counts, d_counts + 1, d_path);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  int total = 0, path = 0;
  unsigned counts[2] = {0, 0};
  CHECK(cudaMemcpy(&total, d_total, sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(counts, d_counts, sizeof(counts), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(&path, d_path, sizeof(int), cudaMemcpyDeviceToHost));
  std::printf("warp counts reduced with %s\n",
              path == 1 ? "__reduce_add_sync" : path == 2 ? "__shfl_xor_sync" : "nothing?");

  if (total != want_total) example_fail("sum = %d, expected %lld", total, want_total);
  if (counts[0] != want_pos) example_fail("positive count = %u, expected %u", counts[0], want_pos);
  if (counts[1] != want_voters)
    example_fail("ballot count of positive partial sums = %u, expected %u", counts[1], want_voters);
  if (path != 1 && path != 2) example_fail("the kernel did not record its warp-reduce path");

  CHECK(cudaFree(d_in));
  CHECK(cudaFree(d_total));
  CHECK(cudaFree(d_counts));
  CHECK(cudaFree(d_path));
  return example_pass();
}
