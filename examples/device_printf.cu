// device_printf: printf from kernels. Demonstrates the common conversions (%d %i %u %x %X %o
// %lld %llu %llx %f %.3f %e %g %c %s %% and widths/flags), strings from device memory and from
// a kernel argument, and that output is flushed at synchronization points. The output is
// deterministic: each launch has one printing thread (or ordered single-block output) and the
// host synchronizes between launches; tests/integration compares stdout with
// device_printf.expected.
//
// Build: nvcc -o device_printf device_printf.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./device_printf
#include "check.h"

__device__ const char kGreeting[] = "hello from the device";

__global__ void print_values(int id, float f, double d, long long big, const char* label) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  printf("[%d] ints: %d %i %u %x %X %o\n", id, -id * 7, id + 1, 4000000000u, 0xbeefu + id, 0xcafeu, 8);
  printf("[%d] wide: %lld %llu %llx\n", id, big, 18446744073709551615ull, 0x123456789abcdefull);
  printf("[%d] floats: %f %.3f %e %g %g\n", id, f, d, d * 1e10, 0.0001f * id, 1.0 / 3.0);
  printf("[%d] text: %s '%c' %s 100%%\n", id, kGreeting, 'A' + id, label);
  printf("[%d] width: |%5d|%-5d|%05d|%+d|%8.2f|%-8s|\n", id, id, id, id, id, f, "ab");
}

// One line per block, but only block `which` prints, so launches stay ordered.
__global__ void print_from_block(int which) {
  if (blockIdx.x == which && threadIdx.x == blockDim.x - 1)
    printf("block %d of %d, thread %d of %d\n", blockIdx.x, gridDim.x, threadIdx.x, blockDim.x);
}

int main() {
  char* d_label = nullptr;
  const char label[] = "label-in-device-memory";
  CHECK(cudaMalloc(&d_label, sizeof(label)));
  CHECK(cudaMemcpy(d_label, label, sizeof(label), cudaMemcpyHostToDevice));

  for (int id = 0; id < 3; ++id) {
    std::printf("host: launch %d\n", id);
    std::fflush(stdout);
    print_values<<<2, 32>>>(id, 1.5f * id + 0.25f, -2.0 / (id + 1), -1234567890123ll * (id + 1), d_label);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
  }
  for (int block = 0; block < 3; ++block) {
    print_from_block<<<3, 64>>>(block);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
  }
  std::fflush(stdout);
  CHECK(cudaFree(d_label));
  return example_pass();
}
