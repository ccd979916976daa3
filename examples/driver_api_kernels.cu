// driver_api_kernels: device code loaded at run time by driver_api.cu. Built twice at build
// time, into a PTX text file and into a fatbin, and never linked into a host program.
// extern "C" keeps the names unmangled for cuModuleGetFunction.
//
// Build: nvcc -ptx -o driver_api_kernels.ptx driver_api_kernels.cu
//        nvcc -fatbin -o driver_api_kernels.fatbin driver_api_kernels.cu

__device__ unsigned launches;  // read and reset by the host with cuModuleGetGlobal

extern "C" __global__ void saxpy(float a, const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
  if (i == 0) atomicAdd(&launches, 1u);
}

// Parameters of mixed size and alignment, so a hand-packed parameter buffer must get the
// offsets right: c at 0, d at 8, s at 16, out_i at 24, out_d at 32 (40 bytes).
extern "C" __global__ void mixed(char c, double d, short s, int* out_i, double* out_d) {
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    out_i[0] = c + s;
    out_d[0] = d * 2.0 + c;
    atomicAdd(&launches, 1u);
  }
}
