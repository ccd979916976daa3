// unsupported: a program that needs something the emulator does not implement, to show how that
// is reported: texture objects (cudaCreateTextureObject -> cuTexObjectCreate) and the PTX texture
// fetch instruction (tex.1d) behind tex1Dfetch. On a GPU this program computes out[i] = 2 * in[i]
// and prints FAIL ("expected an unsupported-feature error"). On the emulator the texture object
// or the kernel must fail with a CUDA error (never a crash and never silently wrong results);
// the program then prints PASS, and tests/integration checks that stderr names the texture
// feature that is missing.
//
// Build: nvcc -o unsupported unsupported.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./unsupported
#include "check.h"

#include <vector>

__global__ void double_via_texture(cudaTextureObject_t tex, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 2.0f * tex1Dfetch<float>(tex, i);
}

int main() {
  const int n = 1024;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  float *d_in = nullptr, *d_out = nullptr;
  CHECK(cudaMalloc(&d_in, n * sizeof(float)));
  CHECK(cudaMalloc(&d_out, n * sizeof(float)));
  CHECK(cudaMemcpy(d_in, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));

  cudaResourceDesc res{};
  res.resType = cudaResourceTypeLinear;
  res.res.linear.devPtr = d_in;
  res.res.linear.desc = cudaCreateChannelDesc<float>();
  res.res.linear.sizeInBytes = n * sizeof(float);
  cudaTextureDesc desc{};
  desc.readMode = cudaReadModeElementType;
  cudaTextureObject_t tex = 0;
  const cudaError_t created = cudaCreateTextureObject(&tex, &res, &desc, nullptr);
  if (created != cudaSuccess) {
    std::printf("cudaCreateTextureObject failed as expected: %s (%s)\n", cudaGetErrorName(created),
                cudaGetErrorString(created));
    return example_pass();
  }

  double_via_texture<<<(n + 255) / 256, 256>>>(tex, d_out, n);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) {
    std::printf("the texture kernel failed as expected: %s (%s)\n", cudaGetErrorName(err),
                cudaGetErrorString(err));
    return example_pass();
  }
  std::vector<float> out(n);
  CHECK(cudaMemcpy(out.data(), d_out, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i)
    if (out[i] != 2.0f * in[i])
      example_fail("texture fetches ran but gave out[%d] = %g instead of %g (wrong results instead of an error)",
                   i, out[i], 2.0f * in[i]);
  example_fail("expected an unsupported-feature error, but texture objects and tex1Dfetch worked");
}
