// warp_aggregated_atomics: warp-aggregated atomic increments with cooperative groups, as the
// warpAggregatedAtomicsCG sample does. Each active thread of a warp (after a data-dependent
// branch) joins coalesced_threads(); the group's rank-0 thread adds the group size to the
// counter once and shares the old value with shfl, so every thread gets its own slot.
// Part 2 splits the coalesced group by bucket with labeled_partition and counts per bucket.
// Blocks of 512 threads, as the sample uses: the sample printed "FAILED" (exit 0) on the
// emulator when such launches were refused for registers and it did not check the error.
//
// Build: nvcc -o warp_aggregated_atomics warp_aggregated_atomics.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./warp_aggregated_atomics
#include "check.h"

#include <cooperative_groups.h>

#include <algorithm>
#include <vector>

namespace cg = cooperative_groups;

__device__ int aggregated_increment(int* counter) {
  cg::coalesced_group active = cg::coalesced_threads();
  int first = 0;
  if (active.thread_rank() == 0) first = atomicAdd(counter, static_cast<int>(active.size()));
  return active.shfl(first, 0) + static_cast<int>(active.thread_rank());
}

// Copies the positive elements of src to dst (in any order), counting them in *count.
__global__ void keep_positive(int* dst, int* count, const int* src, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    if (src[i] > 0) dst[aggregated_increment(count)] = src[i];
}

__device__ int aggregated_increment_in_bucket(int bucket, int* counters) {
  cg::coalesced_group active = cg::coalesced_threads();
  auto same_bucket = cg::labeled_partition(active, bucket);
  int first = 0;
  if (same_bucket.thread_rank() == 0) first = atomicAdd(&counters[bucket], static_cast<int>(same_bucket.size()));
  return same_bucket.shfl(first, 0) + static_cast<int>(same_bucket.thread_rank());
}

// slot[i] = the position of element i within its bucket; elements >= buckets are skipped.
__global__ void map_to_buckets(const int* src, int* slot, int* counters, int n, int buckets) {
  cg::grid_group grid = cg::this_grid();  // the sample strides over the grid this way
  for (int i = static_cast<int>(grid.thread_rank()); i < n; i += static_cast<int>(grid.size())) {
    const int b = src[i];
    if (b < buckets) slot[i] = aggregated_increment_in_bucket(b, counters);
  }
}

int main() {
  const int n = 1 << 14, buckets = 5;
  std::vector<int> src(n);
  ExampleRng rng(42);
  for (int& v : src) v = rng.range(-3, 6);  // both parts see partial warps
  int *d_src = nullptr, *d_dst = nullptr, *d_count = nullptr;
  CHECK(cudaMalloc(&d_src, n * sizeof(int)));
  CHECK(cudaMalloc(&d_dst, n * sizeof(int)));
  CHECK(cudaMalloc(&d_count, buckets * sizeof(int)));
  CHECK(cudaMemcpy(d_src, src.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(d_count, 0, buckets * sizeof(int)));
  CHECK(cudaMemset(d_dst, 0, n * sizeof(int)));

  keep_positive<<<n / 512 + 1, 512>>>(d_dst, d_count, d_src, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  int count = 0;
  CHECK(cudaMemcpy(&count, d_count, sizeof(int), cudaMemcpyDeviceToHost));
  std::vector<int> want;
  for (int v : src)
    if (v > 0) want.push_back(v);
  if (count != static_cast<int>(want.size())) example_fail("filter counted %d positives, expected %zu", count, want.size());
  std::vector<int> got(count);
  CHECK(cudaMemcpy(got.data(), d_dst, count * sizeof(int), cudaMemcpyDeviceToHost));
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  if (got != want) example_fail("the filtered elements differ from the positive inputs");

  // Part 2: per-bucket aggregated counters.
  for (int& v : src) v = rng.range(0, buckets + 1);  // values >= buckets are skipped
  CHECK(cudaMemcpy(d_src, src.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(d_count, 0, buckets * sizeof(int)));
  CHECK(cudaMemset(d_dst, 0xff, n * sizeof(int)));
  map_to_buckets<<<n / 512, 512>>>(d_src, d_dst, d_count, n, buckets);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<int> counters(buckets), slots(n);
  CHECK(cudaMemcpy(counters.data(), d_count, buckets * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(slots.data(), d_dst, n * sizeof(int), cudaMemcpyDeviceToHost));
  for (int b = 0; b < buckets; ++b) {
    std::vector<int> seen;
    for (int i = 0; i < n; ++i)
      if (src[i] == b) seen.push_back(slots[i]);
    if (counters[b] != static_cast<int>(seen.size()))
      example_fail("bucket %d counted %d elements, expected %zu", b, counters[b], seen.size());
    std::sort(seen.begin(), seen.end());
    for (int k = 0; k < static_cast<int>(seen.size()); ++k)
      if (seen[k] != k) example_fail("bucket %d: slots are not 0..%zu (found %d at %d)", b, seen.size() - 1, seen[k], k);
  }
  for (int i = 0; i < n; ++i)
    if (src[i] >= buckets && slots[i] != -1) example_fail("element %d (bucket %d) was given a slot", i, src[i]);
  CHECK(cudaFree(d_src));
  CHECK(cudaFree(d_dst));
  CHECK(cudaFree(d_count));
  return example_pass();
}
