// The cost of a cuBLAS start (issue 11, item 4): cublasCreate, one 64x64 cublasSgemm and its
// result copied back and checked against a CPU product; prints "first_sgemm ok" as soon as
// the result is checked (the driver script, library_start.py, times process start to that
// line), then "PASS". Exit code 1 with a FAIL line on any error or wrong element.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

namespace {

bool ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::printf("FAIL %s: %s\n", what, cudaGetErrorString(e));
  return false;
}

bool ok(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return true;
  std::printf("FAIL %s: cuBLAS status %d\n", what, static_cast<int>(s));
  return false;
}

}  // namespace

int main() {
  constexpr int n = 64;
  std::vector<float> a(n * n), b(n * n), c(n * n), want(n * n, 0.0f);
  for (int i = 0; i < n * n; ++i) {
    a[i] = static_cast<float>(i % 7 - 3);
    b[i] = static_cast<float>(i % 5 - 2);
  }
  for (int j = 0; j < n; ++j) {  // column-major, small integers: the product is exact
    for (int k = 0; k < n; ++k) {
      for (int i = 0; i < n; ++i) want[j * n + i] += a[k * n + i] * b[j * n + k];
    }
  }
  cublasHandle_t h = nullptr;
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  const size_t bytes = sizeof(float) * n * n;
  const float one = 1.0f, zero = 0.0f;
  if (!ok(cublasCreate(&h), "cublasCreate") || !ok(cudaMalloc(&da, bytes), "cudaMalloc") ||
      !ok(cudaMalloc(&db, bytes), "cudaMalloc") || !ok(cudaMalloc(&dc, bytes), "cudaMalloc") ||
      !ok(cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
      !ok(cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
      !ok(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, da, n, db, n, &zero, dc, n), "cublasSgemm") ||
      !ok(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy")) {
    return 1;
  }
  for (int i = 0; i < n * n; ++i) {
    if (c[i] != want[i]) {
      std::printf("FAIL element %d: %g, want %g\n", i, static_cast<double>(c[i]), static_cast<double>(want[i]));
      return 1;
    }
  }
  std::printf("first_sgemm ok\n");
  std::fflush(stdout);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  cublasDestroy(h);
  std::printf("PASS\n");
  return 0;
}
