// cublasGemmEx with reduced-precision inputs and tensor-core math on the emulator, each result
// checked against a CPU reference computed here: f16 inputs with f32 and with f16 outputs
// (f32 compute), f16 inputs with f16 compute, bf16 inputs with f32 output, and f32 inputs with
// TF32 tensor-core math, asked for both ways (cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32,
// and cublasSgemm on a handle in CUBLAS_TF32_TENSOR_OP_MATH mode). Each is run at odd sizes (where
// cuBLAS falls back to SIMT kernels) and at sizes that are multiples of 8 but not of the tile,
// larger than one tile (where it picks its mma.sync tensor-core kernels; CUBLASLT_LOG_LEVEL=5
// shows which); the A operand is transposed in some cases.
//
// Tolerances, from the arithmetic (k = inner dimension, mag = sum_l |a_il b_lj| of the inputs
// as the device sees them, want = the exact result, u32 = 2^-24 the f32 rounding unit):
// - f16 and bf16 inputs are made on the host, and the reference uses exactly those values. A
//   product of two f16 (11-bit significands) or two bf16 (8-bit) values is exact in f32, so the
//   only error of an f32 accumulation is the rounding of the k additions, in any order:
//   gamma_k * mag with gamma_k = k u32 / (1 - k u32); alpha*acc + beta*c adds at most
//   2 u32 |want|.
// - An f16 output is rounded once more: at most half an f16 ulp, 2^-11 |want| relative, or
//   2^-25 absolute near zero (half the smallest subnormal); 2^-24 is used.
// - f16 compute (CUBLAS_COMPUTE_16F) may round every product and every partial sum to f16:
//   gamma_{k+1} * mag with u16 = 2^-11, plus the output rounding above (alpha and beta are
//   exact in f16).
// - TF32 keeps 10 of the 23 stored significand bits of each f32 input: converting an input
//   changes it by less than 2^-10 relative (truncation; rounding is half that), so a product
//   moves by less than (2 * 2^-10 + 2^-20) |a b|; the reference uses the unconverted f32 inputs,
//   so the bound is (2^-9 + 2^-20 + gamma_k) * mag + 2 u32 |want|. One TF32 case feeds inputs that
//   are already exact in TF32 (low 13 bits zero): there the products are exact and the f32
//   bound above (gamma_k * mag + 2 u32 |want|) applies, 2^13 times tighter.
//
// Build: nvcc -o cublas_gemm_ex cublas_gemm_ex.cu -lcublas
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "blas_check.h"

namespace {

const double kU32 = std::ldexp(1.0, -24);
const double kU16 = std::ldexp(1.0, -11);

double gamma(int k, double u) { return k * u / (1 - k * u); }

// Host conversions to and from the storage types.
template <typename T> T from_float(float x);
template <> float from_float<float>(float x) { return x; }
template <> __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
double to_double(float x) { return x; }
double to_double(__half x) { return __half2float(x); }
double to_double(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> cudaDataType_t type_of();
template <> cudaDataType_t type_of<float>() { return CUDA_R_32F; }
template <> cudaDataType_t type_of<__half>() { return CUDA_R_16F; }
template <> cudaDataType_t type_of<__nv_bfloat16>() { return CUDA_R_16BF; }

template <typename T>
std::vector<T> random_vec(size_t n, ExampleRng& rng) {
  std::vector<T> v(n);
  for (T& e : v) e = from_float<T>(rng.uniform(-1.0f, 1.0f));
  return v;
}

enum class Tol { F32Acc, F32AccF16Out, F16Acc, Tf32 };

// C (m x n, ld m) = alpha op(A) B + beta C, A stored m x k (N, ld m) or k x m (T, ld k),
// B k x n (ld k). Checks `got` against the double reference with the bound for `tol`.
template <typename In, typename Out>
void check(const char* what, bool ta, const std::vector<In>& a, const std::vector<In>& b,
           const std::vector<Out>& c0, const std::vector<Out>& got, int m, int n, int k,
           double alpha, double beta, Tol tol) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0, mag = 0;
      for (int l = 0; l < k; ++l) {
        const double av = to_double(ta ? a[static_cast<size_t>(i) * k + l] : a[static_cast<size_t>(l) * m + i]);
        const double p = av * to_double(b[static_cast<size_t>(j) * k + l]);
        acc += p;
        mag += std::fabs(p);
      }
      const double want = alpha * acc + beta * to_double(c0[static_cast<size_t>(j) * m + i]);
      double bound = 0;
      switch (tol) {
        case Tol::F32Acc: bound = gamma(k, kU32) * std::fabs(alpha) * mag + 2 * kU32 * std::fabs(want); break;
        case Tol::F32AccF16Out:
          bound = gamma(k, kU32) * std::fabs(alpha) * mag + (2 * kU32 + kU16) * std::fabs(want) + kU32;
          break;
        case Tol::F16Acc:
          bound = gamma(k + 1, kU16) * std::fabs(alpha) * mag + 2 * kU16 * std::fabs(want) + kU32;
          break;
        case Tol::Tf32:
          bound = (std::ldexp(1.0, -9) + std::ldexp(1.0, -20) + gamma(k, kU32)) * std::fabs(alpha) * mag +
                  2 * kU32 * std::fabs(want);
          break;
      }
      const double g = to_double(got[static_cast<size_t>(j) * m + i]);
      if (!(std::fabs(g - want) <= bound))
        example_fail("%s: C(%d,%d) = %.9g, expected %.9g (tolerance %.3g)", what, i, j, g, want, bound);
    }
}

// One cublasGemmEx call with inputs In, output Out, compute type `compute`; alpha and beta are
// passed as Scalar (float for 32F compute, __half for 16F).
// With `tf32_exact`, the f32 inputs are cut to 10 stored significand bits first, so TF32 math
// sees exactly the reference's values and the f32-accumulation bound applies.
template <typename In, typename Out, typename Scalar>
void gemm_ex(cublasHandle_t h, const char* what, bool ta, int m, int n, int k,
             cublasComputeType_t compute, Tol tol, ExampleRng& rng, bool tf32_exact = false) {
  std::vector<In> a = random_vec<In>(static_cast<size_t>(m) * k, rng);
  std::vector<In> b = random_vec<In>(static_cast<size_t>(k) * n, rng);
  if constexpr (sizeof(In) == sizeof(float)) {
    if (tf32_exact)
      for (auto* v : {&a, &b})
        for (In& e : *v) {
          unsigned bits;
          std::memcpy(&bits, &e, sizeof bits);
          bits &= 0xffffe000u;
          std::memcpy(&e, &bits, sizeof bits);
        }
  }
  const std::vector<Out> c = random_vec<Out>(static_cast<size_t>(m) * n, rng);
  const float alpha_f = 1.5f, beta_f = -0.5f;  // exact in every scalar type
  const Scalar alpha = from_float<Scalar>(alpha_f), beta = from_float<Scalar>(beta_f);
  Dev<In> da(a), db(b);
  Dev<Out> dc(c);
  CHECK_BLAS(cublasGemmEx(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da.p,
                          type_of<In>(), ta ? k : m, db.p, type_of<In>(), k, &beta, dc.p,
                          type_of<Out>(), m, compute, CUBLAS_GEMM_DEFAULT));
  check(what, ta, a, b, c, dc.get(), m, n, k, alpha_f, beta_f, tol);
}

// cublasSgemm on a handle whose math mode allows TF32 tensor cores.
void sgemm_tf32_mode(cublasHandle_t h, int m, int n, int k, ExampleRng& rng) {
  const std::vector<float> a = random_vec<float>(static_cast<size_t>(m) * k, rng);
  const std::vector<float> b = random_vec<float>(static_cast<size_t>(k) * n, rng);
  const std::vector<float> c = random_vec<float>(static_cast<size_t>(m) * n, rng);
  const float alpha = 0.75f, beta = 1.25f;
  Dev<float> da(a), db(b), dc(c);
  CHECK_BLAS(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH));
  CHECK_BLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da.p, m, db.p, k, &beta, dc.p, m));
  CHECK_BLAS(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  check("Sgemm (CUBLAS_TF32_TENSOR_OP_MATH)", false, a, b, c, dc.get(), m, n, k, alpha, beta, Tol::Tf32);
}

}  // namespace

int main() {
  cublasHandle_t h = nullptr;
  CHECK_BLAS(cublasCreate(&h));
  ExampleRng rng(77);

  // Odd sizes: cuBLAS 13.0 has no tensor-core kernel for rows that are not a multiple of 8
  // (4 for tf32) and runs SIMT kernels (magma_sgemmEx_kernel, sgemm_largek_lds64).
  gemm_ex<__half, float, float>(h, "GemmEx f16 -> f32", false, 67, 45, 83, CUBLAS_COMPUTE_32F, Tol::F32Acc, rng);
  gemm_ex<__half, __half, float>(h, "GemmEx f16 -> f16", false, 67, 45, 83, CUBLAS_COMPUTE_32F,
                                 Tol::F32AccF16Out, rng);
  gemm_ex<__nv_bfloat16, float, float>(h, "GemmEx bf16 -> f32 (A^T)", true, 97, 66, 51, CUBLAS_COMPUTE_32F,
                                       Tol::F32Acc, rng);
  gemm_ex<float, float, float>(h, "GemmEx f32 (CUBLAS_COMPUTE_32F_FAST_TF32)", false, 67, 45, 83,
                               CUBLAS_COMPUTE_32F_FAST_TF32, Tol::Tf32, rng);
  // Aligned sizes that are still not multiples of the tile: the tensor-core kernels
  // (cutlass_80_tensorop_*s16816gemm_{f16,bf16}_forwardCompat_256x128 with mma.sync m16n8k16,
  // ldmatrix and cp.async; cutlass_80_tensorop_s1688gemm_forwardCompat_128x128 with tf32
  // mma.sync m16n8k8), more than one tile in m.
  gemm_ex<__half, float, float>(h, "GemmEx f16 -> f32 (tensor op)", false, 264, 72, 88, CUBLAS_COMPUTE_32F,
                                Tol::F32Acc, rng);
  gemm_ex<__half, float, float>(h, "GemmEx f16 -> f32 (A^T, tensor op)", true, 264, 72, 88, CUBLAS_COMPUTE_32F,
                                Tol::F32Acc, rng);
  gemm_ex<__half, __half, float>(h, "GemmEx f16 -> f16 (tensor op)", false, 264, 72, 88, CUBLAS_COMPUTE_32F,
                                 Tol::F32AccF16Out, rng);
  gemm_ex<__half, __half, __half>(h, "GemmEx f16 -> f16 (f16 compute)", false, 264, 72, 40, CUBLAS_COMPUTE_16F,
                                  Tol::F16Acc, rng);
  gemm_ex<__nv_bfloat16, float, float>(h, "GemmEx bf16 -> f32 (tensor op)", false, 264, 72, 88, CUBLAS_COMPUTE_32F,
                                       Tol::F32Acc, rng);
  gemm_ex<float, float, float>(h, "GemmEx f32 (CUBLAS_COMPUTE_32F_FAST_TF32, tensor op)", false, 132, 136, 84,
                               CUBLAS_COMPUTE_32F_FAST_TF32, Tol::Tf32, rng);
  gemm_ex<float, float, float>(h, "GemmEx tf32-exact f32 (CUBLAS_COMPUTE_32F_FAST_TF32, tensor op)", true, 132, 136,
                               84, CUBLAS_COMPUTE_32F_FAST_TF32, Tol::F32Acc, rng, true);
  sgemm_tf32_mode(h, 132, 136, 84, rng);

  CHECK_BLAS(cublasDestroy(h));
  return example_pass();
}
