// cdp_quicksort: quicksort with device-side recursion (CUDA 12 CDP2), in the manner of
// cuda-samples' cdpSimpleQuicksort. One thread partitions a range around its middle value and
// launches one child grid per side: the left side into cudaStreamFireAndForget, the right side
// into a stream it creates with cudaStreamCreateWithFlags(cudaStreamNonBlocking) and destroys
// right away (work already launched into it still runs). Small ranges and ranges at the depth
// limit are selection-sorted in place.
//
// The root grid also makes a tail launch (cudaStreamTailLaunch) of a checker: a tail launch
// starts only after the launching grid and all the work it launched have completed, so the
// checker must see the whole array sorted. The host compares the result with std::sort.
//
// Build: nvcc -rdc=true -o cdp_quicksort cdp_quicksort.cu -lcudadevrt
// Run:   LD_LIBRARY_PATH=build/emulator ./cdp_quicksort
#include "check.h"

#include <algorithm>
#include <vector>

constexpr int kMaxDepth = 16;
constexpr int kSelectionSortBelow = 32;

__device__ void selection_sort(unsigned* data, int left, int right) {
  for (int i = left; i <= right; ++i) {
    unsigned min_val = data[i];
    int min_idx = i;
    for (int j = i + 1; j <= right; ++j)
      if (data[j] < min_val) {
        min_idx = j;
        min_val = data[j];
      }
    if (min_idx != i) {
      data[min_idx] = data[i];
      data[i] = min_val;
    }
  }
}

__global__ void quicksort(unsigned* data, int left, int right, int depth, int* launches) {
  if (depth >= kMaxDepth || right - left < kSelectionSortBelow) {
    selection_sort(data, left, right);
    return;
  }
  unsigned* lptr = data + left;
  unsigned* rptr = data + right;
  const unsigned pivot = data[(left + right) / 2];
  while (lptr <= rptr) {
    unsigned lval = *lptr, rval = *rptr;
    while (lval < pivot) lval = *++lptr;
    while (rval > pivot) rval = *--rptr;
    if (lptr <= rptr) {
      *lptr++ = rval;
      *rptr-- = lval;
    }
  }
  const int nright = static_cast<int>(rptr - data);
  const int nleft = static_cast<int>(lptr - data);
  if (left < nright) {
    quicksort<<<1, 1, 0, cudaStreamFireAndForget>>>(data, left, nright, depth + 1, launches);
    if (cudaGetLastError() == cudaSuccess) atomicAdd(launches, 1);
  }
  if (nleft < right) {
    cudaStream_t s;
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
      atomicAdd(launches, 1 << 20);  // reported as a failure by the host
      return;
    }
    quicksort<<<1, 1, 0, s>>>(data, nleft, right, depth + 1, launches);
    if (cudaGetLastError() == cudaSuccess) atomicAdd(launches, 1);
    if (cudaStreamDestroy(s) != cudaSuccess) atomicAdd(launches, 1 << 20);
  }
}

__global__ void check_sorted(const unsigned* data, int n, int* unsorted) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i + 1 < n; i += blockDim.x * gridDim.x)
    if (data[i] > data[i + 1]) atomicAdd(unsorted, 1);
}

__global__ void sort_root(unsigned* data, int n, int* launches, int* unsorted) {
  quicksort<<<1, 1, 0, cudaStreamFireAndForget>>>(data, 0, n - 1, 1, launches);
  check_sorted<<<4, 64, 0, cudaStreamTailLaunch>>>(data, n, unsorted);
}

int main() {
  const int n = 3000;
  std::vector<unsigned> h(n);
  unsigned x = 12345;
  for (auto& v : h) {
    x = x * 1103515245u + 12345u;
    v = (x >> 8) % 5000;  // duplicates included
  }
  unsigned* d;
  int* d_counts;
  CHECK(cudaMalloc(&d, n * sizeof(unsigned)));
  CHECK(cudaMalloc(&d_counts, 2 * sizeof(int)));
  CHECK(cudaMemset(d_counts, 0, 2 * sizeof(int)));
  CHECK(cudaMemcpy(d, h.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice));
  sort_root<<<1, 1>>>(d, n, d_counts, d_counts + 1);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<unsigned> out(n);
  int counts[2];
  CHECK(cudaMemcpy(out.data(), d, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(counts, d_counts, sizeof counts, cudaMemcpyDeviceToHost));
  std::sort(h.begin(), h.end());
  for (int i = 0; i < n; ++i)
    if (out[i] != h[i]) example_fail("element %d is %u, expected %u", i, out[i], h[i]);
  if (counts[0] <= 2 || counts[0] >= (1 << 20))
    example_fail("%d child launches (or a stream call failed): expected a recursion", counts[0]);
  if (counts[1] != 0) example_fail("the tail-launched checker ran before the sort finished (%d unsorted pairs)", counts[1]);
  std::printf("sorted %d keys with %d device-side launches\n", n, counts[0]);
  std::printf("PASS\n");
  return 0;
}
