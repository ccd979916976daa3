// rdc_link: separate compilation (nvcc -rdc=true) of two translation units that call each
// other's device code: an `extern __device__` function and an `extern __device__` variable
// defined in rdc_link_lib.cu, a `static __device__` helper of the same name in both units (each
// must call its own), and a kernel with 16 KiB of static shared memory (its relocatable cubin
// describes more bytes than it holds: the .nv.shared section occupies none).
//
// Build: nvcc -rdc=true -o rdc_link rdc_link.cu rdc_link_lib.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./rdc_link
#include "check.h"

#include <vector>

extern __device__ int scale_by_table(int x);  // rdc_link_lib.cu
extern __device__ int lib_calls;              // rdc_link_lib.cu

static __device__ int helper(int x) { return x + 1000; }  // rdc_link_lib.cu has its own helper

__global__ void combine(const int* in, int* out, int n) {
  __shared__ int tile[4096];  // 16 KiB
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = i < n ? in[i] : 0;
  __syncthreads();
  if (i < n) out[i] = helper(scale_by_table(tile[threadIdx.x]));
}

int main() {
  const int n = 1000;
  std::vector<int> in(n), out(n);
  for (int i = 0; i < n; ++i) in[i] = i;
  int *d_in = nullptr, *d_out = nullptr;
  CHECK(cudaMalloc(&d_in, n * sizeof(int)));
  CHECK(cudaMalloc(&d_out, n * sizeof(int)));
  CHECK(cudaMemcpy(d_in, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  combine<<<(n + 255) / 256, 256>>>(d_in, d_out, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpy(out.data(), d_out, n * sizeof(int), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    // scale_by_table: x * table[x % 4] + helper_lib(x) with table {1,2,3,4}, helper_lib(x) = x * 10
    const int want = (i * (i % 4 + 1) + i * 10) + 1000;
    if (out[i] != want) example_fail("out[%d] = %d, expected %d", i, out[i], want);
  }
  int calls = 0;
  CHECK(cudaMemcpyFromSymbol(&calls, lib_calls, sizeof(calls)));
  if (calls != n) example_fail("lib_calls = %d, expected %d", calls, n);
  CHECK(cudaFree(d_in));
  CHECK(cudaFree(d_out));
  return example_pass();
}
