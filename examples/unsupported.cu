// unsupported: a program that needs something the emulator does not implement, to show how that
// is reported: the depth-compare operand of PTX tex (written here as inline assembly; CUDA C has
// no intrinsic for it, and the driver API has no way to give a texture object the comparison
// function a depth texture needs, so the emulator refuses the operand; docs/emulator.md).
// On a GPU this program runs the fetch and prints FAIL ("expected an unsupported-feature
// error"). On the emulator some CUDA call must fail with an error (never a crash and never
// silently wrong results): the module load (which may happen at the first runtime call, since
// the module's PTX contains the unsupported operand) or the launch. The program then prints
// PASS, and tests/integration checks that stderr names what is missing, so an unrelated
// failure does not count.
//
// Build: nvcc -o unsupported unsupported.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./unsupported
#include "check.h"

#include <vector>

// Any error is the expected outcome: report where it happened and pass.
#define EXPECT_SOME_ERROR(call)                                                               \
  do {                                                                                        \
    const cudaError_t err_ = (call);                                                          \
    if (err_ != cudaSuccess) {                                                                \
      std::printf("%s failed as expected: %s (%s)\n", #call, cudaGetErrorName(err_),           \
                  cudaGetErrorString(err_));                                                  \
      return example_pass();                                                                  \
    }                                                                                         \
  } while (0)

__global__ void compare_depth(cudaTextureObject_t tex, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    float v[4];
    asm volatile("tex.2d.v4.f32.f32 {%0, %1, %2, %3}, [%4, {%5, %6}], %7;"
                 : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
                 : "l"(tex), "f"(i + 0.5f), "f"(0.5f), "f"(0.5f));
    out[i] = v[0];
  }
}

int main() {
  const int n = 256;
  float* d_out = nullptr;
  EXPECT_SOME_ERROR(cudaMalloc(&d_out, n * sizeof(float)));
  const cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
  cudaArray_t arr = nullptr;
  EXPECT_SOME_ERROR(cudaMallocArray(&arr, &fd, n, 1));
  std::vector<float> depth(n);
  for (int i = 0; i < n; ++i) depth[i] = static_cast<float>(i) / n;
  EXPECT_SOME_ERROR(cudaMemcpy2DToArray(arr, 0, 0, depth.data(), n * sizeof(float), n * sizeof(float), 1,
                                        cudaMemcpyHostToDevice));
  cudaResourceDesc res{};
  res.resType = cudaResourceTypeArray;
  res.res.array.array = arr;
  cudaTextureDesc td{};
  td.readMode = cudaReadModeElementType;
  cudaTextureObject_t tex = 0;
  EXPECT_SOME_ERROR(cudaCreateTextureObject(&tex, &res, &td, nullptr));

  compare_depth<<<1, n>>>(tex, d_out, n);
  EXPECT_SOME_ERROR(cudaGetLastError());
  EXPECT_SOME_ERROR(cudaDeviceSynchronize());
  std::vector<float> out(n);
  EXPECT_SOME_ERROR(cudaMemcpy(out.data(), d_out, n * sizeof(float), cudaMemcpyDeviceToHost));
  example_fail("expected an unsupported-feature error, but the depth-compare fetch ran (out[0] = %g)", out[0]);
}
