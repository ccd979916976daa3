// Parser round-trip input: half and bfloat16 conversions and arithmetic
// (inline-asm blocks with nested { } and block-local registers).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
__global__ void halfOps(const float* in, float* out, __half* h, __nv_bfloat16* bf) {
  int i = threadIdx.x;
  __half a = __float2half(in[i]);
  __half b = __hadd(a, __float2half(1.0f));
  __nv_bfloat16 c = __float2bfloat16(in[i]);
  h[i] = __hmul(a, b);
  bf[i] = c;
  __half2 v = __halves2half2(a, b);
  v = __hadd2(v, v);
  out[i] = __half2float(__low2half(v)) + __bfloat162float(c) + __half2float(__high2half(v));
}
