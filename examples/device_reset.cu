// device_reset: recovering from a device fault with cudaDeviceReset. A kernel writes through a
// wild pointer, so the context's error is sticky (see fault.cu); cudaDeviceReset destroys the
// context, frees its memory and clears the error, and the program goes on: it allocates again,
// runs a kernel and checks its result. It also checks that the memory held before the fault was
// given back (cudaMemGetInfo's free bytes return to where they were before the allocation).
//
// With `--pause` it prints "HELD <bytes>" before the fault and "RESET" after the reset, each time
// waiting for a line on stdin, so a test runner can look at the server's status in between
// (tests/remote/run_remote.py --mode reset).
//
// Build: nvcc -o device_reset device_reset.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./device_reset
#include "check.h"

#include <cstdint>
#include <cstring>

__global__ void fill(int* p, int value, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = value + i;
}

static void pause_for_runner(bool pause, const char* line) {
  if (!pause) return;
  std::printf("%s\n", line);
  std::fflush(stdout);
  char buf[16];
  if (std::fgets(buf, sizeof buf, stdin) == nullptr) example_fail("stdin closed while waiting after '%s'", line);
}

int main(int argc, char** argv) {
  const bool pause = argc > 1 && std::strcmp(argv[1], "--pause") == 0;
  constexpr size_t kHeld = size_t{8} << 20;
  constexpr int kN = 4096;

  CHECK(cudaFree(nullptr));  // the context exists before the first measurement
  size_t free_before = 0, total = 0;
  CHECK(cudaMemGetInfo(&free_before, &total));

  int* held = nullptr;
  CHECK(cudaMalloc(&held, kHeld));
  fill<<<kN / 256, 256>>>(held, 1, kN);
  CHECK(cudaDeviceSynchronize());
  char line[64];
  std::snprintf(line, sizeof line, "HELD %zu", kHeld);
  pause_for_runner(pause, line);

  // One tebibyte past the allocation: far outside anything allocated.
  int* wild = reinterpret_cast<int*>(reinterpret_cast<uintptr_t>(held) + (uintptr_t{1} << 40));
  fill<<<2, 64>>>(wild, 2, 128);
  const cudaError_t at_sync = cudaDeviceSynchronize();
  if (at_sync != cudaErrorIllegalAddress)
    example_fail("cudaDeviceSynchronize after the wild write returned %s, expected cudaErrorIllegalAddress",
                 cudaGetErrorName(at_sync));
  int* more = nullptr;
  EXPECT_ERR(cudaMalloc(&more, 16), cudaErrorIllegalAddress);  // sticky until the reset

  CHECK(cudaDeviceReset());
  (void)cudaGetLastError();  // the runtime's record of the last error is the program's to clear
  pause_for_runner(pause, "RESET");

  // The memory held before the fault came back with the reset.
  size_t free_after = 0;
  CHECK(cudaMemGetInfo(&free_after, &total));
  if (free_after + kHeld / 2 < free_before)
    example_fail("after the reset %zu bytes are free, %zu were before the allocation", free_after, free_before);

  // A fresh context: allocate, launch, copy back, check.
  int* d = nullptr;
  CHECK(cudaMalloc(&d, kN * sizeof(int)));
  fill<<<kN / 256, 256>>>(d, 7, kN);
  CHECK(cudaGetLastError());
  static int h[kN];
  CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  for (int i = 0; i < kN; ++i) {
    if (h[i] != 7 + i) example_fail("after the reset h[%d] = %d, expected %d", i, h[i], 7 + i);
  }
  CHECK(cudaFree(d));
  std::printf("recovered: kernel after cudaDeviceReset gave the right result\n");
  return example_pass();
}
