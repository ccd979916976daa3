// cooperative: a grid-wide barrier. Demonstrates cooperative groups (this_grid().sync()) launched
// with cudaLaunchCooperativeKernel, sized from cudaDevAttrCooperativeLaunch,
// cudaOccupancyMaxActiveBlocksPerMultiprocessor and the SM count so every block is resident.
// Phase 2 of the kernel reads values other blocks wrote in phase 1, which is only correct if the
// barrier really waits for the whole grid.
//
// Build: nvcc -o cooperative cooperative.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./cooperative
#include "check.h"

#include <cooperative_groups.h>

#include <vector>

namespace cg = cooperative_groups;

__global__ void two_phases(int* a, int* b, int n) {
  cg::grid_group grid = cg::this_grid();
  const int stride = static_cast<int>(grid.size());
  for (int i = static_cast<int>(grid.thread_rank()); i < n; i += stride) a[i] = i * 3 + 1;
  grid.sync();
  // Each element depends on an element written by a different block.
  for (int i = static_cast<int>(grid.thread_rank()); i < n; i += stride) b[i] = a[n - 1 - i] - a[(i + 1) % n];
  grid.sync();
  for (int i = static_cast<int>(grid.thread_rank()); i < n; i += stride) a[i] = b[i] * 2;
}

int main() {
  int supported = 0, sms = 0;
  CHECK(cudaDeviceGetAttribute(&supported, cudaDevAttrCooperativeLaunch, 0));
  if (!supported) example_fail("the device does not report cooperative launch support");
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));

  const int block = 128;
  int per_sm = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, two_phases, block, 0));
  if (per_sm < 1) example_fail("occupancy reports %d blocks per SM", per_sm);
  int grid = per_sm * sms;
  if (grid > 8) grid = 8;  // enough blocks to need a real barrier, few enough to stay quick
  std::printf("cooperative launch of %d blocks (%d per SM x %d SMs allowed)\n", grid, per_sm, sms);

  const int n = 10000;
  int *d_a = nullptr, *d_b = nullptr;
  CHECK(cudaMalloc(&d_a, n * sizeof(int)));
  CHECK(cudaMalloc(&d_b, n * sizeof(int)));
  CHECK(cudaMemset(d_a, 0, n * sizeof(int)));
  int count = n;
  void* args[] = {&d_a, &d_b, &count};
  CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(two_phases), dim3(grid), dim3(block), args, 0, nullptr));
  CHECK(cudaDeviceSynchronize());

  std::vector<int> a(n);
  CHECK(cudaMemcpy(a.data(), d_a, n * sizeof(int), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    const int want = 2 * (((n - 1 - i) * 3 + 1) - (((i + 1) % n) * 3 + 1));
    if (a[i] != want) example_fail("a[%d] = %d, expected %d", i, a[i], want);
  }
  CHECK(cudaFree(d_a));
  CHECK(cudaFree(d_b));
  return example_pass();
}
