// device_assert: assert() in device code. Demonstrates that a failed device assertion stops the
// kernel, prints the assertion (file, line, block, thread) and makes the next synchronization
// return cudaErrorAssert, which is sticky like every other device fault.
//
// Build: nvcc -o device_assert device_assert.cu       (no -DNDEBUG: asserts stay in)
// Run:   LD_LIBRARY_PATH=build/emulator ./device_assert
#undef NDEBUG
#include "check.h"

#include <cassert>

__global__ void check_values(const int* x, int n, int* checked) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    assert(x[i] != 7 && "the value 7 is not allowed");
    atomicAdd(checked, 1);
  }
}

int main() {
  const int n = 256;
  int host[n];
  for (int i = 0; i < n; ++i) host[i] = i % 5;  // never 7
  int *d_x = nullptr, *d_checked = nullptr;
  CHECK(cudaMalloc(&d_x, sizeof(host)));
  CHECK(cudaMalloc(&d_checked, sizeof(int)));
  CHECK(cudaMemcpy(d_x, host, sizeof(host), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(d_checked, 0, sizeof(int)));

  // Every assertion holds: the kernel completes normally.
  check_values<<<2, 128>>>(d_x, n, d_checked);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  int checked = 0;
  CHECK(cudaMemcpy(&checked, d_checked, sizeof(int), cudaMemcpyDeviceToHost));
  if (checked != n) example_fail("%d elements checked, expected %d", checked, n);

  // One 7 at index 200: the assertion fails in block 1, thread 72.
  host[200] = 7;
  CHECK(cudaMemcpy(d_x, host, sizeof(host), cudaMemcpyHostToDevice));
  check_values<<<2, 128>>>(d_x, n, d_checked);
  const cudaError_t at_launch = cudaGetLastError();
  if (at_launch != cudaSuccess && at_launch != cudaErrorAssert)
    example_fail("the launch returned %s", cudaGetErrorName(at_launch));
  const cudaError_t at_sync = cudaDeviceSynchronize();
  if (at_sync != cudaErrorAssert)
    example_fail("cudaDeviceSynchronize returned %s, expected cudaErrorAssert", cudaGetErrorName(at_sync));
  std::printf("got %s: %s\n", cudaGetErrorName(at_sync), cudaGetErrorString(at_sync));
  EXPECT_ERR(cudaDeviceSynchronize(), cudaErrorAssert);
  return example_pass();
}
