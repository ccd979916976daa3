// cuFFT on the emulator, checked against a direct DFT computed on the host: 1D C2C forward and
// inverse (a power of two and a prime length), 1D R2C and C2R, and a 2D C2C transform.
// libcufft asks the driver for its private export table 6e163fbe... at its first plan; before
// gpool answered it, every plan failed with CUFFT_INTERNAL_ERROR.
//
// Build: nvcc -o cufft_basic cufft_basic.cu -lcufft
#include <cufft.h>

#include <cmath>
#include <complex>
#include <vector>

#include "check.h"

#define CHECK_FFT(call)                                                                     \
  do {                                                                                      \
    cufftResult fft_status_ = (call);                                                       \
    if (fft_status_ != CUFFT_SUCCESS)                                                       \
      example_fail("%s returned cufftResult %d at %s:%d", #call, static_cast<int>(fft_status_), \
                   __FILE__, __LINE__);                                                     \
  } while (0)

namespace {

using cd = std::complex<double>;
const double kPi = 3.14159265358979323846;

// Unnormalised DFT of `in` (rows x cols, row-major), sign -1 forward, +1 inverse.
std::vector<cd> dft2(const std::vector<cd>& in, int rows, int cols, int sign) {
  std::vector<cd> out(in.size());
  for (int kr = 0; kr < rows; ++kr)
    for (int kc = 0; kc < cols; ++kc) {
      cd s = 0;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
          s += in[r * cols + c] *
               std::polar(1.0, sign * 2 * kPi * (double(kr) * r / rows + double(kc) * c / cols));
      out[kr * cols + kc] = s;
    }
  return out;
}

void expect_near(const char* what, const std::vector<cd>& want, const cufftComplex* got, size_t n) {
  double scale = 1, err = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(want[i]));
  for (size_t i = 0; i < n; ++i) err = std::max(err, std::abs(want[i] - cd(got[i].x, got[i].y)));
  if (err > 1e-5 * scale * std::log2(double(n) + 1))
    example_fail("%s: max error %g (largest value %g)", what, err, scale);
}

std::vector<cd> signal(int n) {
  std::vector<cd> v(n);
  for (int i = 0; i < n; ++i) v[i] = cd(std::sin(0.3 * i) + 0.25, std::cos(0.7 * i) - 0.1 * (i % 5));
  return v;
}

void c2c_1d(int n) {
  std::vector<cd> h = signal(n);
  std::vector<cufftComplex> buf(n);
  for (int i = 0; i < n; ++i) buf[i] = {float(h[i].real()), float(h[i].imag())};
  cufftComplex* d = nullptr;
  CHECK(cudaMalloc(&d, n * sizeof(cufftComplex)));
  CHECK(cudaMemcpy(d, buf.data(), n * sizeof(cufftComplex), cudaMemcpyHostToDevice));
  cufftHandle plan;
  CHECK_FFT(cufftPlan1d(&plan, n, CUFFT_C2C, 1));
  CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
  CHECK(cudaMemcpy(buf.data(), d, n * sizeof(cufftComplex), cudaMemcpyDeviceToHost));
  std::vector<cd> want = dft2(h, 1, n, -1);
  expect_near(n == 64 ? "C2C forward, n=64" : "C2C forward, n=97", want, buf.data(), n);
  // The inverse of the forward transform is n times the input.
  CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_INVERSE));
  CHECK(cudaMemcpy(buf.data(), d, n * sizeof(cufftComplex), cudaMemcpyDeviceToHost));
  for (auto& v : h) v *= n;
  expect_near(n == 64 ? "C2C inverse, n=64" : "C2C inverse, n=97", h, buf.data(), n);
  CHECK_FFT(cufftDestroy(plan));
  CHECK(cudaFree(d));
}

void r2c_c2r_1d() {
  const int n = 128;
  std::vector<float> x(n);
  std::vector<cd> xc(n);
  for (int i = 0; i < n; ++i) {
    x[i] = float(std::sin(0.21 * i) * 2 + (i % 3));
    xc[i] = x[i];
  }
  float* dr = nullptr;
  cufftComplex* dc = nullptr;
  CHECK(cudaMalloc(&dr, n * sizeof(float)));
  CHECK(cudaMalloc(&dc, (n / 2 + 1) * sizeof(cufftComplex)));
  CHECK(cudaMemcpy(dr, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  cufftHandle r2c, c2r;
  CHECK_FFT(cufftPlan1d(&r2c, n, CUFFT_R2C, 1));
  CHECK_FFT(cufftPlan1d(&c2r, n, CUFFT_C2R, 1));
  CHECK_FFT(cufftExecR2C(r2c, dr, dc));
  std::vector<cufftComplex> spec(n / 2 + 1);
  CHECK(cudaMemcpy(spec.data(), dc, spec.size() * sizeof(cufftComplex), cudaMemcpyDeviceToHost));
  std::vector<cd> want = dft2(xc, 1, n, -1);
  want.resize(n / 2 + 1);
  expect_near("R2C, n=128", want, spec.data(), spec.size());
  CHECK(cudaMemset(dr, 0, n * sizeof(float)));
  CHECK_FFT(cufftExecC2R(c2r, dc, dr));
  std::vector<float> back(n);
  CHECK(cudaMemcpy(back.data(), dr, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i)
    if (std::fabs(back[i] - n * x[i]) > 1e-3 * n)
      example_fail("C2R(R2C(x))[%d] = %f, expected %f", i, back[i], n * x[i]);
  CHECK_FFT(cufftDestroy(r2c));
  CHECK_FFT(cufftDestroy(c2r));
  CHECK(cudaFree(dr));
  CHECK(cudaFree(dc));
}

void c2c_2d() {
  const int rows = 16, cols = 8;
  std::vector<cd> h = signal(rows * cols);
  std::vector<cufftComplex> buf(rows * cols);
  for (size_t i = 0; i < h.size(); ++i) buf[i] = {float(h[i].real()), float(h[i].imag())};
  cufftComplex* d = nullptr;
  CHECK(cudaMalloc(&d, buf.size() * sizeof(cufftComplex)));
  CHECK(cudaMemcpy(d, buf.data(), buf.size() * sizeof(cufftComplex), cudaMemcpyHostToDevice));
  cufftHandle plan;
  CHECK_FFT(cufftPlan2d(&plan, rows, cols, CUFFT_C2C));
  CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
  CHECK(cudaMemcpy(buf.data(), d, buf.size() * sizeof(cufftComplex), cudaMemcpyDeviceToHost));
  expect_near("2D C2C 16x8", dft2(h, rows, cols, -1), buf.data(), buf.size());
  CHECK_FFT(cufftDestroy(plan));
  CHECK(cudaFree(d));
}

}  // namespace

int main() {
  c2c_1d(64);
  c2c_1d(97);
  r2c_c2r_1d();
  c2c_2d();
  std::printf("PASS\n");
  return 0;
}
