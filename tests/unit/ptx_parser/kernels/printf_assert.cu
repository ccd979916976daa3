// Parser round-trip input: device printf (vprintf call, local depot) and assert.
#include <cassert>
#include <cstdio>
__global__ void printfKernel(int x, double y) {
  printf("thread %d x=%d y=%f\n", threadIdx.x, x, y);
}
__global__ void assertKernel(const int* v) {
  assert(v[threadIdx.x] >= 0);
}
