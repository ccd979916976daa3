// histogram: a 256-bin byte histogram. Demonstrates atomicAdd on shared memory (per-block
// sub-histograms), atomicAdd on global memory (merging them), and an atomicCAS loop that
// implements a float atomic max (CUDA has no native one).
//
// Build: nvcc -o histogram histogram.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./histogram
#include "check.h"

#include <cmath>
#include <vector>

constexpr int kBins = 256;

__global__ void histogram(const unsigned char* data, int n, unsigned* bins) {
  __shared__ unsigned local[kBins];
  for (int b = threadIdx.x; b < kBins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    atomicAdd(&local[data[i]], 1u);
  __syncthreads();
  for (int b = threadIdx.x; b < kBins; b += blockDim.x)
    if (local[b] != 0) atomicAdd(&bins[b], local[b]);
}

// Float max through compare-and-swap on the bit pattern. Returns the previous value.
__device__ float atomic_max_float(float* address, float value) {
  int* bits = reinterpret_cast<int*>(address);
  int old = *bits;
  while (__int_as_float(old) < value) {
    const int assumed = old;
    old = atomicCAS(bits, assumed, __float_as_int(value));
    if (old == assumed) break;
  }
  return __int_as_float(old);
}

__global__ void max_reduce(const float* x, int n, float* result) {
  float best = -INFINITY;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    best = fmaxf(best, x[i]);
  atomic_max_float(result, best);
}

int main() {
  const int n = 1 << 20;
  std::vector<unsigned char> data(n);
  std::vector<float> x(n);
  ExampleRng rng(99);
  for (int i = 0; i < n; ++i) {
    // Skewed so some bins are hot (many colliding shared atomics) and some stay empty.
    const unsigned r = rng.next();
    data[i] = static_cast<unsigned char>((r & 7u) == 0 ? 7u : (r >> 8) % 200u);
    x[i] = rng.uniform(-1000.0f, -1.0f);
  }
  x[n / 3] = 123.25f;  // the single positive value is the maximum

  std::vector<unsigned> want(kBins, 0);
  for (unsigned char v : data) ++want[v];

  unsigned char* d_data = nullptr;
  unsigned* d_bins = nullptr;
  float *d_x = nullptr, *d_max = nullptr;
  CHECK(cudaMalloc(&d_data, n));
  CHECK(cudaMalloc(&d_bins, kBins * sizeof(unsigned)));
  CHECK(cudaMalloc(&d_x, n * sizeof(float)));
  CHECK(cudaMalloc(&d_max, sizeof(float)));
  CHECK(cudaMemcpy(d_data, data.data(), n, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(d_x, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(d_bins, 0, kBins * sizeof(unsigned)));
  const float lowest = -INFINITY;
  CHECK(cudaMemcpy(d_max, &lowest, sizeof(float), cudaMemcpyHostToDevice));

  histogram<<<48, 256>>>(d_data, n, d_bins);
  CHECK(cudaGetLastError());
  max_reduce<<<40, 128>>>(d_x, n, d_max);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  std::vector<unsigned> bins(kBins, 0);
  float max_value = 0.0f;
  CHECK(cudaMemcpy(bins.data(), d_bins, kBins * sizeof(unsigned), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(&max_value, d_max, sizeof(float), cudaMemcpyDeviceToHost));

  unsigned long long counted = 0;
  for (int b = 0; b < kBins; ++b) {
    counted += bins[b];
    if (bins[b] != want[b]) example_fail("bin %d = %u, expected %u", b, bins[b], want[b]);
  }
  if (counted != static_cast<unsigned long long>(n))
    example_fail("bins sum to %llu, expected %d", counted, n);
  if (max_value != 123.25f) example_fail("float atomic max = %g, expected 123.25", max_value);

  CHECK(cudaFree(d_data));
  CHECK(cudaFree(d_bins));
  CHECK(cudaFree(d_x));
  CHECK(cudaFree(d_max));
  return example_pass();
}
