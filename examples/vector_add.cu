// vector_add: the smallest complete CUDA runtime program. Demonstrates device properties
// (cudaGetDeviceProperties), cudaMalloc, cudaMemcpy both ways, a 1-D kernel launch with a
// bounds check (the last block is partial), cudaGetLastError and cudaDeviceSynchronize.
//
// Build: nvcc -o vector_add vector_add.cu          (also built with -cudart shared)
// Run:   LD_LIBRARY_PATH=build/emulator ./vector_add
#include "check.h"

#include <vector>

__global__ void vector_add(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

int main() {
  int device_count = 0;
  CHECK(cudaGetDeviceCount(&device_count));
  if (device_count < 1) example_fail("cudaGetDeviceCount reported %d devices", device_count);

  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s (compute capability %d.%d, %d SMs, %zu MiB)\n", prop.name, prop.major,
              prop.minor, prop.multiProcessorCount, prop.totalGlobalMem >> 20);
  if (prop.name[0] == '\0') example_fail("the device name is empty");

  const int n = (1 << 20) + 123;  // not a multiple of the block size
  std::vector<float> a(n), b(n), c(n, -1.0f);
  for (int i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i) * 0.5f;
    b[i] = static_cast<float>(n - i) * 0.25f;
  }

  float *d_a = nullptr, *d_b = nullptr, *d_c = nullptr;
  const size_t bytes = n * sizeof(float);
  CHECK(cudaMalloc(&d_a, bytes));
  CHECK(cudaMalloc(&d_b, bytes));
  CHECK(cudaMalloc(&d_c, bytes));
  CHECK(cudaMemcpy(d_a, a.data(), bytes, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(d_b, b.data(), bytes, cudaMemcpyHostToDevice));

  const int block = 256;
  const int grid = (n + block - 1) / block;
  vector_add<<<grid, block>>>(d_a, d_b, d_c, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpy(c.data(), d_c, bytes, cudaMemcpyDeviceToHost));

  for (int i = 0; i < n; ++i) {
    const float want = a[i] + b[i];
    if (c[i] != want) example_fail("c[%d] = %g, expected %g", i, c[i], want);
  }

  CHECK(cudaFree(d_a));
  CHECK(cudaFree(d_b));
  CHECK(cudaFree(d_c));
  return example_pass();
}
