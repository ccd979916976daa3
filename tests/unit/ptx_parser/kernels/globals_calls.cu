// Parser round-trip input: __constant__/__device__ globals with initializers,
// pointers to globals (relocations), and a __noinline__ device function.
__constant__ float coeffs[4] = {1.0f, 2.0f, 3.0f, 4.0f};
__device__ int counter = 42;
__device__ int table[3] = {1, 2, 3};
__device__ int* tablePtr = table;
__device__ __managed__ int managedValue;
struct Pair { int a; int* p; };
__device__ Pair pairValue = {7, &counter};

__device__ __noinline__ float poly(float x) {
  return coeffs[0] + x * (coeffs[1] + x * (coeffs[2] + x * coeffs[3]));
}
__global__ void usePoly(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = poly(static_cast<float>(i)) + *tablePtr + counter + managedValue + pairValue.a;
}
