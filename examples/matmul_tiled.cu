// matmul_tiled: C = A * B with 16x16 tiles staged in shared memory. Demonstrates static
// __shared__ arrays, __syncthreads(), a 2-D grid of 2-D blocks and edge handling for sizes that
// are not multiples of the tile. Inputs are small integers so every product and partial sum is
// exact in float and the device result must equal the CPU result bit for bit.
//
// Build: nvcc -o matmul_tiled matmul_tiled.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./matmul_tiled
#include "check.h"

#include <vector>

constexpr int kTile = 16;

// A is m x k, B is k x n, C is m x n, all row-major.
__global__ void matmul_tiled(const float* a, const float* b, float* c, int m, int k, int n) {
  __shared__ float tile_a[kTile][kTile];
  __shared__ float tile_b[kTile][kTile];

  const int row = blockIdx.y * kTile + threadIdx.y;
  const int col = blockIdx.x * kTile + threadIdx.x;
  float acc = 0.0f;
  for (int t = 0; t < k; t += kTile) {
    const int a_col = t + threadIdx.x;
    const int b_row = t + threadIdx.y;
    tile_a[threadIdx.y][threadIdx.x] = (row < m && a_col < k) ? a[row * k + a_col] : 0.0f;
    tile_b[threadIdx.y][threadIdx.x] = (b_row < k && col < n) ? b[b_row * n + col] : 0.0f;
    __syncthreads();
    for (int i = 0; i < kTile; ++i) acc += tile_a[threadIdx.y][i] * tile_b[i][threadIdx.x];
    __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

int main() {
  const int m = 250, k = 230, n = 210;  // deliberately not multiples of 16
  std::vector<float> a(m * k), b(k * n), c(m * n, -1.0f), want(m * n, 0.0f);
  ExampleRng rng(12345);
  for (float& v : a) v = static_cast<float>(rng.range(-4, 4));
  for (float& v : b) v = static_cast<float>(rng.range(-4, 4));
  for (int r = 0; r < m; ++r)
    for (int i = 0; i < k; ++i)
      for (int col = 0; col < n; ++col) want[r * n + col] += a[r * k + i] * b[i * n + col];

  float *d_a = nullptr, *d_b = nullptr, *d_c = nullptr;
  CHECK(cudaMalloc(&d_a, a.size() * sizeof(float)));
  CHECK(cudaMalloc(&d_b, b.size() * sizeof(float)));
  CHECK(cudaMalloc(&d_c, c.size() * sizeof(float)));
  CHECK(cudaMemcpy(d_a, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(d_b, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(d_c, 0xff, c.size() * sizeof(float)));  // NaNs: unwritten cells show up

  const dim3 block(kTile, kTile);
  const dim3 grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
  matmul_tiled<<<grid, block>>>(d_a, d_b, d_c, m, k, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpy(c.data(), d_c, c.size() * sizeof(float), cudaMemcpyDeviceToHost));

  for (int r = 0; r < m; ++r)
    for (int col = 0; col < n; ++col)
      if (c[r * n + col] != want[r * n + col])
        example_fail("C[%d][%d] = %g, expected %g", r, col, c[r * n + col], want[r * n + col]);

  CHECK(cudaFree(d_a));
  CHECK(cudaFree(d_b));
  CHECK(cudaFree(d_c));
  return example_pass();
}
