// Part of lazy_loading (see lazy_loading.cu): a kernel whose PTX the gpool emulator refuses
// (`discard.global.L2`, sm_80), in its own translation unit so that it is its own module.
#include <cuda_runtime.h>

__global__ void refused(float* p) {
  asm volatile("discard.global.L2 [%0], 128;" ::"l"(p) : "memory");
  p[threadIdx.x] = 1.0f;
}

// Launches the refused kernel and waits for it; the first error on the way.
cudaError_t launch_refused(float* p) {
  refused<<<1, 32>>>(p);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaDeviceSynchronize();
  return err;
}
