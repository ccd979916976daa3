// cuBLAS level-1 routines on the emulator, checked against a CPU reference: Sdot, Sasum, Saxpy
// and Snrm2 with unit and non-unit strides, the result on the host and on the device
// (CUBLAS_POINTER_MODE_DEVICE). libcublas.so.13 ships PTX for compute_120 only, so this runs on
// an emulated device of compute capability 12.0 or later: the default 13.0 device, or 12.0/12.1
// (GPOOL_EMU_CC), where these level-1 kernels still come from PTX; on an older one cublasCreate
// fails and the program says so.
//
// Build: nvcc -o cublas_level1 cublas_level1.cu -lcublas
#include <cublas_v2.h>

#include <cmath>
#include <vector>

#include "blas_check.h"

namespace {

void expect_close(const char* what, double got, double want) {
  double tol = 1e-4 * (1.0 + std::fabs(want));
  if (!(std::fabs(got - want) <= tol)) example_fail("%s = %.6f, expected %.6f", what, got, want);
}

}  // namespace

int main() {
  const int n = 1000;  // more than one block of cuBLAS's 128-thread reduction kernels
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = std::sin(0.37f * i) * 3.0f - 0.5f;
    y[i] = static_cast<float>((i * 7) % 11) - 4.0f;
  }
  float *dx = nullptr, *dy = nullptr, *dres = nullptr;
  CHECK(cudaMalloc(&dx, n * sizeof(float)));
  CHECK(cudaMalloc(&dy, n * sizeof(float)));
  CHECK(cudaMalloc(&dres, sizeof(float)));
  CHECK(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice));

  cublasHandle_t h = nullptr;
  CHECK_BLAS(cublasCreate(&h));

  for (int inc : {1, 3}) {
    const int m = (n + inc - 1) / inc;  // elements visited with stride inc
    double dot = 0, asum = 0, nrm = 0;
    for (int i = 0; i < m; ++i) {
      dot += static_cast<double>(x[i * inc]) * y[i * inc];
      asum += std::fabs(x[i * inc]);
      nrm += static_cast<double>(x[i * inc]) * x[i * inc];
    }
    float r = 0;
    CHECK_BLAS(cublasSdot(h, m, dx, inc, dy, inc, &r));
    expect_close(inc == 1 ? "Sdot" : "Sdot (stride 3)", r, dot);
    CHECK_BLAS(cublasSasum(h, m, dx, inc, &r));
    expect_close(inc == 1 ? "Sasum" : "Sasum (stride 3)", r, asum);
    CHECK_BLAS(cublasSnrm2(h, m, dx, inc, &r));
    expect_close(inc == 1 ? "Snrm2" : "Snrm2 (stride 3)", r, std::sqrt(nrm));
  }

  // The result written to device memory.
  CHECK_BLAS(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_DEVICE));
  CHECK_BLAS(cublasSdot(h, n, dx, 1, dy, 1, dres));
  float r = 0;
  CHECK(cudaMemcpy(&r, dres, sizeof(float), cudaMemcpyDeviceToHost));
  double dot = 0;
  for (int i = 0; i < n; ++i) dot += static_cast<double>(x[i]) * y[i];
  expect_close("Sdot (device pointer mode)", r, dot);
  CHECK_BLAS(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));

  // y = 2.5 x + y
  const float alpha = 2.5f;
  CHECK_BLAS(cublasSaxpy(h, n, &alpha, dx, 1, dy, 1));
  std::vector<float> out(n);
  CHECK(cudaMemcpy(out.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    float want = alpha * x[i] + y[i];
    if (std::fabs(out[i] - want) > 1e-5f * (1.0f + std::fabs(want)))
      example_fail("Saxpy: y[%d] = %f, expected %f", i, out[i], want);
  }

  CHECK_BLAS(cublasDestroy(h));
  CHECK(cudaFree(dx));
  CHECK(cudaFree(dy));
  CHECK(cudaFree(dres));
  std::printf("PASS\n");
  return 0;
}
