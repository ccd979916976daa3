// zero_copy: mapped (zero-copy) host memory, as the cuda-samples simpleZeroCopy uses it.
// cudaHostAlloc(cudaHostAllocMapped) gives host memory the device can use; the kernel reads two
// such buffers and writes a third through the device pointers cudaHostGetDevicePointer gives,
// and after cudaDeviceSynchronize the host reads the sums in place, without a copy.
//
// Build: nvcc -o zero_copy zero_copy.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./zero_copy
#include "check.h"

__global__ void vector_add(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

int main() {
  constexpr int kN = 1 << 16;
  CHECK(cudaSetDeviceFlags(cudaDeviceMapHost));
  int can_map = 0;
  CHECK(cudaDeviceGetAttribute(&can_map, cudaDevAttrCanMapHostMemory, 0));
  if (!can_map) example_fail("the device reports that it cannot map host memory");

  float *a = nullptr, *b = nullptr, *c = nullptr;
  CHECK(cudaHostAlloc(&a, kN * sizeof(float), cudaHostAllocMapped));
  CHECK(cudaHostAlloc(&b, kN * sizeof(float), cudaHostAllocMapped));
  CHECK(cudaHostAlloc(&c, kN * sizeof(float), cudaHostAllocMapped | cudaHostAllocPortable));
  unsigned flags = 0;
  CHECK(cudaHostGetFlags(&flags, c));
  if (!(flags & cudaHostAllocMapped) || !(flags & cudaHostAllocPortable))
    example_fail("cudaHostGetFlags answered %#x, expected mapped and portable", flags);
  for (int i = 0; i < kN; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f * static_cast<float>(i);
    c[i] = -1.0f;
  }
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  CHECK(cudaHostGetDevicePointer(&da, a, 0));
  CHECK(cudaHostGetDevicePointer(&db, b, 0));
  CHECK(cudaHostGetDevicePointer(&dc, c, 0));
  vector_add<<<kN / 256, 256>>>(da, db, dc, kN);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < kN; ++i) {
    const float want = 1.5f * static_cast<float>(i);
    if (c[i] != want) example_fail("c[%d] = %g, expected %g", i, c[i], want);
  }
  CHECK(cudaFreeHost(a));
  CHECK(cudaFreeHost(b));
  CHECK(cudaFreeHost(c));
  return example_pass();
}
