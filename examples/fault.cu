// fault: a kernel that writes through a wild pointer. Demonstrates how an asynchronous device
// fault surfaces: the launch itself may succeed, the next synchronization returns
// cudaErrorIllegalAddress, and the error is sticky (the context is unusable: later calls keep
// returning it, even after cudaGetLastError has read it). Prints PASS when it gets exactly that.
//
// Build: nvcc -o fault fault.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./fault
#include "check.h"

#include <cstdint>

__global__ void write_everywhere(int* p, int value) { p[threadIdx.x * 1024] = value; }

int main() {
  int* d_buf = nullptr;
  CHECK(cudaMalloc(&d_buf, 1024 * sizeof(int)));

  // A correct launch first, so the module is loaded and the context works.
  write_everywhere<<<1, 1>>>(d_buf, 1);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  // One tebibyte past a 4 KiB allocation: far outside anything allocated.
  int* wild = reinterpret_cast<int*>(reinterpret_cast<uintptr_t>(d_buf) + (uintptr_t{1} << 40));
  write_everywhere<<<2, 64>>>(wild, 2);
  const cudaError_t at_launch = cudaGetLastError();
  if (at_launch != cudaSuccess && at_launch != cudaErrorIllegalAddress)
    example_fail("the launch returned %s", cudaGetErrorName(at_launch));

  const cudaError_t at_sync = cudaDeviceSynchronize();
  if (at_sync != cudaErrorIllegalAddress)
    example_fail("cudaDeviceSynchronize after the wild write returned %s, expected cudaErrorIllegalAddress",
                 cudaGetErrorName(at_sync));
  std::printf("got %s: %s\n", cudaGetErrorName(at_sync), cudaGetErrorString(at_sync));

  // Sticky: everything that touches the context keeps failing with the same error.
  EXPECT_ERR(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  int* more = nullptr;
  EXPECT_ERR(cudaMalloc(&more, 16), cudaErrorIllegalAddress);
  int host_value = 0;
  EXPECT_ERR(cudaMemcpy(&host_value, d_buf, sizeof(int), cudaMemcpyDeviceToHost), cudaErrorIllegalAddress);
  cudaStream_t stream;
  EXPECT_ERR(cudaStreamCreate(&stream), cudaErrorIllegalAddress);
  write_everywhere<<<1, 1>>>(d_buf, 3);
  EXPECT_ERR(cudaGetLastError(), cudaErrorIllegalAddress);
  // cudaGetLastError resets the runtime's record of the last error, but not the context:
  // the next call that touches the context fails again.
  EXPECT_ERR(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  return example_pass();
}
