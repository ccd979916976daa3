// unsupported: a program that needs something the emulator does not implement, to show how that
// is reported: a formatted surface store (PTX sust.p, written here as inline assembly; the
// surf*write functions of the CUDA headers use the unformatted sust.b, which the emulator runs).
// On a GPU this program stores 2 * in[i] through the surface and prints FAIL ("expected an
// unsupported-feature error"). On the emulator some CUDA call must fail with an error (never a
// crash and never silently wrong results): the module load (which may happen at the first
// runtime call, since the module's PTX contains the unsupported instruction) or the launch. The
// program then prints PASS, and tests/integration checks that stderr names the instruction that
// is missing, so an unrelated failure does not count.
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

__global__ void double_via_surface(cudaSurfaceObject_t surf, const float* in, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    const float v = 2.0f * in[i];
    asm volatile("sust.p.1d.b32.trap [%0, {%1}], {%2};" ::"l"(surf), "r"(i * 4), "f"(v) : "memory");
  }
}

int main() {
  const int n = 1024;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  float* d_in = nullptr;
  EXPECT_SOME_ERROR(cudaMalloc(&d_in, n * sizeof(float)));
  EXPECT_SOME_ERROR(cudaMemcpy(d_in, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  const cudaChannelFormatDesc fd = cudaCreateChannelDesc<float>();
  cudaArray_t arr = nullptr;
  EXPECT_SOME_ERROR(cudaMallocArray(&arr, &fd, n, 0, cudaArraySurfaceLoadStore));
  cudaResourceDesc res{};
  res.resType = cudaResourceTypeArray;
  res.res.array.array = arr;
  cudaSurfaceObject_t surf = 0;
  EXPECT_SOME_ERROR(cudaCreateSurfaceObject(&surf, &res));

  double_via_surface<<<(n + 255) / 256, 256>>>(surf, d_in, n);
  EXPECT_SOME_ERROR(cudaGetLastError());
  EXPECT_SOME_ERROR(cudaDeviceSynchronize());
  std::vector<float> out(n);
  EXPECT_SOME_ERROR(cudaMemcpy2DFromArray(out.data(), n * sizeof(float), arr, 0, 0, n * sizeof(float), 1,
                                          cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i)
    if (out[i] != 2.0f * in[i])
      example_fail("formatted surface stores ran but gave out[%d] = %g instead of %g (wrong results instead of an error)",
                   i, out[i], 2.0f * in[i]);
  example_fail("expected an unsupported-feature error, but the formatted surface store (sust.p) worked");
}
