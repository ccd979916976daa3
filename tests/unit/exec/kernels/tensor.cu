// wmma kernels for the executor's tensor tests (tensor_test.cc), compiled to
// PTX by nvcc at build time so the tests run exactly the wmma forms nvcc
// emits for nvcuda::wmma. Each gemm kernel computes D = A * B + C for one
// tile with the given fragment layouts and leading dimensions.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
using namespace nvcuda;

template <int M, int N, int K, class AT, class BT, class CT, class LA, class LB>
__device__ void tile_gemm(const void* a, const void* b, const void* c, void* d, int lda, int ldb, int ldc,
                          int c_col) {
  using AS = typename wmma::fragment<wmma::matrix_a, M, N, K, AT, LA>::storage_element_type;
  wmma::fragment<wmma::matrix_a, M, N, K, AT, LA> fa;
  wmma::fragment<wmma::matrix_b, M, N, K, BT, LB> fb;
  wmma::fragment<wmma::accumulator, M, N, K, CT> fc;
  wmma::load_matrix_sync(fa, static_cast<const AS*>(a), lda);
  wmma::load_matrix_sync(fb, static_cast<const AS*>(b), ldb);
  const auto lc = c_col ? wmma::mem_col_major : wmma::mem_row_major;
  wmma::load_matrix_sync(fc, static_cast<const CT*>(c), ldc, lc);
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(static_cast<CT*>(d), fc, ldc, lc);
}

#define GEMM(name, M, N, K, AT, CT, LA, LB)                                                                  \
  extern "C" __global__ void name(const void* a, const void* b, const void* c, void* d, int lda, int ldb, \
                                  int ldc, int c_col) {                                                    \
    tile_gemm<M, N, K, AT, AT, CT, wmma::LA, wmma::LB>(a, b, c, d, lda, ldb, ldc, c_col);                  \
  }

GEMM(wmma_f16_f32_m16n16k16_rc, 16, 16, 16, half, float, row_major, col_major)
GEMM(wmma_f16_f32_m16n16k16_cr, 16, 16, 16, half, float, col_major, row_major)
GEMM(wmma_f16_f32_m32n8k16_rr, 32, 8, 16, half, float, row_major, row_major)
GEMM(wmma_f16_f32_m8n32k16_cc, 8, 32, 16, half, float, col_major, col_major)
GEMM(wmma_f16_f16_m16n16k16_rc, 16, 16, 16, half, half, row_major, col_major)
GEMM(wmma_f16_f16_m32n8k16_cr, 32, 8, 16, half, half, col_major, row_major)
GEMM(wmma_f16_f16_m8n32k16_rr, 8, 32, 16, half, half, row_major, row_major)
GEMM(wmma_bf16_f32_m16n16k16_rc, 16, 16, 16, __nv_bfloat16, float, row_major, col_major)
GEMM(wmma_bf16_f32_m32n8k16_cr, 32, 8, 16, __nv_bfloat16, float, col_major, row_major)
GEMM(wmma_bf16_f32_m8n32k16_rr, 8, 32, 16, __nv_bfloat16, float, row_major, row_major)
GEMM(wmma_s8_s32_m16n16k16_rc, 16, 16, 16, signed char, int, row_major, col_major)
GEMM(wmma_s8_s32_m32n8k16_cr, 32, 8, 16, signed char, int, col_major, row_major)
GEMM(wmma_u8_s32_m8n32k16_rr, 8, 32, 16, unsigned char, int, row_major, row_major)
GEMM(wmma_u8_s32_m16n16k16_cc, 16, 16, 16, unsigned char, int, col_major, col_major)
GEMM(wmma_f64_f64_m8n8k4_rc, 8, 8, 4, double, double, row_major, col_major)
GEMM(wmma_f64_f64_m8n8k4_cr, 8, 8, 4, double, double, col_major, row_major)

// tf32: the fragment elements are rounded to tf32 in place (as CUDA requires).
extern "C" __global__ void wmma_tf32_f32_m16n16k8_rc(const void* a, const void* b, const void* c, void* d, int lda,
                                                     int ldb, int ldc, int c_col) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
  wmma::load_matrix_sync(fa, static_cast<const float*>(a), lda);
  wmma::load_matrix_sync(fb, static_cast<const float*>(b), ldb);
  for (int i = 0; i < fa.num_elements; i++) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
  for (int i = 0; i < fb.num_elements; i++) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
  const auto lc = c_col ? wmma::mem_col_major : wmma::mem_row_major;
  wmma::load_matrix_sync(fc, static_cast<const float*>(c), ldc, lc);
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(static_cast<float*>(d), fc, ldc, lc);
}

// Through shared memory, with the alpha/beta scaling cudaTensorCoreGemm does
// element by element on the accumulator fragment.
extern "C" __global__ void wmma_shared_scaled(const half* a, const half* b, const float* c, float* d, float alpha,
                                              float beta) {
  __shared__ half sa[16 * 16], sb[16 * 16];
  for (int i = threadIdx.x; i < 256; i += 32) sa[i] = a[i], sb[i] = b[i];
  __syncwarp();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc, fc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, sa, 16);
  wmma::load_matrix_sync(fb, sb, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::load_matrix_sync(fc, c, 16, wmma::mem_row_major);
  for (int i = 0; i < fc.num_elements; i++) fc.x[i] = alpha * acc.x[i] + beta * fc.x[i];
  wmma::store_matrix_sync(d, fc, 16, wmma::mem_row_major);
}

// Fragment placement: every lane writes its fragment elements in order.
extern "C" __global__ void wmma_frag_a_f16(const half* a, half* out) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 16);
  for (int i = 0; i < fa.num_elements; i++) out[threadIdx.x * fa.num_elements + i] = fa.x[i];
}
extern "C" __global__ void wmma_frag_b_s8(const signed char* b, signed char* out) {
  wmma::fragment<wmma::matrix_b, 32, 8, 16, signed char, wmma::col_major> fb;
  wmma::load_matrix_sync(fb, b, 16);
  for (int i = 0; i < fb.num_elements; i++) out[threadIdx.x * fb.num_elements + i] = fb.x[i];
}
extern "C" __global__ void wmma_frag_acc_f32(float* d) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
  for (int i = 0; i < fc.num_elements; i++) fc.x[i] = float(threadIdx.x * fc.num_elements + i);
  wmma::store_matrix_sync(d, fc, 16, wmma::mem_row_major);
}
