// mem_pools: stream-ordered allocation from a memory pool the program creates, through the
// runtime API. Demonstrates cudaMemPoolCreate, cudaMemPoolSetAttribute/GetAttribute (the reuse
// policy and the release threshold), cudaMallocFromPoolAsync, cudaFreeAsync, cudaDeviceSetMemPool
// with cudaMallocAsync drawing from the pool it set, cudaMemPoolTrimTo and cudaMemPoolDestroy.
//
// Two buffers come from the created pool on one stream: a kernel fills the first, a copy moves
// it into the second, a second kernel adds one; the host checks every element. A loop of
// allocations and frees in stream order then reuses the pool's memory.
//
// Build: nvcc -o mem_pools mem_pools.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./mem_pools
#include <cstdint>
#include <vector>

#include "check.h"

__global__ void iota(int* x, int base, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] = base + i;
}

__global__ void add_one(int* x, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] += 1;
}

int main() {
  const int n = 1 << 18;
  const size_t bytes = n * sizeof(int);

  cudaMemPoolProps props = {};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  cudaMemPool_t pool;
  CHECK(cudaMemPoolCreate(&pool, &props));

  int opportunistic = 0;
  CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolReuseAllowOpportunistic, &opportunistic));
  int back = -1;
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolReuseAllowOpportunistic, &back));
  if (back != 0) example_fail("cudaMemPoolReuseAllowOpportunistic reads %d after setting 0", back);
  uint64_t threshold = 64ull << 20;
  CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  uint64_t threshold_back = 0;
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold_back));
  if (threshold_back != threshold) {
    example_fail("cudaMemPoolAttrReleaseThreshold reads %llu after setting %llu",
                 static_cast<unsigned long long>(threshold_back), static_cast<unsigned long long>(threshold));
  }

  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  int *a = nullptr, *b = nullptr;
  CHECK(cudaMallocFromPoolAsync(reinterpret_cast<void**>(&a), bytes, pool, s));
  CHECK(cudaMallocFromPoolAsync(reinterpret_cast<void**>(&b), bytes, pool, s));
  iota<<<128, 256, 0, s>>>(a, 1000, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s));
  add_one<<<128, 256, 0, s>>>(b, n);
  CHECK(cudaGetLastError());
  std::vector<int> host(n, 0);
  CHECK(cudaMemcpyAsync(host.data(), b, bytes, cudaMemcpyDeviceToHost, s));
  CHECK(cudaFreeAsync(a, s));
  CHECK(cudaFreeAsync(b, s));
  CHECK(cudaStreamSynchronize(s));
  for (int i = 0; i < n; ++i) {
    if (host[i] != 1001 + i) example_fail("element %d is %d, expected %d", i, host[i], 1001 + i);
  }

  // The pool as the device's current pool: cudaMallocAsync draws from it.
  CHECK(cudaDeviceSetMemPool(0, pool));
  cudaMemPool_t current;
  CHECK(cudaDeviceGetMemPool(&current, 0));
  if (current != pool) example_fail("cudaDeviceGetMemPool does not return the pool just set");
  uint64_t used_before = 0, used_after = 0;
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used_before));
  void* c = nullptr;
  CHECK(cudaMallocAsync(&c, bytes, s));
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used_after));
  if (used_after < used_before + bytes) {
    example_fail("cudaMallocAsync of %zu bytes grew the current pool's use from %llu to %llu", bytes,
                 static_cast<unsigned long long>(used_before), static_cast<unsigned long long>(used_after));
  }
  CHECK(cudaFreeAsync(c, s));
  cudaMemPool_t default_pool;
  CHECK(cudaDeviceGetDefaultMemPool(&default_pool, 0));
  CHECK(cudaDeviceSetMemPool(0, default_pool));

  // Allocation and free in stream order, many times: the pool reuses its memory.
  for (int i = 0; i < 64; ++i) {
    int* p = nullptr;
    CHECK(cudaMallocFromPoolAsync(reinterpret_cast<void**>(&p), bytes, pool, s));
    iota<<<32, 256, 0, s>>>(p, i, n);
    CHECK(cudaFreeAsync(p, s));
  }
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaMemPoolTrimTo(pool, 0));
  uint64_t used = 1;
  CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used));
  if (used != 0) example_fail("the pool still counts %llu bytes in use after every free", static_cast<unsigned long long>(used));

  CHECK(cudaStreamDestroy(s));
  CHECK(cudaMemPoolDestroy(pool));
  std::printf("PASS\n");
  return 0;
}
