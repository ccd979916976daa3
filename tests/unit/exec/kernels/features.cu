// Test kernels for the executor, compiled to PTX by nvcc at build time
// (tests/unit/exec/CMakeLists.txt); nvcc_kernels_test.cc runs them.
#include <cstdio>
#include <cassert>
__device__ __noinline__ int twice_plus(int a, int b) { return 2 * a + b; }
extern "C" __global__ void calls(int* out) { int t = threadIdx.x; out[t] = twice_plus(t, 5); }
extern "C" __global__ void diverge(int* out) {
  int t = threadIdx.x; int acc = 0;
  if (t & 1) { for (int i = 0; i < t; ++i) acc += i; } else { acc = -t; }
  if (t == 31) return;
  out[t] = acc;
}
extern "C" __global__ void reduce_shared(const int* in, int* out) {
  __shared__ int s[256];
  int t = threadIdx.x; s[t] = in[blockIdx.x * blockDim.x + t]; __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) { if (t < k) s[t] += s[t + k]; __syncthreads(); }
  if (t == 0) out[blockIdx.x] = s[0];
}
extern "C" __global__ void local_array(int* out, int n) {
  int a[16]; int t = threadIdx.x;
  for (int i = 0; i < 16; ++i) a[i] = t * i;
  out[t] = a[(t + n) & 15] + a[n & 15];
}
extern "C" __global__ void hist(const int* in, int* bins, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(&bins[in[i] & 7], 1);
}
extern "C" __global__ void say(int v) { printf("t%d v=%d f=%.2f s=%s x=%04x ll=%lld\n", threadIdx.x, v, 1.5f * threadIdx.x, "hi", 255, -5ll); }
extern "C" __global__ void check(int v) { assert(v != threadIdx.x); }
extern "C" __global__ void shared_oob(int* out, int idx) { __shared__ int s[32]; s[threadIdx.x] = 1; __syncthreads(); out[0] = s[idx]; }
