// globals: module-scope device variables. Demonstrates a __constant__ array written with
// cudaMemcpyToSymbol, a __device__ variable with a static initializer read back before any
// kernel ran, a __device__ counter updated by atomics and read with cudaMemcpyFromSymbol,
// cudaGetSymbolAddress + cudaGetSymbolSize used with a plain cudaMemcpy, and a __device__
// pointer initialized to the address of another __device__ array (a relocated initializer).
//
// Build: nvcc -o globals globals.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./globals
#include "check.h"

#include <vector>

constexpr int kTable = 64;

__constant__ float coeffs[4];          // c0 + c1 x + c2 x^2 + c3 x^3
__device__ int initialized = 4242;     // from the image's initial data
__device__ unsigned counter;           // zero-initialized
__device__ float table[kTable];        // filled through its symbol address
__device__ float* table_alias = table; // points at table from the start

__global__ void evaluate(const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  y[i] = coeffs[0] + v * (coeffs[1] + v * (coeffs[2] + v * coeffs[3])) + table_alias[i % kTable] +
         static_cast<float>(initialized);
  atomicAdd(&counter, 1u);
}

int main() {
  int init_value = 0;
  CHECK(cudaMemcpyFromSymbol(&init_value, initialized, sizeof(int)));
  if (init_value != 4242) example_fail("__device__ int initialized = %d, expected 4242", init_value);

  const float host_coeffs[4] = {1.0f, -2.0f, 0.5f, 0.25f};
  CHECK(cudaMemcpyToSymbol(coeffs, host_coeffs, sizeof(host_coeffs)));
  const float c_three = 0.125f;  // overwrite coeffs[3] through an offset into the symbol
  CHECK(cudaMemcpyToSymbol(coeffs, &c_three, sizeof(float), 3 * sizeof(float), cudaMemcpyHostToDevice));

  void* table_ptr = nullptr;
  size_t table_size = 0;
  CHECK(cudaGetSymbolAddress(&table_ptr, table));
  CHECK(cudaGetSymbolSize(&table_size, table));
  if (table_size != kTable * sizeof(float))
    example_fail("cudaGetSymbolSize(table) = %zu, expected %zu", table_size, kTable * sizeof(float));
  std::vector<float> host_table(kTable);
  for (int i = 0; i < kTable; ++i) host_table[i] = static_cast<float>(i) * 100.0f;
  CHECK(cudaMemcpy(table_ptr, host_table.data(), table_size, cudaMemcpyHostToDevice));

  float* alias = nullptr;
  CHECK(cudaMemcpyFromSymbol(&alias, table_alias, sizeof(alias)));
  if (alias != table_ptr)
    example_fail("table_alias = %p, expected the address of table %p", static_cast<void*>(alias), table_ptr);

  const int n = 1000;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i % 17) - 8.0f;
  float *d_x = nullptr, *d_y = nullptr;
  CHECK(cudaMalloc(&d_x, n * sizeof(float)));
  CHECK(cudaMalloc(&d_y, n * sizeof(float)));
  CHECK(cudaMemcpy(d_x, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));

  evaluate<<<(n + 127) / 128, 128>>>(d_x, d_y, n);
  CHECK(cudaGetLastError());
  evaluate<<<(n + 127) / 128, 128>>>(d_x, d_y, n);  // counter keeps counting across launches
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpy(y.data(), d_y, n * sizeof(float), cudaMemcpyDeviceToHost));

  unsigned count = 0;
  CHECK(cudaMemcpyFromSymbol(&count, counter, sizeof(count)));
  if (count != 2u * n) example_fail("__device__ counter = %u, expected %d", count, 2 * n);

  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    // Small integers and eighths: every step is exact, so the order of operations is moot.
    const float want = host_coeffs[0] + v * (host_coeffs[1] + v * (host_coeffs[2] + v * c_three)) +
                       host_table[i % kTable] + 4242.0f;
    if (y[i] != want) example_fail("y[%d] = %g, expected %g", i, y[i], want);
  }

  CHECK(cudaFree(d_x));
  CHECK(cudaFree(d_y));
  return example_pass();
}
