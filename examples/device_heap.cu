// device_heap: malloc/free and new/delete in kernels, on the heap whose size the program sets
// with cudaDeviceSetLimit(cudaLimitMallocHeapSize) before its first kernel:
//   1. every thread mallocs a buffer, fills it, reads it back and frees it (several rounds, so
//      freed memory must be reused);
//   2. new/delete of objects with a constructor, kept alive across two kernels;
//   3. exhaustion: a request larger than the heap returns NULL, and the heap still works after;
//      once every block is freed, one request for the heap less 16 KiB succeeds (freed blocks merge).
//
// Build: nvcc -o device_heap device_heap.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./device_heap [--default-heap]
#include "check.h"

#include <cstring>
#include <vector>

__global__ void per_thread_buffers(int* failures, int words) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  int* p = static_cast<int*>(malloc(words * sizeof(int)));
  if (p == nullptr) {
    atomicAdd(failures, 1000);
    return;
  }
  if (reinterpret_cast<unsigned long long>(p) % 16 != 0) atomicAdd(failures, 100000);
  for (int i = 0; i < words; ++i) p[i] = t * 7 + i;
  __syncthreads();  // every thread's buffer is live at once
  for (int i = 0; i < words; ++i)
    if (p[i] != t * 7 + i) atomicAdd(failures, 1);
  free(p);
}

struct Node {
  int key;
  long payload;
  __device__ Node(int k) : key(k), payload(static_cast<long>(k) * k) {}
};

__global__ void make_nodes(Node** slots, int n) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < n) slots[t] = new Node(t + 3);
}

__global__ void check_and_delete(Node** slots, int n, int* failures) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= n) return;
  Node* p = slots[t];
  if (p == nullptr || p->key != t + 3 || p->payload != static_cast<long>(t + 3) * (t + 3)) atomicAdd(failures, 1);
  delete p;
}

__global__ void too_big(unsigned long long bytes, unsigned long long* result) {
  void* p = malloc(bytes);
  result[0] = reinterpret_cast<unsigned long long>(p);
  void* q = malloc(64);  // the heap still serves small requests
  result[1] = reinterpret_cast<unsigned long long>(q);
  free(q);
  free(p);  // free(NULL) does nothing
  // Everything the earlier kernels allocated is free again: the freed pieces must have merged
  // back into one range that holds all of the heap but 16 KiB (bytes is twice the heap).
  void* big = malloc(bytes / 2 - 16384);
  result[2] = reinterpret_cast<unsigned long long>(big);
  free(big);
}

int main(int argc, char** argv) {
  // --default-heap: leave the heap limit alone and rely on the 8 MiB default (for drivers that
  // do not offer cudaDeviceSetLimit).
  const bool set_limit = !(argc > 1 && std::strcmp(argv[1], "--default-heap") == 0);
  const size_t heap = set_limit ? 4u << 20 : 8u << 20;
  if (set_limit) {
    CHECK(cudaDeviceSetLimit(cudaLimitMallocHeapSize, heap));
    size_t got = 0;
    CHECK(cudaDeviceGetLimit(&got, cudaLimitMallocHeapSize));
    if (got < heap) example_fail("heap limit reads back as %zu, set %zu", got, heap);
  }

  int* d_fail = nullptr;
  CHECK(cudaMalloc(&d_fail, sizeof(int)));
  CHECK(cudaMemset(d_fail, 0, sizeof(int)));
  // 1. 4 blocks x 128 threads x 1 KiB = 512 KiB live at once, 8 rounds = 4 MiB allocated in total,
  //    which fits only if freed memory is reused.
  for (int round = 0; round < 8; ++round) per_thread_buffers<<<4, 128>>>(d_fail, 256);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  int failures = 0;
  CHECK(cudaMemcpy(&failures, d_fail, sizeof(int), cudaMemcpyDeviceToHost));
  if (failures) example_fail("per-thread buffers: failure code %d", failures);
  std::printf("per-thread malloc/free: ok\n");

  // 2. new in one kernel, check + delete in the next.
  const int n = 300;
  Node** d_slots = nullptr;
  CHECK(cudaMalloc(&d_slots, n * sizeof(Node*)));
  make_nodes<<<3, 128>>>(d_slots, n);
  check_and_delete<<<3, 128>>>(d_slots, n, d_fail);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpy(&failures, d_fail, sizeof(int), cudaMemcpyDeviceToHost));
  if (failures) example_fail("new/delete: %d objects were wrong", failures);
  std::printf("new/delete: ok\n");

  // 3. exhaustion returns NULL.
  unsigned long long* d_res = nullptr;
  CHECK(cudaMalloc(&d_res, 3 * sizeof(unsigned long long)));
  too_big<<<1, 1>>>(2 * heap, d_res);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  unsigned long long res[3];
  CHECK(cudaMemcpy(res, d_res, sizeof res, cudaMemcpyDeviceToHost));
  if (res[0] != 0) example_fail("malloc of twice the heap returned %llx, expected NULL", res[0]);
  if (res[1] == 0) example_fail("malloc(64) after a refused request returned NULL");
  if (res[2] == 0) example_fail("malloc of the heap less 16 KiB returned NULL once everything was freed");
  std::printf("exhaustion returns NULL: ok\n");

  // The heap size cannot change once a kernel has used the heap.
  if (set_limit) EXPECT_ERR(cudaDeviceSetLimit(cudaLimitMallocHeapSize, 2 * heap), cudaErrorInvalidValue);
  CHECK(cudaFree(d_res));
  CHECK(cudaFree(d_slots));
  CHECK(cudaFree(d_fail));
  std::printf("PASS\n");
  return 0;
}
