// lazy_loading: device code is loaded when it is first used. This program's image holds a kernel
// the gpool emulator cannot run (lazy_loading_refused.cu, its own translation unit, so its own
// module), which the program uses only at the end. Everything before that must work: the
// runtime loads the ordinary kernel's module on its first launch, and the refused module only
// when launch_refused() runs, which must then fail with an error (never a wrong result); as a real
// GPU would have run that kernel, the refusal also leaves the context unusable, as a launch fault
// does (docs/emulator.md, "Refused code fails loudly"), so the program ends there. With
// eager loading (CUDA_MODULE_LOADING=EAGER) the runtime loads every module at its first call,
// so a backend that refuses one module fails the program right away; that is the difference
// this example shows, directly on the emulator and through a gpool server alike.
//
// Build: nvcc -arch=sm_80 -o lazy_loading lazy_loading.cu lazy_loading_refused.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./lazy_loading
#include "check.h"

cudaError_t launch_refused(float* p);  // lazy_loading_refused.cu

__global__ void scale(float* p, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = 2.0f * static_cast<float>(i);
}

int main() {
  constexpr int kN = 1024;
  float* d = nullptr;
  CHECK(cudaMalloc(&d, kN * sizeof(float)));
  scale<<<kN / 256, 256>>>(d, kN);
  CHECK(cudaGetLastError());
  static float h[kN];
  CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  for (int i = 0; i < kN; ++i) {
    if (h[i] != 2.0f * static_cast<float>(i)) example_fail("h[%d] = %g, expected %g", i, h[i], 2.0 * i);
  }
  std::printf("the ordinary kernel ran while the refused module stayed unloaded\n");

  // Now the refused kernel: its module is loaded here, and the backend refuses it. (If this
  // launch ever succeeds, the emulator learnt the instruction: pick another one for this test.)
  const cudaError_t err = launch_refused(d);
  if (err == cudaSuccess) example_fail("the kernel with the refused instruction launched and ran");
  std::printf("the refused kernel failed at its first use: %s\n", cudaGetErrorName(err));
  // The refusal is the launch's own error, cudaErrorInvalidPtx, directly on the emulator and
  // through a gpool server alike (the shim sends the launch of a kernel the server could not
  // describe, docs/architecture.md "Launches"), and it is sticky: every later call reports it
  // again, so a library that ignored the launch cannot go on to a wrong result.
  if (err != cudaErrorInvalidPtx)
    example_fail("the refused launch returned %s, expected cudaErrorInvalidPtx", cudaGetErrorName(err));
  const cudaError_t again = cudaDeviceSynchronize();
  if (again != err)
    example_fail("after the refused launch cudaDeviceSynchronize returned %s, expected %s again",
                 cudaGetErrorName(again), cudaGetErrorName(err));
  const cudaError_t copy = cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
  if (copy != err)
    example_fail("after the refused launch cudaMemcpy returned %s, expected %s again", cudaGetErrorName(copy),
                 cudaGetErrorName(err));
  std::printf("the context stays unusable: %s\n", cudaGetErrorName(again));
  return example_pass();
}
