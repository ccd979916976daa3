// Parser round-trip input: warp shuffles (d|p destinations), votes, lane masks.
__global__ void warpReduce(const float* in, float* out, unsigned* ballots) {
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  unsigned b = __ballot_sync(0xffffffffu, v > 0.f);
  if ((threadIdx.x & 31) == 0) {
    out[(blockIdx.x * blockDim.x + threadIdx.x) / 32] = v;
    ballots[(blockIdx.x * blockDim.x + threadIdx.x) / 32] = b;
  }
}
