// wmma_gemm: tensor-core matrix products through nvcuda::wmma, checked against a CPU reference.
//   1. D = alpha * A * B + beta * C with half inputs and float accumulators (m16n16k16): each warp
//      computes one 16x16 tile of D, stepping through K 16 at a time, with A and B staged in shared
//      memory and the epilogue applied element by element to the accumulator fragment (the
//      structure of cuda-samples' cudaTensorCoreGemm).
//   2. An int8 product with int32 accumulators (m16n16k16 s8), as immaTensorCoreGemm does.
//   3. A bf16 product on the m32n8k16 shape and a tf32 product (m16n16k8), straight from global
//      memory.
// The inputs are small multiples of 1/8 (exact in half, bf16 and tf32) so every product and
// partial sum is exact and the GPU's summation order cannot change the result.
//
// Build: nvcc -arch=sm_80 -o wmma_gemm wmma_gemm.cu       (wmma needs sm_70+, bf16/tf32 sm_80+)
// Run:   LD_LIBRARY_PATH=build/emulator ./wmma_gemm
#include "check.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cmath>
#include <vector>

using namespace nvcuda;

constexpr int M = 128, N = 128, K = 128;  // D is M x N; A is M x K (row-major); B is K x N (column-major)

// One warp per 16x16 tile of D; a block of 4 warps covers 32x32.
__global__ void gemm_f16(const half* a, const half* b, const float* c, float* d, float alpha, float beta) {
  __shared__ half sa[4][16 * 16], sb[4][16 * 16];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int tile_m = (blockIdx.y * 2 + warp / 2) * 16, tile_n = (blockIdx.x * 2 + warp % 2) * 16;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int i = lane; i < 256; i += 32) {
      sa[warp][i] = a[(tile_m + i / 16) * K + k0 + i % 16];   // row-major 16x16 slice of A
      sb[warp][i] = b[(tile_n + i / 16) * K + k0 + i % 16];   // column-major 16x16 slice of B
    }
    __syncwarp();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> fb;
    wmma::load_matrix_sync(fa, sa[warp], 16);
    wmma::load_matrix_sync(fb, sb[warp], 16);
    wmma::mma_sync(acc, fa, fb, acc);
    __syncwarp();
  }
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
  wmma::load_matrix_sync(fc, c + tile_m * N + tile_n, N, wmma::mem_row_major);
  for (int i = 0; i < fc.num_elements; i++) fc.x[i] = alpha * acc.x[i] + beta * fc.x[i];
  wmma::store_matrix_sync(d + tile_m * N + tile_n, fc, N, wmma::mem_row_major);
}

__global__ void gemm_s8(const signed char* a, const signed char* b, int* d) {
  const int warp = threadIdx.x / 32;
  const int tile_m = (blockIdx.y * 2 + warp / 2) * 16, tile_n = (blockIdx.x * 2 + warp % 2) * 16;
  wmma::fragment<wmma::accumulator, 16, 16, 16, int> acc;
  wmma::fill_fragment(acc, 0);
  for (int k0 = 0; k0 < K; k0 += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, signed char, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, signed char, wmma::col_major> fb;
    wmma::load_matrix_sync(fa, a + tile_m * K + k0, K);
    wmma::load_matrix_sync(fb, b + tile_n * K + k0, K);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(d + tile_m * N + tile_n, acc, N, wmma::mem_row_major);
}

// One warp: D (32x8) = A (32x16, row-major) * B (16x8, column-major), bf16 in, float out.
__global__ void gemm_bf16_m32n8k16(const __nv_bfloat16* a, const __nv_bfloat16* b, float* d) {
  wmma::fragment<wmma::matrix_a, 32, 8, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 32, 8, 16, __nv_bfloat16, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 32, 8, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 32, wmma::mem_col_major);
}

// One warp: D (16x16) = A (16x8 row-major) * B (8x16 row-major), tf32.
__global__ void gemm_tf32(const float* a, const float* b, float* d) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::load_matrix_sync(fa, a, 8);
  wmma::load_matrix_sync(fb, b, 16);
  for (int i = 0; i < fa.num_elements; i++) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
  for (int i = 0; i < fb.num_elements; i++) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
  wmma::fill_fragment(acc, 0.0f);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

static float small(int i, int j, int seed) { return static_cast<float>((i * 7 + j * 3 + seed * 5) % 17 - 8) / 8.0f; }

template <class T>
static T* to_device(const std::vector<T>& v) {
  T* p = nullptr;
  CHECK(cudaMalloc(&p, v.size() * sizeof(T)));
  CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

template <class T>
static std::vector<T> from_device(const T* p, size_t n) {
  std::vector<T> v(n);
  CHECK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

int main() {
  // 1. half GEMM with alpha/beta.
  std::vector<half> ha(M * K), hb(K * N);
  std::vector<float> fa(M * K), fb(K * N), hc(M * N);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k) fa[i * K + k] = small(i, k, 1), ha[i * K + k] = __float2half(fa[i * K + k]);
  for (int j = 0; j < N; ++j)
    for (int k = 0; k < K; ++k) fb[j * K + k] = small(k, j, 2), hb[j * K + k] = __float2half(fb[j * K + k]);
  for (int i = 0; i < M * N; ++i) hc[i] = small(i / N, i % N, 3);
  const float alpha = 2.0f, beta = -0.5f;
  half* da = to_device(ha);
  half* db = to_device(hb);
  float* dc = to_device(hc);
  float* dd = nullptr;
  CHECK(cudaMalloc(&dd, M * N * sizeof(float)));
  gemm_f16<<<dim3(N / 32, M / 32), 128>>>(da, db, dc, dd, alpha, beta);
  CHECK(cudaGetLastError());
  auto d = from_device(dd, M * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) acc += double(fa[i * K + k]) * fb[j * K + k];
      const double want = alpha * acc + beta * hc[i * N + j];
      if (std::fabs(d[i * N + j] - want) > 1e-3)
        example_fail("f16 gemm: D[%d][%d] = %g, expected %g", i, j, d[i * N + j], want);
    }
  std::printf("f16 m16n16k16 gemm %dx%dx%d: ok\n", M, N, K);

  // 2. int8 GEMM.
  std::vector<signed char> ia(M * K), ib(K * N);
  for (int i = 0; i < M * K; ++i) ia[i] = static_cast<signed char>((i * 37) % 255 - 127);
  for (int i = 0; i < K * N; ++i) ib[i] = static_cast<signed char>((i * 53 + 11) % 255 - 127);
  signed char* dia = to_device(ia);
  signed char* dib = to_device(ib);
  int* did = nullptr;
  CHECK(cudaMalloc(&did, M * N * sizeof(int)));
  gemm_s8<<<dim3(N / 32, M / 32), 128>>>(dia, dib, did);
  CHECK(cudaGetLastError());
  auto id = from_device(did, M * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      int want = 0;
      for (int k = 0; k < K; ++k) want += int(ia[i * K + k]) * int(ib[j * K + k]);
      if (id[i * N + j] != want) example_fail("s8 gemm: D[%d][%d] = %d, expected %d", i, j, id[i * N + j], want);
    }
  std::printf("s8 m16n16k16 gemm %dx%dx%d: ok\n", M, N, K);

  // 3. bf16 m32n8k16 and tf32 m16n16k8 single tiles.
  std::vector<__nv_bfloat16> ba(32 * 16), bb(16 * 8);
  std::vector<float> bfa(32 * 16), bfb(16 * 8);
  for (int i = 0; i < 32 * 16; ++i) bfa[i] = small(i / 16, i % 16, 4), ba[i] = __float2bfloat16(bfa[i]);
  for (int i = 0; i < 16 * 8; ++i) bfb[i] = small(i % 16, i / 16, 5), bb[i] = __float2bfloat16(bfb[i]);
  __nv_bfloat16* dba = to_device(ba);
  __nv_bfloat16* dbb = to_device(bb);
  float* dbd = nullptr;
  CHECK(cudaMalloc(&dbd, 32 * 8 * sizeof(float)));
  gemm_bf16_m32n8k16<<<1, 32>>>(dba, dbb, dbd);
  CHECK(cudaGetLastError());
  auto bd = from_device(dbd, 32 * 8);
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 8; ++j) {
      double want = 0;
      for (int k = 0; k < 16; ++k) want += double(bfa[i * 16 + k]) * bfb[j * 16 + k];
      if (std::fabs(bd[j * 32 + i] - want) > 1e-3)
        example_fail("bf16 m32n8k16: D[%d][%d] = %g, expected %g", i, j, bd[j * 32 + i], want);
    }
  std::printf("bf16 m32n8k16 tile: ok\n");

  std::vector<float> ta(16 * 8), tb(8 * 16);
  for (int i = 0; i < 16 * 8; ++i) ta[i] = small(i / 8, i % 8, 6), tb[i] = small(i / 16, i % 16, 7);
  float* dta = to_device(ta);
  float* dtb = to_device(tb);
  float* dtd = nullptr;
  CHECK(cudaMalloc(&dtd, 16 * 16 * sizeof(float)));
  gemm_tf32<<<1, 32>>>(dta, dtb, dtd);
  CHECK(cudaGetLastError());
  auto td = from_device(dtd, 16 * 16);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      double want = 0;
      for (int k = 0; k < 8; ++k) want += double(ta[i * 8 + k]) * tb[k * 16 + j];
      if (std::fabs(td[i * 16 + j] - want) > 1e-3)
        example_fail("tf32 m16n16k8: D[%d][%d] = %g, expected %g", i, j, td[i * 16 + j], want);
    }
  std::printf("tf32 m16n16k8 tile: ok\n");

  for (void* p : {static_cast<void*>(da), static_cast<void*>(db), static_cast<void*>(dc), static_cast<void*>(dd),
                  static_cast<void*>(dia), static_cast<void*>(dib), static_cast<void*>(did), static_cast<void*>(dba),
                  static_cast<void*>(dbb), static_cast<void*>(dbd), static_cast<void*>(dta), static_cast<void*>(dtb),
                  static_cast<void*>(dtd)})
    CHECK(cudaFree(p));
  return example_pass();
}
