// Managed memory (cudaMallocManaged) used the way a program for a device without concurrent
// managed access uses it: the host writes, a kernel runs, cudaDeviceSynchronize, the host
// reads; a second kernel updates part of it; copies to and from plain device memory; a memset.
// Checks every value on the host and prints PASS.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "check.h"

__global__ void scale_add(int* v, int n, int mul, int add) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] = v[i] * mul + add;
}

__global__ void bump_range(int* v, int from, int to) {
  const int i = from + blockIdx.x * blockDim.x + threadIdx.x;
  if (i < to) v[i] += 1000;
}

int main() {
  int managed_ok = 0;
  CHECK(cudaDeviceGetAttribute(&managed_ok, cudaDevAttrManagedMemory, 0));
  if (!managed_ok) example_fail("the device reports no managed memory support");

  // Spans several pages, so the host writes dirty some pages and not others.
  const int n = 10000;
  int* v = nullptr;
  CHECK(cudaMallocManaged(&v, n * sizeof(int)));
  cudaPointerAttributes attrs{};
  CHECK(cudaPointerGetAttributes(&attrs, v));
  if (attrs.type != cudaMemoryTypeManaged) example_fail("pointer type %d, expected managed", attrs.type);

  for (int i = 0; i < n; ++i) v[i] = i;
  scale_add<<<(n + 255) / 256, 256>>>(v, n, 2, 1);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < n; ++i) {
    if (v[i] != 2 * i + 1) example_fail("after the first kernel v[%d] = %d, expected %d", i, v[i], 2 * i + 1);
  }

  // The host changes one element in the middle, then a kernel updates a part of the array.
  v[5000] = -7;
  const int from = 4096, to = 6000;
  bump_range<<<(to - from + 127) / 128, 128>>>(v, from, to);
  CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < n; ++i) {
    int want = i == 5000 ? -7 : 2 * i + 1;
    if (i >= from && i < to) want += 1000;
    if (v[i] != want) example_fail("after the second kernel v[%d] = %d, expected %d", i, v[i], want);
  }

  // Managed -> plain device memory -> back into another managed buffer.
  int* d = nullptr;
  int* w = nullptr;
  CHECK(cudaMalloc(&d, n * sizeof(int)));
  CHECK(cudaMallocManaged(&w, n * sizeof(int)));
  CHECK(cudaMemcpy(d, v, n * sizeof(int), cudaMemcpyDefault));
  scale_add<<<(n + 255) / 256, 256>>>(d, n, 1, 3);
  CHECK(cudaMemcpy(w, d, n * sizeof(int), cudaMemcpyDeviceToDevice));
  std::vector<int> plain(n);
  CHECK(cudaMemcpy(plain.data(), w, n * sizeof(int), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    if (w[i] != v[i] + 3) example_fail("copied back w[%d] = %d, expected %d", i, w[i], v[i] + 3);
    if (plain[i] != w[i]) example_fail("host copy of w[%d] = %d, expected %d", i, plain[i], w[i]);
  }
  // A host buffer copied into managed memory, read on the host right away.
  for (int i = 0; i < n; ++i) plain[i] = -i;
  CHECK(cudaMemcpy(w, plain.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  for (int i = 0; i < n; ++i) {
    if (w[i] != -i) example_fail("after the H2D copy w[%d] = %d, expected %d", i, w[i], -i);
  }

  // Device memory into managed memory named as a host destination (cudaMemcpyDeviceToHost).
  CHECK(cudaMemcpy(w, d, n * sizeof(int), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    if (w[i] != v[i] + 3) example_fail("after the D2H copy w[%d] = %d, expected %d", i, w[i], v[i] + 3);
  }

  // A memset on managed memory, seen by the host after synchronising.
  CHECK(cudaMemset(v, 0x01, 100 * sizeof(int)));
  CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < 100; ++i) {
    if (v[i] != 0x01010101) example_fail("after the memset v[%d] = %#x", i, v[i]);
  }
  if (v[100] != 2 * 100 + 1) example_fail("the memset reached v[100] = %d", v[100]);

  CHECK(cudaFree(w));
  CHECK(cudaFree(d));
  CHECK(cudaFree(v));
  std::puts("PASS");
  return 0;
}
