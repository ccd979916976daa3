// Linked into loader_test as an nvcc-compiled host object: its static
// constructor registers its __fatBinC_Wrapper_t (captured by cudart_stubs.cc).
__device__ int wrappedCounter;
__global__ void wrappedKernel(int* out, long long x, float y) {
  out[threadIdx.x] = static_cast<int>(x + y) + atomicAdd(&wrappedCounter, 1);
}
