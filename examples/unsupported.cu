// unsupported: a program that needs something the emulator does not implement, to show how that
// is reported: texture objects (cudaCreateTextureObject -> cuTexObjectCreate) and the PTX texture
// fetch instruction (tex.1d) behind tex1Dfetch. On a GPU this program computes out[i] = 2 * in[i]
// and prints FAIL ("expected an unsupported-feature error"). On the emulator some CUDA call must
// fail with an error (never a crash and never silently wrong results): the texture object
// creation, the module load (which may happen at the first runtime call, since the module's PTX
// contains the unsupported instruction) or the launch. The program then prints PASS, and
// tests/integration checks that stderr names the texture feature that is missing, so an
// unrelated failure does not count.
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

__global__ void double_via_texture(cudaTextureObject_t tex, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 2.0f * tex1Dfetch<float>(tex, i);
}

int main() {
  const int n = 1024;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  float *d_in = nullptr, *d_out = nullptr;
  EXPECT_SOME_ERROR(cudaMalloc(&d_in, n * sizeof(float)));
  EXPECT_SOME_ERROR(cudaMalloc(&d_out, n * sizeof(float)));
  EXPECT_SOME_ERROR(cudaMemcpy(d_in, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));

  cudaResourceDesc res{};
  res.resType = cudaResourceTypeLinear;
  res.res.linear.devPtr = d_in;
  res.res.linear.desc = cudaCreateChannelDesc<float>();
  res.res.linear.sizeInBytes = n * sizeof(float);
  cudaTextureDesc desc{};
  desc.readMode = cudaReadModeElementType;
  cudaTextureObject_t tex = 0;
  EXPECT_SOME_ERROR(cudaCreateTextureObject(&tex, &res, &desc, nullptr));

  double_via_texture<<<(n + 255) / 256, 256>>>(tex, d_out, n);
  EXPECT_SOME_ERROR(cudaGetLastError());
  EXPECT_SOME_ERROR(cudaDeviceSynchronize());
  std::vector<float> out(n);
  EXPECT_SOME_ERROR(cudaMemcpy(out.data(), d_out, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i)
    if (out[i] != 2.0f * in[i])
      example_fail("texture fetches ran but gave out[%d] = %g instead of %g (wrong results instead of an error)",
                   i, out[i], 2.0f * in[i]);
  example_fail("expected an unsupported-feature error, but texture objects and tex1Dfetch worked");
}
