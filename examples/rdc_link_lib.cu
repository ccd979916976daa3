// The second translation unit of rdc_link (see rdc_link.cu).
__device__ int lib_calls = 0;
__device__ const int table[4] = {1, 2, 3, 4};

static __device__ int helper(int x) { return x * 10; }  // not the one in rdc_link.cu

__device__ int scale_by_table(int x) {
  atomicAdd(&lib_calls, 1);
  return x * table[x % 4] + helper(x);
}
