// cg_primitives: the cooperative-groups primitives nvcc lowers to warp instructions, each run
// under divergence and checked against a scalar reference computed on the host:
//   coalesced_threads()   size / thread_rank / shfl of the lanes that took a branch
//   tiled_partition       static <16> and dynamic (8) tiles: ranks, meta-group rank, shfl_down sums
//   labeled_partition     split of a coalesced group by a label: size and rank per label
//   match_any             thread_block_tile<32>::match_any (match.any.sync)
//   reduce                cg::reduce with plus / less / bit_or over 32- and 8-thread tiles
// Built twice: default flags (compute_75: shuffles) and -arch=sm_80 (redux.sync for reduce).
//
// Build: nvcc -o cg_primitives cg_primitives.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./cg_primitives
#include "check.h"

#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>

#include <vector>

namespace cg = cooperative_groups;

constexpr int kThreads = 128, kBlocks = 2, kN = kThreads * kBlocks;

// Lanes of a warp that take the branch in the coalesced/labeled tests.
__host__ __device__ inline bool takes_branch(int v) { return v % 3 != 1; }
__host__ __device__ inline int label_of(int v) { return (v >> 2) & 3; }

// out[3 * i]: group size, [3i+1]: rank, [3i+2]: the value of the group's rank-0 thread
__global__ void coalesced(const int* in, int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int v = in[i];
  out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = -1;
  if (takes_branch(v)) {
    cg::coalesced_group g = cg::coalesced_threads();
    out[3 * i] = static_cast<int>(g.size());
    out[3 * i + 1] = static_cast<int>(g.thread_rank());
    out[3 * i + 2] = g.shfl(v, 0);
  }
}

// out[4i]: tile<16> rank, [4i+1]: meta_group_rank, [4i+2]: tile<16> shfl_down sum, [4i+3]: dynamic tile(8) sum
__global__ void tiles(const int* in, int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  cg::thread_block block = cg::this_thread_block();
  cg::thread_block_tile<16> t16 = cg::tiled_partition<16>(block);
  int sum = in[i];
  for (int off = t16.size() / 2; off > 0; off /= 2) sum += t16.shfl_down(sum, off);
  cg::thread_group t8 = cg::tiled_partition(block, 8);
  int a = in[i];
  // thread_group has no shfl: sum through shared memory within the dynamic tile.
  __shared__ int scratch[kThreads];
  scratch[threadIdx.x] = a;
  t8.sync();
  int tile_sum = 0;
  const int base = threadIdx.x - static_cast<int>(t8.thread_rank());
  for (int k = 0; k < static_cast<int>(t8.size()); ++k) tile_sum += scratch[base + k];
  out[4 * i] = static_cast<int>(t16.thread_rank());
  out[4 * i + 1] = static_cast<int>(t16.meta_group_rank());
  out[4 * i + 2] = t16.thread_rank() == 0 ? sum : -1;
  out[4 * i + 3] = tile_sum;
}

// out[2i]: labeled group size, [2i+1]: rank within it (-1 for lanes outside the branch)
__global__ void labeled(const int* in, int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int v = in[i];
  out[2 * i] = out[2 * i + 1] = -1;
  if (takes_branch(v)) {
    cg::coalesced_group active = cg::coalesced_threads();
    auto g = cg::labeled_partition(active, label_of(v));
    out[2 * i] = static_cast<int>(g.size());
    out[2 * i + 1] = static_cast<int>(g.thread_rank());
  }
}

__global__ void match(const int* in, unsigned* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  auto warp = cg::tiled_partition<32>(cg::this_thread_block());
  out[i] = warp.match_any(label_of(in[i]));
}

// out[4i]: warp sum, [4i+1]: warp min, [4i+2]: warp or, [4i+3]: 8-tile sum
__global__ void reduce(const int* in, int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int v = in[i];
  auto warp = cg::tiled_partition<32>(cg::this_thread_block());
  auto t8 = cg::tiled_partition<8>(cg::this_thread_block());
  out[4 * i] = cg::reduce(warp, v, cg::plus<int>());
  out[4 * i + 1] = cg::reduce(warp, v, cg::less<int>());
  out[4 * i + 2] = static_cast<int>(cg::reduce(warp, static_cast<unsigned>(v), cg::bit_or<unsigned>()));
  out[4 * i + 3] = cg::reduce(t8, v, cg::plus<int>());
}

template <class T>
std::vector<T> run(void (*kernel)(const int*, T*), const int* d_in, int per_thread) {
  T* d_out = nullptr;
  CHECK(cudaMalloc(&d_out, kN * per_thread * sizeof(T)));
  kernel<<<kBlocks, kThreads>>>(d_in, d_out);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<T> out(kN * per_thread);
  CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(T), cudaMemcpyDeviceToHost));
  CHECK(cudaFree(d_out));
  return out;
}

void expect(const char* what, int i, long long got, long long want) {
  if (got != want) example_fail("%s: thread %d got %lld, expected %lld", what, i, got, want);
}

int main() {
  std::vector<int> in(kN);
  ExampleRng rng(5);
  for (int& v : in) v = rng.range(0, 1000);
  int* d_in = nullptr;
  CHECK(cudaMalloc(&d_in, kN * sizeof(int)));
  CHECK(cudaMemcpy(d_in, in.data(), kN * sizeof(int), cudaMemcpyHostToDevice));

  auto warp_of = [](int i) { return i / 32 * 32; };
  {
    auto out = run(coalesced, d_in, 3);
    for (int i = 0; i < kN; ++i) {
      if (!takes_branch(in[i])) {
        expect("coalesced_threads (outside the branch)", i, out[3 * i], -1);
        continue;
      }
      int size = 0, rank = 0, leader = -1;
      for (int j = warp_of(i); j < warp_of(i) + 32; ++j) {
        if (!takes_branch(in[j])) continue;
        if (leader < 0) leader = in[j];
        if (j < i) ++rank;
        ++size;
      }
      expect("coalesced_threads size", i, out[3 * i], size);
      expect("coalesced_threads thread_rank", i, out[3 * i + 1], rank);
      expect("coalesced_threads shfl", i, out[3 * i + 2], leader);
    }
  }
  {
    auto out = run(tiles, d_in, 4);
    for (int i = 0; i < kN; ++i) {
      const int t = i % kThreads;
      expect("tiled_partition<16> thread_rank", i, out[4 * i], t % 16);
      expect("tiled_partition<16> meta_group_rank", i, out[4 * i + 1], t / 16);
      if (t % 16 == 0) {
        int sum = 0;
        for (int k = 0; k < 16; ++k) sum += in[i + k];
        expect("tiled_partition<16> shfl_down sum", i, out[4 * i + 2], sum);
      }
      int sum8 = 0;
      for (int k = i / 8 * 8; k < i / 8 * 8 + 8; ++k) sum8 += in[k];
      expect("tiled_partition(block, 8) sum", i, out[4 * i + 3], sum8);
    }
  }
  {
    auto out = run(labeled, d_in, 2);
    for (int i = 0; i < kN; ++i) {
      if (!takes_branch(in[i])) {
        expect("labeled_partition (outside the branch)", i, out[2 * i], -1);
        continue;
      }
      int size = 0, rank = 0;
      for (int j = warp_of(i); j < warp_of(i) + 32; ++j) {
        if (!takes_branch(in[j]) || label_of(in[j]) != label_of(in[i])) continue;
        if (j < i) ++rank;
        ++size;
      }
      expect("labeled_partition size", i, out[2 * i], size);
      expect("labeled_partition thread_rank", i, out[2 * i + 1], rank);
    }
  }
  {
    auto out = run(match, d_in, 1);
    for (int i = 0; i < kN; ++i) {
      unsigned mask = 0;
      for (int j = warp_of(i); j < warp_of(i) + 32; ++j)
        if (label_of(in[j]) == label_of(in[i])) mask |= 1u << (j % 32);
      expect("match_any", i, out[i], mask);
    }
  }
  {
    auto out = run(reduce, d_in, 4);
    for (int i = 0; i < kN; ++i) {
      int sum = 0, mn = in[warp_of(i)], sum8 = 0;
      unsigned bits = 0;
      for (int j = warp_of(i); j < warp_of(i) + 32; ++j) {
        sum += in[j];
        mn = in[j] < mn ? in[j] : mn;
        bits |= static_cast<unsigned>(in[j]);
      }
      for (int j = i / 8 * 8; j < i / 8 * 8 + 8; ++j) sum8 += in[j];
      expect("reduce plus", i, out[4 * i], sum);
      expect("reduce less", i, out[4 * i + 1], mn);
      expect("reduce bit_or", i, static_cast<unsigned>(out[4 * i + 2]), bits);
      expect("reduce plus over 8-thread tiles", i, out[4 * i + 3], sum8);
    }
  }
  CHECK(cudaFree(d_in));
  return example_pass();
}
