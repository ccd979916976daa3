// cuSPARSE's generic API on the emulator, checked against products computed on the host:
// SpMV (y = alpha op(A) x + beta y) and SpMM (C = alpha op(A) B + beta C) with a CSR matrix whose
// pattern has empty rows (first, last and every seventh), one full row and rows of 1..12 scattered
// entries, in float and double, with A and with A transposed, with each CSR algorithm, column- and
// row-major dense matrices, zero- and one-based indices, beta = 0 over a poisoned output, and the
// documented buffer-size -> workspace -> compute sequence.
//
// Build: nvcc -o cusparse_spmv_spmm cusparse_spmv_spmm.cu -lcusparse
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "sparse_check.h"

namespace {

// The sparse matrix, rows x cols, in CSR with zero-based indices (values kept in double; the
// float runs round them, and the host reference uses the rounded values).
struct Csr {
  int rows = 0, cols = 0;
  std::vector<int> offsets, columns;
  std::vector<double> values;
};

Csr make_matrix(int rows, int cols, ExampleRng& rng) {
  Csr a;
  a.rows = rows;
  a.cols = cols;
  a.offsets.push_back(0);
  std::vector<char> used(cols);
  for (int r = 0; r < rows; ++r) {
    int count = 0;
    if (r == 0 || r == rows - 1 || r % 7 == 3) count = 0;        // empty rows
    else if (r == rows / 2) count = cols;                         // one full row
    else count = rng.range(1, 12);
    std::fill(used.begin(), used.end(), 0);
    for (int placed = 0; placed < count;) {
      int c = count == cols ? placed : rng.range(0, cols - 1);
      if (used[c]) continue;
      used[c] = 1;
      ++placed;
    }
    for (int c = 0; c < cols; ++c)
      if (used[c]) {
        a.columns.push_back(c);
        a.values.push_back(rng.uniform(-1.f, 1.f));
      }
    a.offsets.push_back(static_cast<int>(a.columns.size()));
  }
  return a;
}

// Error bound. Each output element is beta*y + alpha * sum of `terms` products, computed by the
// library in T in some order (a row split across threads, atomics for the transpose). A sum of
// n products in precision u, in any order, is within n*u*sum|products| of the exact value
// (the standard bound gamma_n = n*u/(1-n*u), Higham, "Accuracy and Stability of Numerical
// Algorithms", 3.1); scaling by alpha and adding beta*y costs two more roundings. We allow
// 2*(n+3)*u*(|alpha| sum|a*x| + |beta*y|): a factor of 2 over that bound, so an error that
// misses a term (at least ~1e-7 relative for these values) or uses a wrong index is caught.
template <typename T>
void expect_close(const char* what, const std::vector<double>& want, const std::vector<double>& magnitude,
                  const std::vector<int>& terms, const std::vector<T>& got) {
  const double u = std::numeric_limits<T>::epsilon() / 2;
  for (size_t i = 0; i < want.size(); ++i) {
    double tol = 2 * (terms[i] + 3) * u * magnitude[i];
    if (!(std::fabs(double(got[i]) - want[i]) <= tol))
      example_fail("%s (%s): element %zu = %.17g, expected %.17g (tolerance %.3g)", what,
                   type_name<T>(), i, double(got[i]), want[i], tol);
  }
}

// Device copies of one matrix in T (its values rounded to T), with 0- or 1-based indices.
template <typename T>
struct DeviceMatrix : DeviceCsr<T> {
  DeviceMatrix(const Csr& a, int base)
      : DeviceCsr<T>(a.rows, a.cols, a.offsets, a.columns, std::vector<T>(a.values.begin(), a.values.end()), base) {}
};

// y = alpha op(A) x + beta y on the host in double, with the magnitudes and term counts that
// expect_close needs.
template <typename T>
void reference_spmv(const Csr& a, const std::vector<T>& av, bool transpose, double alpha, const std::vector<T>& x,
                    double beta, const std::vector<T>& y, std::vector<double>& want,
                    std::vector<double>& magnitude, std::vector<int>& terms) {
  size_t out = transpose ? a.cols : a.rows;
  want.assign(out, 0);
  magnitude.assign(out, 0);
  terms.assign(out, 0);
  for (int r = 0; r < a.rows; ++r)
    for (int p = a.offsets[r]; p < a.offsets[r + 1]; ++p) {
      int c = a.columns[p];
      int o = transpose ? c : r, i = transpose ? r : c;
      double prod = double(av[p]) * double(x[i]);
      want[o] += prod;
      magnitude[o] += std::fabs(prod);
      ++terms[o];
    }
  for (size_t o = 0; o < out; ++o) {
    double by = beta == 0 ? 0 : beta * double(y[o]);
    want[o] = alpha * want[o] + by;
    magnitude[o] = std::fabs(alpha) * magnitude[o] + std::fabs(by);
  }
}

template <typename T>
void spmv_case(cusparseHandle_t handle, const Csr& a, const DeviceMatrix<T>& da, cusparseOperation_t op,
               cusparseSpMVAlg_t alg, double alpha_d, double beta_d, ExampleRng& rng, const char* what) {
  bool transpose = op != CUSPARSE_OPERATION_NON_TRANSPOSE;
  int nx = transpose ? a.rows : a.cols, ny = transpose ? a.cols : a.rows;
  std::vector<T> x(nx), y(ny);
  for (auto& v : x) v = rng.uniform(-2.f, 2.f);
  // beta = 0 must not read y: fill it with NaN, which would poison any product with it.
  for (auto& v : y) v = beta_d == 0 ? std::numeric_limits<T>::quiet_NaN() : T(rng.uniform(-1.f, 1.f));
  T *dx = nullptr, *dy = nullptr;
  CHECK(cudaMalloc(&dx, nx * sizeof(T)));
  CHECK(cudaMalloc(&dy, ny * sizeof(T)));
  CHECK(cudaMemcpy(dx, x.data(), nx * sizeof(T), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dy, y.data(), ny * sizeof(T), cudaMemcpyHostToDevice));
  cusparseDnVecDescr_t vx, vy;
  CHECK_SPARSE(cusparseCreateDnVec(&vx, nx, dx, data_type<T>()));
  CHECK_SPARSE(cusparseCreateDnVec(&vy, ny, dy, data_type<T>()));
  T alpha = T(alpha_d), beta = T(beta_d);
  size_t bytes = 0;
  CHECK_SPARSE(cusparseSpMV_bufferSize(handle, op, &alpha, da.descr, vx, &beta, vy, data_type<T>(), alg, &bytes));
  void* work = nullptr;
  if (bytes) CHECK(cudaMalloc(&work, bytes));
  CHECK_SPARSE(cusparseSpMV(handle, op, &alpha, da.descr, vx, &beta, vy, data_type<T>(), alg, work));
  std::vector<T> got(ny);
  CHECK(cudaMemcpy(got.data(), dy, ny * sizeof(T), cudaMemcpyDeviceToHost));
  std::vector<double> want, magnitude;
  std::vector<int> terms;
  reference_spmv(a, da.host_values, transpose, alpha_d, x, beta_d, y, want, magnitude, terms);
  expect_close(what, want, magnitude, terms, got);
  CHECK_SPARSE(cusparseDestroyDnVec(vx));
  CHECK_SPARSE(cusparseDestroyDnVec(vy));
  CHECK(cudaFree(work));
  CHECK(cudaFree(dx));
  CHECK(cudaFree(dy));
}

// C (m x n) = alpha op(A) B + beta C, B (k x n) and C stored in `order`.
template <typename T>
void spmm_case(cusparseHandle_t handle, const Csr& a, const DeviceMatrix<T>& da, cusparseOperation_t op,
               cusparseOrder_t order, cusparseSpMMAlg_t alg, int n, double alpha_d, double beta_d,
               ExampleRng& rng, const char* what) {
  bool transpose = op != CUSPARSE_OPERATION_NON_TRANSPOSE;
  int k = transpose ? a.rows : a.cols, m = transpose ? a.cols : a.rows;
  bool row_major = order == CUSPARSE_ORDER_ROW;
  // Leading dimensions larger than needed, so padding that must not be read or written exists.
  int ldb = row_major ? n + 3 : k + 2, ldc = row_major ? n + 1 : m + 5;
  size_t b_size = size_t(ldb) * (row_major ? k : n), c_size = size_t(ldc) * (row_major ? m : n);
  auto at_b = [&](int i, int j) { return row_major ? size_t(i) * ldb + j : size_t(j) * ldb + i; };
  auto at_c = [&](int i, int j) { return row_major ? size_t(i) * ldc + j : size_t(j) * ldc + i; };
  std::vector<T> b(b_size, T(777)), c(c_size, T(-555));
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < n; ++j) b[at_b(i, j)] = T(rng.uniform(-2.f, 2.f));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      c[at_c(i, j)] = beta_d == 0 ? std::numeric_limits<T>::quiet_NaN() : T(rng.uniform(-1.f, 1.f));
  T *db = nullptr, *dc = nullptr;
  CHECK(cudaMalloc(&db, b_size * sizeof(T)));
  CHECK(cudaMalloc(&dc, c_size * sizeof(T)));
  CHECK(cudaMemcpy(db, b.data(), b_size * sizeof(T), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dc, c.data(), c_size * sizeof(T), cudaMemcpyHostToDevice));
  cusparseDnMatDescr_t mb, mc;
  CHECK_SPARSE(cusparseCreateDnMat(&mb, k, n, ldb, db, data_type<T>(), order));
  CHECK_SPARSE(cusparseCreateDnMat(&mc, m, n, ldc, dc, data_type<T>(), order));
  T alpha = T(alpha_d), beta = T(beta_d);
  size_t bytes = 0;
  CHECK_SPARSE(cusparseSpMM_bufferSize(handle, op, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, da.descr, mb,
                                       &beta, mc, data_type<T>(), alg, &bytes));
  void* work = nullptr;
  if (bytes) CHECK(cudaMalloc(&work, bytes));
  CHECK_SPARSE(cusparseSpMM(handle, op, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, da.descr, mb, &beta, mc,
                            data_type<T>(), alg, work));
  std::vector<T> got(c_size);
  CHECK(cudaMemcpy(got.data(), dc, c_size * sizeof(T), cudaMemcpyDeviceToHost));
  // Column j of C is SpMV of column j of B: reuse that reference.
  for (int j = 0; j < n; ++j) {
    std::vector<T> xj(k), yj(m), gj(m);
    for (int i = 0; i < k; ++i) xj[i] = b[at_b(i, j)];
    for (int i = 0; i < m; ++i) {
      yj[i] = c[at_c(i, j)];
      gj[i] = got[at_c(i, j)];
    }
    std::vector<double> want, magnitude;
    std::vector<int> terms;
    reference_spmv(a, da.host_values, transpose, alpha_d, xj, beta_d, yj, want, magnitude, terms);
    expect_close(what, want, magnitude, terms, gj);
  }
  // The padding of C is untouched.
  for (int i = 0; i < (row_major ? m : n); ++i)
    for (int p = row_major ? n : m; p < ldc; ++p)
      if (std::memcmp(&got[size_t(i) * ldc + p], &c[size_t(i) * ldc + p], sizeof(T)) != 0)
        example_fail("%s (%s): padding element %d of %s %d was written", what, type_name<T>(), p,
                     row_major ? "row" : "column", i);
  CHECK_SPARSE(cusparseDestroyDnMat(mb));
  CHECK_SPARSE(cusparseDestroyDnMat(mc));
  CHECK(cudaFree(work));
  CHECK(cudaFree(db));
  CHECK(cudaFree(dc));
}

template <typename T>
void run_all(cusparseHandle_t handle, const Csr& a, ExampleRng& rng) {
  const auto N = CUSPARSE_OPERATION_NON_TRANSPOSE, Tr = CUSPARSE_OPERATION_TRANSPOSE;
  {
    DeviceMatrix<T> da(a, 0);
    spmv_case<T>(handle, a, da, N, CUSPARSE_SPMV_ALG_DEFAULT, 1.5, -0.75, rng, "SpMV A, default");
    spmv_case<T>(handle, a, da, N, CUSPARSE_SPMV_CSR_ALG1, 0.5, 2.0, rng, "SpMV A, CSR_ALG1");
    spmv_case<T>(handle, a, da, N, CUSPARSE_SPMV_CSR_ALG2, -1.25, 0.5, rng, "SpMV A, CSR_ALG2");
    spmv_case<T>(handle, a, da, N, CUSPARSE_SPMV_ALG_DEFAULT, 2.0, 0.0, rng, "SpMV A, beta 0");
    spmv_case<T>(handle, a, da, Tr, CUSPARSE_SPMV_ALG_DEFAULT, 1.5, -0.75, rng, "SpMV A^T, default");
    spmv_case<T>(handle, a, da, Tr, CUSPARSE_SPMV_CSR_ALG1, 0.75, 0.0, rng, "SpMV A^T, CSR_ALG1, beta 0");
    spmm_case<T>(handle, a, da, N, CUSPARSE_ORDER_COL, CUSPARSE_SPMM_ALG_DEFAULT, 5, 1.5, -0.5, rng,
                 "SpMM A, column-major, default");
    spmm_case<T>(handle, a, da, N, CUSPARSE_ORDER_COL, CUSPARSE_SPMM_CSR_ALG1, 7, -0.5, 1.0, rng,
                 "SpMM A, column-major, CSR_ALG1");
    spmm_case<T>(handle, a, da, N, CUSPARSE_ORDER_ROW, CUSPARSE_SPMM_CSR_ALG2, 6, 1.0, 0.25, rng,
                 "SpMM A, row-major, CSR_ALG2");
    spmm_case<T>(handle, a, da, N, CUSPARSE_ORDER_COL, CUSPARSE_SPMM_CSR_ALG3, 4, 2.0, 0.0, rng,
                 "SpMM A, column-major, CSR_ALG3, beta 0");
    spmm_case<T>(handle, a, da, Tr, CUSPARSE_ORDER_COL, CUSPARSE_SPMM_ALG_DEFAULT, 3, 1.25, -1.0, rng,
                 "SpMM A^T, column-major, default");
  }
  DeviceMatrix<T> one_based(a, 1);
  spmv_case<T>(handle, a, one_based, N, CUSPARSE_SPMV_ALG_DEFAULT, 1.0, 1.0, rng, "SpMV A, one-based");
  spmm_case<T>(handle, a, one_based, N, CUSPARSE_ORDER_ROW, CUSPARSE_SPMM_ALG_DEFAULT, 4, 1.0, 1.0, rng,
               "SpMM A, row-major, one-based");
}

}  // namespace

int main() {
  cusparseHandle_t handle;
  CHECK_SPARSE(cusparseCreate(&handle));
  int version = 0;
  CHECK_SPARSE(cusparseGetVersion(handle, &version));
  if (version < 12000) example_fail("cusparseGetVersion: %d", version);
  ExampleRng rng(2024);
  Csr a = make_matrix(97, 61, rng);
  run_all<float>(handle, a, rng);
  run_all<double>(handle, a, rng);
  // The handle works on a stream of the program's own too.
  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  CHECK_SPARSE(cusparseSetStream(handle, stream));
  Csr small = make_matrix(40, 33, rng);
  run_all<float>(handle, small, rng);
  CHECK(cudaStreamSynchronize(stream));
  CHECK_SPARSE(cusparseDestroy(handle));
  CHECK(cudaStreamDestroy(stream));
  return example_pass();
}
