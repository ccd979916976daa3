// bitonic_sort: a shared-memory bitonic sort of 2048 ints by one block of 512 threads (each
// thread handles two elements per step), as the sortingNetworks sample does. The launch uses
// a 512-thread block, which the emulator once refused for lack of registers.
//
// Build: nvcc -o bitonic_sort bitonic_sort.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./bitonic_sort
#include "check.h"

#include <algorithm>
#include <vector>

constexpr int kN = 2048;
constexpr int kThreads = kN / 4;  // 512: each thread compares two pairs per step

__device__ inline void compare_swap(int& a, int& b, bool ascending) {
  if ((a > b) == ascending) {
    const int t = a;
    a = b;
    b = t;
  }
}

// Sorts each 2048-int segment of `data` ascending (dir = 1) or descending (dir = 0).
__global__ void bitonic_sort_shared(int* data, int dir) {
  __shared__ int s[kN];
  int* seg = data + blockIdx.x * kN;
  for (int i = threadIdx.x; i < kN; i += blockDim.x) s[i] = seg[i];
  for (int size = 2; size <= kN; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      __syncthreads();
      for (int pair = threadIdx.x; pair < kN / 2; pair += blockDim.x) {
        const int pos = 2 * pair - (pair & (stride - 1));
        const bool ascending = ((pos & size) == 0) == (dir != 0);
        compare_swap(s[pos], s[pos + stride], ascending);
      }
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kN; i += blockDim.x) seg[i] = s[i];
}

int main() {
  const int segments = 2;
  std::vector<int> host(segments * kN);
  ExampleRng rng(2048);
  for (int& v : host) v = rng.range(-100000, 100000);
  int* d = nullptr;
  CHECK(cudaMalloc(&d, host.size() * sizeof(int)));
  for (int dir : {1, 0}) {
    CHECK(cudaMemcpy(d, host.data(), host.size() * sizeof(int), cudaMemcpyHostToDevice));
    bitonic_sort_shared<<<segments, kThreads>>>(d, dir);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<int> got(host.size());
    CHECK(cudaMemcpy(got.data(), d, got.size() * sizeof(int), cudaMemcpyDeviceToHost));
    for (int sgm = 0; sgm < segments; ++sgm) {
      std::vector<int> want(host.begin() + sgm * kN, host.begin() + (sgm + 1) * kN);
      if (dir) std::sort(want.begin(), want.end());
      else std::sort(want.begin(), want.end(), [](int a, int b) { return a > b; });
      for (int i = 0; i < kN; ++i)
        if (got[sgm * kN + i] != want[i])
          example_fail("%s sort, segment %d: element %d is %d, expected %d", dir ? "ascending" : "descending",
                       sgm, i, got[sgm * kN + i], want[i]);
    }
  }
  CHECK(cudaFree(d));
  return example_pass();
}
