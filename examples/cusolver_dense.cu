// cuSOLVER's dense routines on the emulator, checked against the host in float and double:
//   getrf + getrs  LU with partial pivoting of a matrix whose diagonal is small (so rows must be
//                  exchanged), then a solve with three right-hand sides, A and A^T;
//   potrf + potrs  Cholesky of a symmetric positive definite matrix (lower and upper), and a solve;
//   syevd          eigenvalues and eigenvectors of a symmetric matrix;
// plus the error reporting: `info` = j+1 from getrf when column j of U is exactly zero, `info` =
// p+1 from potrf when the leading minor of order p+1 is not positive, a leading dimension
// smaller than n refused with info = -4.
//
// Tolerances are those of LAPACK's own test suite: each check forms a ratio that is O(1) for a
// backward stable algorithm and must stay below 30 (LAPACK's default THRESH, dtest.in):
//   LU        ||P L U - A||_1 / (n ||A||_1 eps)                          (LAPACK xGET01)
//   Cholesky  ||L L^T - A||_1 / (n ||A||_1 eps)                          (xPOT01)
//   solve     ||b - A x||_1 / (n ||A||_1 ||x||_1 eps) per column         (xGET02, xPOT02)
//   forward   ||x - x_ref||_1 / (||x_ref||_1 cond_1(A) n eps)            (xGET04)
//   eigen     ||A V - V diag(w)||_1 / (n ||A||_1 eps), ||V^T V - I||_1 / (n eps)   (xSYT21)
//             |w_i - w_ref_i| / (n ||A||_1 eps): symmetric eigenvalues move by at most ||E||_2
//             under a perturbation E (Weyl), so the backward error bounds them directly.
// The host references (a pivoted LU solve, the inverse for cond(A), cyclic Jacobi for the
// eigenvalues) run in long double, so their own error is negligible at either precision. A wrong
// pivot, a missed row exchange or a wrong block update gives ratios of 1e5 and more.
//
// Build: nvcc -o cusolver_dense cusolver_dense.cu -lcusolver
#include <cusolverDn.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "check.h"

#define CHECK_SOLVER(call)                                                                  \
  do {                                                                                      \
    cusolverStatus_t solver_status_ = (call);                                               \
    if (solver_status_ != CUSOLVER_STATUS_SUCCESS)                                          \
      example_fail("%s returned cusolverStatus %d at %s:%d", #call,                         \
                   static_cast<int>(solver_status_), __FILE__, __LINE__);                   \
  } while (0)

namespace {

using ld = long double;
const double kThresh = 30;  // LAPACK's test threshold

// The precision-specific entry points, so the checks are written once.
cusolverStatus_t getrf_size(cusolverDnHandle_t h, int n, float* a, int lda, int* lw) { return cusolverDnSgetrf_bufferSize(h, n, n, a, lda, lw); }
cusolverStatus_t getrf_size(cusolverDnHandle_t h, int n, double* a, int lda, int* lw) { return cusolverDnDgetrf_bufferSize(h, n, n, a, lda, lw); }
cusolverStatus_t getrf(cusolverDnHandle_t h, int n, float* a, int lda, float* w, int* piv, int* info) { return cusolverDnSgetrf(h, n, n, a, lda, w, piv, info); }
cusolverStatus_t getrf(cusolverDnHandle_t h, int n, double* a, int lda, double* w, int* piv, int* info) { return cusolverDnDgetrf(h, n, n, a, lda, w, piv, info); }
cusolverStatus_t getrs(cusolverDnHandle_t h, cublasOperation_t op, int n, int nrhs, const float* a, int lda, const int* piv, float* b, int ldb, int* info) { return cusolverDnSgetrs(h, op, n, nrhs, a, lda, piv, b, ldb, info); }
cusolverStatus_t getrs(cusolverDnHandle_t h, cublasOperation_t op, int n, int nrhs, const double* a, int lda, const int* piv, double* b, int ldb, int* info) { return cusolverDnDgetrs(h, op, n, nrhs, a, lda, piv, b, ldb, info); }
cusolverStatus_t potrf_size(cusolverDnHandle_t h, cublasFillMode_t u, int n, float* a, int lda, int* lw) { return cusolverDnSpotrf_bufferSize(h, u, n, a, lda, lw); }
cusolverStatus_t potrf_size(cusolverDnHandle_t h, cublasFillMode_t u, int n, double* a, int lda, int* lw) { return cusolverDnDpotrf_bufferSize(h, u, n, a, lda, lw); }
cusolverStatus_t potrf(cusolverDnHandle_t h, cublasFillMode_t u, int n, float* a, int lda, float* w, int lw, int* info) { return cusolverDnSpotrf(h, u, n, a, lda, w, lw, info); }
cusolverStatus_t potrf(cusolverDnHandle_t h, cublasFillMode_t u, int n, double* a, int lda, double* w, int lw, int* info) { return cusolverDnDpotrf(h, u, n, a, lda, w, lw, info); }
cusolverStatus_t potrs(cusolverDnHandle_t h, cublasFillMode_t u, int n, int nrhs, const float* a, int lda, float* b, int ldb, int* info) { return cusolverDnSpotrs(h, u, n, nrhs, a, lda, b, ldb, info); }
cusolverStatus_t potrs(cusolverDnHandle_t h, cublasFillMode_t u, int n, int nrhs, const double* a, int lda, double* b, int ldb, int* info) { return cusolverDnDpotrs(h, u, n, nrhs, a, lda, b, ldb, info); }
cusolverStatus_t syevd_size(cusolverDnHandle_t h, cublasFillMode_t u, int n, const float* a, int lda, const float* w, int* lw) { return cusolverDnSsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, u, n, a, lda, w, lw); }
cusolverStatus_t syevd_size(cusolverDnHandle_t h, cublasFillMode_t u, int n, const double* a, int lda, const double* w, int* lw) { return cusolverDnDsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, u, n, a, lda, w, lw); }
cusolverStatus_t syevd(cusolverDnHandle_t h, cublasFillMode_t u, int n, float* a, int lda, float* w, float* work, int lw, int* info) { return cusolverDnSsyevd(h, CUSOLVER_EIG_MODE_VECTOR, u, n, a, lda, w, work, lw, info); }
cusolverStatus_t syevd(cusolverDnHandle_t h, cublasFillMode_t u, int n, double* a, int lda, double* w, double* work, int lw, int* info) { return cusolverDnDsyevd(h, CUSOLVER_EIG_MODE_VECTOR, u, n, a, lda, w, work, lw, info); }

template <typename T> const char* type_name();
template <> const char* type_name<float>() { return "float"; }
template <> const char* type_name<double>() { return "double"; }
template <typename T> double eps() { return std::numeric_limits<T>::epsilon(); }

// A column-major matrix on the host in long double (rows x cols, leading dimension rows).
struct Mat {
  int rows, cols;
  std::vector<ld> v;
  Mat(int r, int c) : rows(r), cols(c), v(size_t(r) * c, 0) {}
  ld& operator()(int i, int j) { return v[size_t(j) * rows + i]; }
  ld operator()(int i, int j) const { return v[size_t(j) * rows + i]; }
};

ld norm1(const Mat& a) {
  ld best = 0;
  for (int j = 0; j < a.cols; ++j) {
    ld s = 0;
    for (int i = 0; i < a.rows; ++i) s += std::fabs(a(i, j));
    best = std::max(best, s);
  }
  return best;
}

Mat multiply(const Mat& a, const Mat& b, bool transpose_a = false) {
  int m = transpose_a ? a.cols : a.rows, k = transpose_a ? a.rows : a.cols;
  Mat c(m, b.cols);
  for (int j = 0; j < b.cols; ++j)
    for (int p = 0; p < k; ++p) {
      ld bpj = b(p, j);
      for (int i = 0; i < m; ++i) c(i, j) += (transpose_a ? a(p, i) : a(i, p)) * bpj;
    }
  return c;
}

Mat transpose(const Mat& a) {
  Mat t(a.cols, a.rows);
  for (int j = 0; j < a.cols; ++j)
    for (int i = 0; i < a.rows; ++i) t(j, i) = a(i, j);
  return t;
}

// Solves A X = B by Gaussian elimination with partial pivoting (long double).
Mat host_solve(Mat a, Mat b) {
  int n = a.rows;
  for (int k = 0; k < n; ++k) {
    int p = k;
    for (int i = k + 1; i < n; ++i)
      if (std::fabs(a(i, k)) > std::fabs(a(p, k))) p = i;
    for (int j = 0; j < n; ++j) std::swap(a(k, j), a(p, j));
    for (int j = 0; j < b.cols; ++j) std::swap(b(k, j), b(p, j));
    for (int i = k + 1; i < n; ++i) {
      ld l = a(i, k) / a(k, k);
      for (int j = k; j < n; ++j) a(i, j) -= l * a(k, j);
      for (int j = 0; j < b.cols; ++j) b(i, j) -= l * b(k, j);
    }
  }
  for (int j = 0; j < b.cols; ++j)
    for (int i = n - 1; i >= 0; --i) {
      ld s = b(i, j);
      for (int p = i + 1; p < n; ++p) s -= a(i, p) * b(p, j);
      b(i, j) = s / a(i, i);
    }
  return b;
}

// Condition number in the 1-norm, from the explicit inverse.
ld cond1(const Mat& a) {
  Mat id(a.rows, a.rows);
  for (int i = 0; i < a.rows; ++i) id(i, i) = 1;
  return norm1(a) * norm1(host_solve(a, id));
}

// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (long double), ascending.
std::vector<ld> jacobi_eigenvalues(Mat a) {
  int n = a.rows;
  for (int sweep = 0; sweep < 100; ++sweep) {
    ld off = 0;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i)
        if (i != j) off += a(i, j) * a(i, j);
    if (off < 1e-36L) break;
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (a(p, q) == 0) continue;
        ld theta = (a(q, q) - a(p, p)) / (2 * a(p, q));
        ld t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        ld c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          ld akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          ld apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
      }
  }
  std::vector<ld> w(n);
  for (int i = 0; i < n; ++i) w[i] = a(i, i);
  std::sort(w.begin(), w.end());
  return w;
}

// Host matrix rounded to T and back, so references use exactly what the device got.
template <typename T>
Mat rounded(const Mat& a) {
  Mat r = a;
  for (auto& x : r.v) x = ld(T(x));
  return r;
}

template <typename T>
T* to_device(const Mat& a, int lda) {
  std::vector<T> h(size_t(lda) * a.cols, T(0));
  for (int j = 0; j < a.cols; ++j)
    for (int i = 0; i < a.rows; ++i) h[size_t(j) * lda + i] = T(a(i, j));
  T* d = nullptr;
  CHECK(cudaMalloc(&d, h.size() * sizeof(T)));
  CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

template <typename T>
Mat from_device(const T* d, int rows, int cols, int lda) {
  std::vector<T> h(size_t(lda) * cols);
  CHECK(cudaMemcpy(h.data(), d, h.size() * sizeof(T), cudaMemcpyDeviceToHost));
  Mat a(rows, cols);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) a(i, j) = h[size_t(j) * lda + i];
  return a;
}

int read_info(const int* d_info) {
  int info = -12345;
  CHECK(cudaMemcpy(&info, d_info, sizeof(int), cudaMemcpyDeviceToHost));
  return info;
}

void expect_ratio(const char* what, const char* type, ld ratio) {
  if (!(ratio < kThresh)) example_fail("%s (%s): test ratio %.3Lg, limit %g", what, type, ratio, kThresh);
}

Mat random_matrix(int rows, int cols, ExampleRng& rng) {
  Mat a(rows, cols);
  for (auto& x : a.v) x = rng.uniform(-1.f, 1.f);
  return a;
}

// Checks a solution X of op(A) X = B: residual per column and forward error against the host.
template <typename T>
void check_solution(const char* what, const Mat& a, const Mat& b, const Mat& x, bool trans) {
  int n = a.rows;
  Mat ax = multiply(a, x, trans);
  Mat want = host_solve(trans ? transpose(a) : a, b);
  ld anorm = norm1(a), cond = cond1(trans ? transpose(a) : a);
  for (int j = 0; j < b.cols; ++j) {
    ld r = 0, xn = 0, diff = 0, wn = 0;
    for (int i = 0; i < n; ++i) {
      r += std::fabs(b(i, j) - ax(i, j));
      xn += std::fabs(x(i, j));
      diff += std::fabs(x(i, j) - want(i, j));
      wn += std::fabs(want(i, j));
    }
    expect_ratio(what, type_name<T>(), r / (n * anorm * xn * eps<T>()));
    expect_ratio(what, type_name<T>(), diff / (wn * cond * n * eps<T>()));
  }
}

template <typename T>
void lu_case(cusolverDnHandle_t h, int n, int nrhs, ExampleRng& rng) {
  // Small diagonal, and the largest first-column entry placed in row n/3: rows must be exchanged.
  Mat a = random_matrix(n, n, rng);
  for (int i = 0; i < n; ++i) a(i, i) *= 0.01L;
  a(n / 3, 0) = 3;
  a = rounded<T>(a);
  int lda = n + 3;
  T* da = to_device<T>(a, lda);
  int *piv = nullptr, *info = nullptr;
  CHECK(cudaMalloc(&piv, n * sizeof(int)));
  CHECK(cudaMalloc(&info, sizeof(int)));
  int lwork = 0;
  CHECK_SOLVER(getrf_size(h, n, da, lda, &lwork));
  T* work = nullptr;
  CHECK(cudaMalloc(&work, std::max(lwork, 1) * sizeof(T)));
  CHECK_SOLVER(getrf(h, n, da, lda, work, piv, info));
  if (int i = read_info(info); i != 0) example_fail("getrf (%s, n=%d): info %d", type_name<T>(), n, i);
  std::vector<int> ipiv(n);
  CHECK(cudaMemcpy(ipiv.data(), piv, n * sizeof(int), cudaMemcpyDeviceToHost));
  // ipiv is 1-based, ipiv[i] >= i+1, and the first pivot (chosen before any rounding) is exact.
  for (int i = 0; i < n; ++i)
    if (ipiv[i] < i + 1 || ipiv[i] > n) example_fail("getrf (%s): ipiv[%d] = %d", type_name<T>(), i, ipiv[i]);
  if (ipiv[0] != n / 3 + 1) example_fail("getrf (%s): ipiv[0] = %d, expected %d", type_name<T>(), ipiv[0], n / 3 + 1);
  // P L U == A: apply the row exchanges to A and compare with L U.
  Mat lu = from_device<T>(da, n, n, lda);
  Mat l(n, n), u(n, n), pa = a;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      if (i > j) l(i, j) = lu(i, j);
      else u(i, j) = lu(i, j);
      if (i == j) l(i, i) = 1;
    }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) std::swap(pa(i, j), pa(ipiv[i] - 1, j));
  Mat prod = multiply(l, u);
  for (size_t i = 0; i < prod.v.size(); ++i) prod.v[i] -= pa.v[i];
  expect_ratio("getrf: ||P L U - A||", type_name<T>(), norm1(prod) / (n * norm1(a) * eps<T>()));
  // Solves with A and with A^T.
  for (auto op : {CUBLAS_OP_N, CUBLAS_OP_T}) {
    Mat b = rounded<T>(random_matrix(n, nrhs, rng));
    int ldb = n + 1;
    T* db = to_device<T>(b, ldb);
    CHECK_SOLVER(getrs(h, op, n, nrhs, da, lda, piv, db, ldb, info));
    if (int i = read_info(info); i != 0) example_fail("getrs (%s): info %d", type_name<T>(), i);
    check_solution<T>(op == CUBLAS_OP_N ? "getrs A x = b" : "getrs A^T x = b", a, b,
                      from_device<T>(db, n, nrhs, ldb), op == CUBLAS_OP_T);
    CHECK(cudaFree(db));
  }
  // Singular: column `zero` of A is zero, so U(zero, zero) is exactly zero and getrf reports
  // info = zero + 1 (LAPACK's convention: the factorization completes, U is singular).
  const int zero = n / 2 + 1;
  Mat s = rounded<T>(random_matrix(n, n, rng));
  for (int i = 0; i < n; ++i) s(i, zero) = 0;
  T* ds = to_device<T>(s, lda);
  CHECK_SOLVER(getrf(h, n, ds, lda, work, piv, info));
  if (int i = read_info(info); i != zero + 1)
    example_fail("getrf of a singular matrix (%s): info %d, expected %d", type_name<T>(), i, zero + 1);
  // A leading dimension smaller than n is refused before anything runs, LAPACK's way: info = -4
  // (the fourth argument, lda, is illegal). cuSOLVER 13's getrf returns CUSOLVER_STATUS_SUCCESS
  // with it (its documentation says INVALID_VALUE; potrf below does return that), so either
  // status is accepted but the info must say which argument was wrong.
  cusolverStatus_t st = getrf(h, n, ds, n - 1, work, piv, info);
  if (st != CUSOLVER_STATUS_SUCCESS && st != CUSOLVER_STATUS_INVALID_VALUE)
    example_fail("getrf with lda < n (%s) returned %d", type_name<T>(), int(st));
  if (int i = read_info(info); i != -4)
    example_fail("getrf with lda < n (%s): info %d, expected -4", type_name<T>(), i);
  CHECK(cudaFree(ds));
  CHECK(cudaFree(work));
  CHECK(cudaFree(da));
  CHECK(cudaFree(piv));
  CHECK(cudaFree(info));
}

template <typename T>
void cholesky_case(cusolverDnHandle_t h, int n, cublasFillMode_t uplo, ExampleRng& rng) {
  bool lower = uplo == CUBLAS_FILL_MODE_LOWER;
  // A = G G^T / n + I: symmetric positive definite, condition number of a few tens.
  Mat g = random_matrix(n, n, rng);
  Mat a = multiply(transpose(g), transpose(g), true);  // G G^T
  for (auto& x : a.v) x /= n;
  for (int i = 0; i < n; ++i) a(i, i) += 1;
  a = rounded<T>(a);
  int lda = n;
  // Only the `uplo` triangle is referenced: poison the other one.
  Mat given = a;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i)
      if (lower ? i < j : i > j) given(i, j) = std::numeric_limits<T>::quiet_NaN();
  T* da = to_device<T>(given, lda);
  int* info = nullptr;
  CHECK(cudaMalloc(&info, sizeof(int)));
  int lwork = 0;
  CHECK_SOLVER(potrf_size(h, uplo, n, da, lda, &lwork));
  T* work = nullptr;
  CHECK(cudaMalloc(&work, std::max(lwork, 1) * sizeof(T)));
  CHECK_SOLVER(potrf(h, uplo, n, da, lda, work, lwork, info));
  const char* what = lower ? "potrf lower: ||L L^T - A||" : "potrf upper: ||U^T U - A||";
  if (int i = read_info(info); i != 0) example_fail("%s (%s): info %d", what, type_name<T>(), i);
  Mat f = from_device<T>(da, n, n, lda), l(n, n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i)
      if (lower ? i >= j : i <= j) l(lower ? i : j, lower ? j : i) = f(i, j);
  Mat llt = multiply(l, transpose(l));
  for (size_t i = 0; i < llt.v.size(); ++i) llt.v[i] -= a.v[i];
  expect_ratio(what, type_name<T>(), norm1(llt) / (n * norm1(a) * eps<T>()));
  const int nrhs = 2;
  Mat b = rounded<T>(random_matrix(n, nrhs, rng));
  T* db = to_device<T>(b, n);
  CHECK_SOLVER(potrs(h, uplo, n, nrhs, da, lda, db, n, info));
  if (int i = read_info(info); i != 0) example_fail("potrs (%s): info %d", type_name<T>(), i);
  check_solution<T>("potrs A x = b", a, b, from_device<T>(db, n, nrhs, n), false);
  // Not positive definite: row and column p are zero except a(p,p) = -1, so the leading minor
  // of order p+1 is negative and potrf reports info = p+1.
  const int p = n / 2 + 3;
  Mat bad = a;
  for (int i = 0; i < n; ++i) bad(i, p) = bad(p, i) = 0;
  bad(p, p) = -1;
  T* dbad = to_device<T>(bad, lda);
  CHECK_SOLVER(potrf(h, uplo, n, dbad, lda, work, lwork, info));
  if (int i = read_info(info); i != p + 1)
    example_fail("potrf of an indefinite matrix (%s): info %d, expected %d", type_name<T>(), i, p + 1);
  // A leading dimension smaller than n: CUSOLVER_STATUS_INVALID_VALUE and info = -4.
  if (cusolverStatus_t st = potrf(h, uplo, n, dbad, n - 1, work, lwork, info); st != CUSOLVER_STATUS_INVALID_VALUE)
    example_fail("potrf with lda < n (%s) returned %d, expected CUSOLVER_STATUS_INVALID_VALUE", type_name<T>(), int(st));
  if (int i = read_info(info); i != -4)
    example_fail("potrf with lda < n (%s): info %d, expected -4", type_name<T>(), i);
  CHECK(cudaFree(dbad));
  CHECK(cudaFree(db));
  CHECK(cudaFree(work));
  CHECK(cudaFree(da));
  CHECK(cudaFree(info));
}

template <typename T>
void eigen_case(cusolverDnHandle_t h, int n, cublasFillMode_t uplo, ExampleRng& rng) {
  Mat a = random_matrix(n, n, rng);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < j; ++i) a(i, j) = a(j, i);
  a = rounded<T>(a);
  int lda = n + 2;
  T* da = to_device<T>(a, lda);
  T* dw = nullptr;
  int* info = nullptr;
  CHECK(cudaMalloc(&dw, n * sizeof(T)));
  CHECK(cudaMalloc(&info, sizeof(int)));
  int lwork = 0;
  CHECK_SOLVER(syevd_size(h, uplo, n, da, lda, dw, &lwork));
  T* work = nullptr;
  CHECK(cudaMalloc(&work, std::max(lwork, 1) * sizeof(T)));
  CHECK_SOLVER(syevd(h, uplo, n, da, lda, dw, work, lwork, info));
  if (int i = read_info(info); i != 0) example_fail("syevd (%s): info %d", type_name<T>(), i);
  std::vector<T> w(n);
  CHECK(cudaMemcpy(w.data(), dw, n * sizeof(T), cudaMemcpyDeviceToHost));
  Mat v = from_device<T>(da, n, n, lda);
  ld anorm = norm1(a);
  std::vector<ld> want = jacobi_eigenvalues(a);
  for (int i = 0; i < n; ++i) {
    if (i > 0 && w[i] < w[i - 1]) example_fail("syevd (%s): eigenvalues not ascending at %d", type_name<T>(), i);
    if (!(std::fabs(w[i] - want[i]) / (n * anorm * eps<T>()) < kThresh))
      example_fail("syevd (%s): eigenvalue %d = %.9g, expected %.9Lg", type_name<T>(), i, double(w[i]), want[i]);
  }
  Mat av = multiply(a, v);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) av(i, j) -= v(i, j) * ld(w[j]);
  expect_ratio("syevd: ||A V - V W||", type_name<T>(), norm1(av) / (n * anorm * eps<T>()));
  Mat vtv = multiply(v, v, true);
  for (int i = 0; i < n; ++i) vtv(i, i) -= 1;
  expect_ratio("syevd: ||V^T V - I||", type_name<T>(), norm1(vtv) / (n * eps<T>()));
  CHECK(cudaFree(work));
  CHECK(cudaFree(da));
  CHECK(cudaFree(dw));
  CHECK(cudaFree(info));
}

}  // namespace

int main() {
  cusolverDnHandle_t h;
  CHECK_SOLVER(cusolverDnCreate(&h));
  ExampleRng rng(4711);
  lu_case<float>(h, 67, 3, rng);
  lu_case<double>(h, 45, 2, rng);
  cholesky_case<float>(h, 70, CUBLAS_FILL_MODE_LOWER, rng);
  cholesky_case<double>(h, 41, CUBLAS_FILL_MODE_UPPER, rng);
  eigen_case<float>(h, 40, CUBLAS_FILL_MODE_LOWER, rng);
  eigen_case<double>(h, 33, CUBLAS_FILL_MODE_UPPER, rng);
  CHECK_SOLVER(cusolverDnDestroy(h));
  return example_pass();
}
