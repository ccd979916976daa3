// shared_cudart: a program linked against the shared CUDA runtime (libcudart.so.13) instead of
// the default static one; both flavours reach the driver through dlopen("libcuda.so.1").
// Demonstrates runtime/driver version queries, cudaMemGetInfo, cudaPointerGetAttributes,
// cudaMallocPitch + cudaMemcpy2D, cudaMemset and a 2-D grid of 2-D blocks.
//
// Build: nvcc -cudart shared -o shared_cudart shared_cudart.cu
// Run:   LD_LIBRARY_PATH=build/emulator:$CUDA_HOME/lib64 ./shared_cudart
#include "check.h"

#include <vector>

// img is rows x cols floats with `pitch` bytes per row. Adds row * 1000 + col to every cell.
__global__ void add_coordinates(float* img, size_t pitch, int rows, int cols) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row < rows && col < cols) {
    float* line = reinterpret_cast<float*>(reinterpret_cast<char*>(img) + row * pitch);
    line[col] += static_cast<float>(row * 1000 + col);
  }
}

int main() {
  int runtime_version = 0, driver_version = 0;
  CHECK(cudaRuntimeGetVersion(&runtime_version));
  CHECK(cudaDriverGetVersion(&driver_version));
  std::printf("runtime %d, driver %d\n", runtime_version, driver_version);
  if (driver_version < runtime_version)
    example_fail("driver version %d is older than the runtime %d", driver_version, runtime_version);

  size_t free_bytes = 0, total_bytes = 0;
  CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (total_bytes == 0 || free_bytes > total_bytes)
    example_fail("cudaMemGetInfo: free %zu, total %zu", free_bytes, total_bytes);

  const int rows = 100, cols = 300;
  float* d_img = nullptr;
  size_t pitch = 0;
  CHECK(cudaMallocPitch(&d_img, &pitch, cols * sizeof(float), rows));
  if (pitch < cols * sizeof(float)) example_fail("pitch %zu is smaller than a row", pitch);

  cudaPointerAttributes attr{};
  CHECK(cudaPointerGetAttributes(&attr, d_img));
  if (attr.type != cudaMemoryTypeDevice || attr.devicePointer != d_img)
    example_fail("cudaPointerGetAttributes: type %d, devicePointer %p", static_cast<int>(attr.type),
                 attr.devicePointer);

  // Zero everything (padding included), then copy a 0.5-filled image in row by row.
  CHECK(cudaMemset(d_img, 0, pitch * rows));
  std::vector<float> host(rows * cols, 0.5f);
  CHECK(cudaMemcpy2D(d_img, pitch, host.data(), cols * sizeof(float), cols * sizeof(float), rows,
                     cudaMemcpyHostToDevice));

  const dim3 block(32, 8);
  const dim3 grid((cols + block.x - 1) / block.x, (rows + block.y - 1) / block.y);
  add_coordinates<<<grid, block>>>(d_img, pitch, rows, cols);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  CHECK(cudaMemcpy2D(host.data(), cols * sizeof(float), d_img, pitch, cols * sizeof(float), rows,
                     cudaMemcpyDeviceToHost));
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float want = 0.5f + static_cast<float>(r * 1000 + c);
      if (host[r * cols + c] != want) example_fail("img[%d][%d] = %g, expected %g", r, c, host[r * cols + c], want);
    }

  CHECK(cudaFree(d_img));
  return example_pass();
}
