// managed_var: a __managed__ variable between two __device__ globals, as programs that keep a
// counter or a flag in managed memory use it. cudart finds the variable with
// cuLibraryGetManaged; the host reads and writes it in place, a kernel updates it, and the
// globals beside it (on the same page of device memory, on most layouts) keep the values the
// kernel wrote when the host writes the variable.
//
// Build: nvcc -o managed_var managed_var.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./managed_var
#include <cstdint>

#include "check.h"

__device__ int before_g;
__managed__ int counter = 7;
__device__ int after_g;

__global__ void touch(int add) {
  before_g = 1111;
  after_g = 2222;
  counter += add;
}

__global__ void read_all(int* out) {
  out[0] = before_g;
  out[1] = counter;
  out[2] = after_g;
}

int main() {
  if (counter != 7) example_fail("the initial value on the host is %d, expected 7", counter);
  touch<<<1, 1>>>(5);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  if (counter != 12) example_fail("after the kernel the host sees %d, expected 12", counter);

  void *pb = nullptr, *pc = nullptr, *pa = nullptr;
  CHECK(cudaGetSymbolAddress(&pb, before_g));
  CHECK(cudaGetSymbolAddress(&pc, counter));
  CHECK(cudaGetSymbolAddress(&pa, after_g));
  const auto page = [](void* p) { return reinterpret_cast<uintptr_t>(p) / 4096; };
  std::printf("neighbours on the variable's page: before %s, after %s\n", page(pb) == page(pc) ? "yes" : "no",
              page(pa) == page(pc) ? "yes" : "no");

  counter = 100;  // the host writes the variable only
  int* out = nullptr;
  CHECK(cudaMalloc(&out, 3 * sizeof(int)));
  read_all<<<1, 1>>>(out);
  CHECK(cudaGetLastError());
  int seen[3] = {};
  CHECK(cudaMemcpy(seen, out, sizeof seen, cudaMemcpyDeviceToHost));
  if (seen[0] != 1111 || seen[2] != 2222)
    example_fail("the globals beside the variable were overwritten: %d, %d (expected 1111, 2222)", seen[0], seen[2]);
  if (seen[1] != 100) example_fail("the kernel read the variable as %d, expected the host's 100", seen[1]);
  int b = 0;
  CHECK(cudaMemcpyFromSymbol(&b, before_g, sizeof b));
  if (b != 1111) example_fail("cudaMemcpyFromSymbol(before_g) = %d, expected 1111", b);

  touch<<<1, 1>>>(1);
  CHECK(cudaDeviceSynchronize());
  if (counter != 101) example_fail("after the second kernel the host sees %d, expected 101", counter);
  CHECK(cudaFree(out));
  return example_pass();
}
