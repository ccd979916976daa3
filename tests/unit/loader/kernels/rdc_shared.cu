// A kernel with 16 KiB of static shared memory calling an extern device function, for the
// loader's -rdc=true images: its relocatable cubin's .nv.shared section describes more bytes
// than the whole file holds (SHT_CUDA_SHARED occupies none).
extern __device__ int outside(int x);

__global__ void sharedHeavy(const int* in, int* out) {
  __shared__ int tile[4096];
  tile[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = outside(tile[(threadIdx.x + 1) % blockDim.x]);
}
