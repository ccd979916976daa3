// Parser round-trip input: tiled matrix multiply through shared memory.
#define TILE 16
__global__ void matmulShared(const float* a, const float* b, float* c, int n) {
  __shared__ float ta[TILE][TILE];
  __shared__ float tb[TILE][TILE];
  int row = blockIdx.y * TILE + threadIdx.y, col = blockIdx.x * TILE + threadIdx.x;
  float acc = 0.f;
  for (int t = 0; t < (n + TILE - 1) / TILE; ++t) {
    ta[threadIdx.y][threadIdx.x] = (row < n && t * TILE + threadIdx.x < n) ? a[row * n + t * TILE + threadIdx.x] : 0.f;
    tb[threadIdx.y][threadIdx.x] = (col < n && t * TILE + threadIdx.y < n) ? b[(t * TILE + threadIdx.y) * n + col] : 0.f;
    __syncthreads();
#pragma unroll 4
    for (int k = 0; k < TILE; ++k) acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
    __syncthreads();
  }
  if (row < n && col < n) c[row * n + col] = acc;
}
// Dynamic shared memory: an .extern .shared unsized array.
__global__ void dynamicShared(float* out) {
  extern __shared__ float buf[];
  buf[threadIdx.x] = threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
}
