// Benchmark kernel: grid-stride sum with a warp-shuffle reduction and one
// atomicAdd per warp. Compiled to PTX by nvcc at build time.
extern "C" __global__ void warp_reduce(const int* in, unsigned long long* out, int n) {
  int sum = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) sum += in[i];
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, off);
  if ((threadIdx.x & 31) == 0) atomicAdd(out, static_cast<unsigned long long>(sum));
}
