// device_calls: device functions the compiler cannot inline, which the emulator runs with a real
// per-thread call stack:
//   1. recursion: Fibonacci by double recursion, and a recursive walk of a binary tree stored in
//      an array (sum of the keys in a range, visiting only the subtrees that can hold them);
//   2. indirect calls: a table of __device__ function pointers picked per thread, so the lanes of
//      one warp call different functions.
//
// Build: nvcc -o device_calls device_calls.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./device_calls
#include "check.h"

#include <vector>

__device__ int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

// Node i of a complete binary search tree stored breadth first: children 2i+1, 2i+2.
__device__ long range_sum(const int* keys, int n, int node, int lo, int hi) {
  if (node >= n) return 0;
  int k = keys[node];
  long s = (k >= lo && k <= hi) ? k : 0;
  if (lo < k) s += range_sum(keys, n, 2 * node + 1, lo, hi);
  if (hi > k) s += range_sum(keys, n, 2 * node + 2, lo, hi);
  return s;
}

__global__ void fib_kernel(const int* in, int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = fib(in[i]);
}

__global__ void tree_kernel(const int* keys, int n, const int2* ranges, long* out, int m) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < m) out[i] = range_sum(keys, n, 0, ranges[i].x, ranges[i].y);
}

typedef int (*op_t)(int, int);
__device__ int op_add(int a, int b) { return a + b; }
__device__ int op_sub(int a, int b) { return a - b; }
__device__ int op_mul(int a, int b) { return a * b; }
__device__ int op_max(int a, int b) { return a > b ? a : b; }
__device__ op_t d_ops[4] = {op_add, op_sub, op_mul, op_max};

__global__ void fnptr_kernel(const int* a, const int* b, int* out, int n) {
  op_t local_ops[4] = {op_add, op_sub, op_mul, op_max};
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  op_t f = local_ops[(a[i] ^ i) & 3];
  out[i] = f(a[i], b[i]);
}

static int host_fib(int n) { return n < 2 ? n : host_fib(n - 1) + host_fib(n - 2); }

static void tree_build(const std::vector<int>& sorted, std::vector<int>& tree, int node, int lo, int hi) {
  // Fills the complete tree so that an in-order walk yields `sorted`.
  if (node >= static_cast<int>(tree.size())) return;
  (void)lo;
  (void)hi;
}

static int inorder_fill(std::vector<int>& tree, int node, const std::vector<int>& sorted, int next) {
  if (node >= static_cast<int>(tree.size())) return next;
  next = inorder_fill(tree, 2 * node + 1, sorted, next);
  tree[node] = sorted[next++];
  return inorder_fill(tree, 2 * node + 2, sorted, next);
}

int main() {
  // 1a. recursive Fibonacci, a different depth per lane
  {
    const int n = 64;
    std::vector<int> in(n), out(n);
    for (int i = 0; i < n; ++i) in[i] = (i * 7) % 17;
    int *d_in = nullptr, *d_out = nullptr;
    CHECK(cudaMalloc(&d_in, n * sizeof(int)));
    CHECK(cudaMalloc(&d_out, n * sizeof(int)));
    CHECK(cudaMemcpy(d_in, in.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    fib_kernel<<<2, 32>>>(d_in, d_out, n);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaMemcpy(out.data(), d_out, n * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; ++i)
      if (out[i] != host_fib(in[i])) example_fail("fib(%d) = %d, expected %d", in[i], out[i], host_fib(in[i]));
    CHECK(cudaFree(d_in));
    CHECK(cudaFree(d_out));
    std::printf("recursive fibonacci: ok\n");
  }
  // 1b. recursive range query on a binary search tree
  {
    const int n = 1023, m = 96;
    std::vector<int> sorted(n), tree(n);
    for (int i = 0; i < n; ++i) sorted[i] = i * 3 + 1;
    inorder_fill(tree, 0, sorted, 0);
    tree_build(sorted, tree, 0, 0, n);
    std::vector<int2> ranges(m);
    std::vector<long> want(m, 0), out(m);
    for (int i = 0; i < m; ++i) {
      int lo = (i * 97) % (3 * n), hi = lo + (i * 31) % 400;
      ranges[i] = make_int2(lo, hi);
      for (int k : sorted)
        if (k >= lo && k <= hi) want[i] += k;
    }
    int* d_keys = nullptr;
    int2* d_ranges = nullptr;
    long* d_out = nullptr;
    CHECK(cudaMalloc(&d_keys, n * sizeof(int)));
    CHECK(cudaMalloc(&d_ranges, m * sizeof(int2)));
    CHECK(cudaMalloc(&d_out, m * sizeof(long)));
    CHECK(cudaMemcpy(d_keys, tree.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(d_ranges, ranges.data(), m * sizeof(int2), cudaMemcpyHostToDevice));
    tree_kernel<<<3, 32>>>(d_keys, n, d_ranges, d_out, m);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaMemcpy(out.data(), d_out, m * sizeof(long), cudaMemcpyDeviceToHost));
    for (int i = 0; i < m; ++i)
      if (out[i] != want[i])
        example_fail("range_sum [%d,%d] = %ld, expected %ld", ranges[i].x, ranges[i].y, out[i], want[i]);
    CHECK(cudaFree(d_keys));
    CHECK(cudaFree(d_ranges));
    CHECK(cudaFree(d_out));
    std::printf("recursive tree walk: ok\n");
  }
  // 2. function-pointer table, divergent targets within a warp
  {
    const int n = 100;
    std::vector<int> a(n), b(n), out(n);
    for (int i = 0; i < n; ++i) {
      a[i] = i * 5 - 40;
      b[i] = 17 - i;
    }
    int *d_a = nullptr, *d_b = nullptr, *d_out = nullptr;
    CHECK(cudaMalloc(&d_a, n * sizeof(int)));
    CHECK(cudaMalloc(&d_b, n * sizeof(int)));
    CHECK(cudaMalloc(&d_out, n * sizeof(int)));
    CHECK(cudaMemcpy(d_a, a.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(d_b, b.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    fnptr_kernel<<<2, 64>>>(d_a, d_b, d_out, n);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaMemcpy(out.data(), d_out, n * sizeof(int), cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; ++i) {
      int x = a[i], y = b[i], want = 0;
      switch ((x ^ i) & 3) {
        case 0: want = x + y; break;
        case 1: want = x - y; break;
        case 2: want = x * y; break;
        default: want = x > y ? x : y; break;
      }
      if (out[i] != want) example_fail("op %d(%d, %d) = %d, expected %d", (x ^ i) & 3, x, y, out[i], want);
    }
    CHECK(cudaFree(d_a));
    CHECK(cudaFree(d_b));
    CHECK(cudaFree(d_out));
    std::printf("function-pointer table: ok\n");
  }
  std::printf("PASS\n");
  return 0;
}
