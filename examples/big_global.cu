// A kernel whose module holds a 1 GiB __device__ array (issue 13, part 3). Through a gpool
// server with a smaller memory quota, loading the module must fail with an out-of-memory error
// before the driver allocates it (tests/remote/quota_cache.py, mode globals-nvcc); with room it
// runs. Prints "RESULT <cudaError name>" and exits 0 either way (the test judges the result).
#include <cstdio>

__device__ char big[1u << 30];

__global__ void touch(int at) {
  if (threadIdx.x == 0) big[at] = 1;
}

int main() {
  touch<<<1, 32>>>(12345);
  // Modules load lazily (as the CUDA 13 driver does by default): a refused load is the launch's
  // own error, not a sticky one that a later synchronisation would return.
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  std::printf("RESULT %s\n", cudaGetErrorName(e));
  return 0;
}
