// Device code of jit_link (see jit_link.cu), compiled to relocatable PTX and fatbin
// (nvcc -rdc=true -ptx / -fatbin). `polish` is defined in jit_link_lib.cu.
extern __device__ float polish(float x, int terms);

// Many values live at once (48 independent accumulators): the register estimate is well above 32.
extern "C" __global__ void heavy(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float acc[48];
#pragma unroll
  for (int k = 0; k < 48; ++k) acc[k] = in[(i + k) % n] * (k + 1);
#pragma unroll
  for (int r = 0; r < 4; ++r) {
#pragma unroll
    for (int k = 0; k < 48; ++k) acc[k] = acc[k] * 0.5f + acc[(k + 1) % 48];
  }
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < 48; ++k) s += acc[k];
  out[i] = polish(s, 3);
}
