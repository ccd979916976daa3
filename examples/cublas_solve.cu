// cuBLAS triangular solves on the emulator, checked on the CPU: cublasStrsm and cublasDtrsm with
// the triangle on the left and on the right, upper and lower, transposed or not, unit and
// non-unit diagonal. B (m x n, odd sizes larger than one 64-wide block in both dimensions) is
// overwritten by X with op(A) X = alpha B (left) or X op(A) = alpha B (right).
//
// The other triangle of A (and, for a unit diagonal, the diagonal) is filled with NaN: a solve
// that reads what it must not turns the result into NaN and fails.
//
// Check: the residual R = op(A) X - alpha B, computed here in long double. The triangles are
// strictly diagonally dominant (every |a_ii| is at least twice the sum of the other entries of
// its row and column), so they and all their diagonal blocks have condition number at most 3.
// Substitution in any order has a backward error |dA| <= gamma_d |A| (d = order of A,
// gamma_d = d u / (1 - d u)), i.e. |R| <= gamma_d |op(A)| |X| elementwise; blocked variants that
// invert diagonal blocks and update with gemm (what cuBLAS does) add a factor bounded by those
// blocks' condition numbers. We allow 8 gamma_d |op(A)| |X| + u |alpha B| (u = 2^-24 for S,
// 2^-53 for D); a wrong element, a wrong triangle or a wrong side gives residuals of order |B|.
//
// Build: nvcc -o cublas_solve cublas_solve.cu -lcublas
#include <cublas_v2.h>

#include <cmath>
#include <limits>
#include <vector>

#include "blas_check.h"

namespace {

cublasStatus_t trsm(cublasHandle_t h, cublasSideMode_t s, cublasFillMode_t f, cublasOperation_t t,
                    cublasDiagType_t d, int m, int n, const float* alpha, const float* a, int lda,
                    float* b, int ldb) {
  return cublasStrsm(h, s, f, t, d, m, n, alpha, a, lda, b, ldb);
}
cublasStatus_t trsm(cublasHandle_t h, cublasSideMode_t s, cublasFillMode_t f, cublasOperation_t t,
                    cublasDiagType_t d, int m, int n, const double* alpha, const double* a, int lda,
                    double* b, int ldb) {
  return cublasDtrsm(h, s, f, t, d, m, n, alpha, a, lda, b, ldb);
}

template <typename T>
void trsm_case(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t fill, cublasOperation_t op,
               cublasDiagType_t diag, int m, int n, ExampleRng& rng) {
  const bool left = side == CUBLAS_SIDE_LEFT, upper = fill == CUBLAS_FILL_MODE_UPPER;
  const bool unit = diag == CUBLAS_DIAG_UNIT;
  const int d = left ? m : n, lda = d + 3, ldb = m + 2;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  // A: off-diagonal entries in [-1/2, 1/2) (non-unit diagonal of magnitude in [d, 2d)) or in
  // [-1/(2d), 1/(2d)) (unit diagonal), so each row and column sums to less than half its diagonal.
  std::vector<T> a(static_cast<size_t>(lda) * d, nan);
  std::vector<T> full(static_cast<size_t>(d) * d, 0);  // the triangle as used, 0 elsewhere
  const T off_scale = unit ? static_cast<T>(0.5) / d : static_cast<T>(0.5);
  for (int j = 0; j < d; ++j)
    for (int i = 0; i < d; ++i) {
      T v;
      if (i == j) {
        v = unit ? 1 : static_cast<T>(d + rng.range(0, d - 1)) * (rng.range(0, 1) ? 1 : -1);
        if (!unit) a[static_cast<size_t>(j) * lda + i] = v;
      } else if ((i < j) == upper) {
        v = static_cast<T>(rng.uniform(-1.0f, 1.0f)) * off_scale;
        a[static_cast<size_t>(j) * lda + i] = v;
      } else {
        continue;
      }
      full[static_cast<size_t>(j) * d + i] = v;
    }
  std::vector<T> b(static_cast<size_t>(ldb) * n);
  for (T& e : b) e = static_cast<T>(rng.uniform(-4.0f, 4.0f));
  const T alpha = static_cast<T>(-1.5);
  Dev<T> da(a), db(b);
  CHECK_BLAS(trsm(h, side, fill, op, diag, m, n, &alpha, da.p, lda, db.p, ldb));
  const std::vector<T> x = db.get();

  const double u = sizeof(T) == sizeof(float) ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  const double gamma = d * u / (1 - d * u);
  // op(A)(i, j)
  auto opa = [&](int i, int j) -> long double {
    return op == CUBLAS_OP_N ? full[static_cast<size_t>(j) * d + i] : full[static_cast<size_t>(i) * d + j];
  };
  const char* what = sizeof(T) == sizeof(float) ? "Strsm" : "Dtrsm";
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      long double r = 0, mag = 0;
      for (int l = 0; l < d; ++l) {
        // left: (op(A) X)(i, j) = sum_l op(A)(i, l) X(l, j); right: (X op(A))(i, j) = sum_l X(i, l) op(A)(l, j)
        const long double p = left ? opa(i, l) * static_cast<long double>(x[static_cast<size_t>(j) * ldb + l])
                                   : static_cast<long double>(x[static_cast<size_t>(l) * ldb + i]) * opa(l, j);
        r += p;
        mag += std::fabs(p);
      }
      const long double ab = static_cast<long double>(alpha) * b[static_cast<size_t>(j) * ldb + i];
      r -= ab;
      const double tol = 8 * gamma * static_cast<double>(mag) + u * std::fabs(static_cast<double>(ab));
      if (!(std::fabs(static_cast<double>(r)) <= tol))
        example_fail("%s side=%s fill=%s op=%s diag=%s %dx%d: residual(%d,%d) = %.3g, tolerance %.3g (X = %g)",
                     what, left ? "L" : "R", upper ? "U" : "L", op == CUBLAS_OP_N ? "N" : "T",
                     unit ? "U" : "N", m, n, i, j, static_cast<double>(r), tol,
                     static_cast<double>(x[static_cast<size_t>(j) * ldb + i]));
    }
  // Rows m .. ldb-1 of each column of B are padding and must be untouched.
  for (int j = 0; j < n; ++j)
    for (int i = m; i < ldb; ++i)
      if (x[static_cast<size_t>(j) * ldb + i] != b[static_cast<size_t>(j) * ldb + i])
        example_fail("%s wrote padding B(%d,%d)", what, i, j);
}

}  // namespace

int main() {
  cublasHandle_t h = nullptr;
  CHECK_BLAS(cublasCreate(&h));
  ExampleRng rng(4242);
  const int m = 93, n = 70;
  for (cublasSideMode_t side : {CUBLAS_SIDE_LEFT, CUBLAS_SIDE_RIGHT})
    for (cublasFillMode_t fill : {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER}) {
      trsm_case<float>(h, side, fill, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, m, n, rng);
      trsm_case<float>(h, side, fill, CUBLAS_OP_T, CUBLAS_DIAG_NON_UNIT, m, n, rng);
      trsm_case<double>(h, side, fill, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, m, n, rng);
    }
  trsm_case<float>(h, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, CUBLAS_DIAG_UNIT, m, n, rng);
  trsm_case<double>(h, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, CUBLAS_DIAG_UNIT, m, n, rng);
  CHECK_BLAS(cublasDestroy(h));
  return example_pass();
}
