// Loader test input: vectorAdd plus a kernel with mixed parameter sizes and
// alignments, compiled by nvcc into every image flavour at build time.
struct Mixed {
  double d;
  char c;
};
__device__ float scale = 2.0f;
__global__ void vectorAdd(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = (a[i] + b[i]) * scale;
}
__global__ void mixedParams(char c, Mixed m, short* p, double d, int4 v) {
  p[threadIdx.x] = static_cast<short>(c + m.c + static_cast<int>(m.d + d) + v.w);
}
