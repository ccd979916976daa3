// Parser round-trip input: atomics on shared and global memory.
__global__ void histogram(const unsigned char* data, int n, unsigned int* bins) {
  __shared__ unsigned int local[256];
  for (int i = threadIdx.x; i < 256; i += blockDim.x) local[i] = 0;
  __syncthreads();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    atomicAdd(&local[data[i]], 1u);
  __syncthreads();
  for (int i = threadIdx.x; i < 256; i += blockDim.x) atomicAdd(&bins[i], local[i]);
}
__global__ void atomicsMisc(int* p, unsigned long long* q, float* f) {
  atomicMax(p, threadIdx.x);
  atomicCAS(p + 1, 0, 5);
  atomicExch(p + 2, 7);
  atomicAdd(q, 1ull);
  atomicAdd(f, 0.5f);
}
