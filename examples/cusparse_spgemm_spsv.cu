// cuSPARSE's generic sparse x sparse product and sparse triangular solve on the emulator, checked
// against the host in float and double:
//   SpGEMM  C = alpha A B with A, B in CSR (empty rows in both, a dense row in A), through the
//           documented workEstimation -> compute -> copy sequence; C's pattern must be exactly the
//           structural product (every (i, j) with some A(i,k) B(k,j) stored, nothing else, no
//           duplicates) and its values must match;
//   SpSV    op(L) x = alpha b for a lower triangular L (A and A^T), and U x = b with a unit
//           diagonal declared (the stored diagonal, 5.0, must be ignored).
// cuSPARSE's SpGEMM kernels use the video instruction vshr.u32.u32.u32.clamp.add: before the
// emulator ran it, the image failed to load and cusparseSpGEMM_* returned success with an empty C.
//
// Build: nvcc -o cusparse_spgemm_spsv cusparse_spgemm_spsv.cu -lcusparse
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "sparse_check.h"

namespace {

// A host CSR matrix (zero-based), values already rounded to T.
template <typename T>
struct Csr {
  int rows = 0, cols = 0;
  std::vector<int> offsets{0}, columns;
  std::vector<T> values;
  int nnz() const { return static_cast<int>(columns.size()); }
};

// Row r holds `count(r)` distinct random columns in ascending order.
template <typename T, typename Count>
Csr<T> random_csr(int rows, int cols, Count count, ExampleRng& rng) {
  Csr<T> a;
  a.rows = rows;
  a.cols = cols;
  std::vector<char> used(cols);
  for (int r = 0; r < rows; ++r) {
    int want = std::min(count(r), cols);
    std::fill(used.begin(), used.end(), 0);
    for (int placed = 0; placed < want;) {
      int c = rng.range(0, cols - 1);
      if (!used[c]) used[c] = 1, ++placed;
    }
    for (int c = 0; c < cols; ++c)
      if (used[c]) {
        a.columns.push_back(c);
        a.values.push_back(T(rng.uniform(-1.f, 1.f)));
      }
    a.offsets.push_back(a.nnz());
  }
  return a;
}

// A host matrix on the device (zero-based).
template <typename T>
struct DeviceMatrix : DeviceCsr<T> {
  explicit DeviceMatrix(const Csr<T>& a) : DeviceCsr<T>(a.rows, a.cols, a.offsets, a.columns, a.values) {}
};

// Error bound, as in cusparse_spmv_spmm.cu: a sum of n products in precision u, in any order, is
// within n*u*sum|products| of the exact value (Higham, "Accuracy and Stability of Numerical
// Algorithms", 3.1); alpha and one more rounding add 2; a factor of 2 on top.
template <typename T>
double bound(int terms, double magnitude) {
  return 2 * (terms + 2) * (std::numeric_limits<T>::epsilon() / 2) * magnitude;
}

template <typename T>
void spgemm_case(cusparseHandle_t handle, const Csr<T>& a, const Csr<T>& b, double alpha_d) {
  DeviceMatrix<T> da(a), db(b);
  cusparseSpMatDescr_t c;
  CHECK_SPARSE(cusparseCreateCsr(&c, a.rows, b.cols, 0, nullptr, nullptr, nullptr, CUSPARSE_INDEX_32I,
                                 CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, data_type<T>()));
  cusparseSpGEMMDescr_t g;
  CHECK_SPARSE(cusparseSpGEMM_createDescr(&g));
  const auto N = CUSPARSE_OPERATION_NON_TRANSPOSE;
  const auto alg = CUSPARSE_SPGEMM_DEFAULT;
  T alpha = T(alpha_d), beta = T(0);
  size_t bytes1 = 0, bytes2 = 0;
  void *work1 = nullptr, *work2 = nullptr;
  CHECK_SPARSE(cusparseSpGEMM_workEstimation(handle, N, N, &alpha, da.descr, db.descr, &beta, c, data_type<T>(), alg,
                                             g, &bytes1, nullptr));
  CHECK(cudaMalloc(&work1, std::max<size_t>(bytes1, 1)));
  CHECK_SPARSE(cusparseSpGEMM_workEstimation(handle, N, N, &alpha, da.descr, db.descr, &beta, c, data_type<T>(), alg,
                                             g, &bytes1, work1));
  CHECK_SPARSE(cusparseSpGEMM_compute(handle, N, N, &alpha, da.descr, db.descr, &beta, c, data_type<T>(), alg, g,
                                      &bytes2, nullptr));
  CHECK(cudaMalloc(&work2, std::max<size_t>(bytes2, 1)));
  CHECK_SPARSE(cusparseSpGEMM_compute(handle, N, N, &alpha, da.descr, db.descr, &beta, c, data_type<T>(), alg, g,
                                      &bytes2, work2));
  int64_t rows = 0, cols = 0, nnz = 0;
  CHECK_SPARSE(cusparseSpMatGetSize(c, &rows, &cols, &nnz));
  if (rows != a.rows || cols != b.cols) example_fail("SpGEMM (%s): C is %lld x %lld", type_name<T>(), (long long)rows, (long long)cols);
  int *c_off = nullptr, *c_col = nullptr;
  T* c_val = nullptr;
  CHECK(cudaMalloc(&c_off, (rows + 1) * sizeof(int)));
  CHECK(cudaMalloc(&c_col, std::max<int64_t>(nnz, 1) * sizeof(int)));
  CHECK(cudaMalloc(&c_val, std::max<int64_t>(nnz, 1) * sizeof(T)));
  CHECK_SPARSE(cusparseCsrSetPointers(c, c_off, c_col, c_val));
  CHECK_SPARSE(cusparseSpGEMM_copy(handle, N, N, &alpha, da.descr, db.descr, &beta, c, data_type<T>(), alg, g));
  std::vector<int> off(rows + 1), col(nnz);
  std::vector<T> val(nnz);
  CHECK(cudaMemcpy(off.data(), c_off, off.size() * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(col.data(), c_col, col.size() * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(val.data(), c_val, val.size() * sizeof(T), cudaMemcpyDeviceToHost));
  // Host product row by row: value, magnitude, term count, and whether (i, j) is structural.
  int64_t structural = 0;
  std::vector<double> want(b.cols), mag(b.cols);
  std::vector<int> terms(b.cols), seen(b.cols);
  for (int i = 0; i < a.rows; ++i) {
    std::fill(want.begin(), want.end(), 0);
    std::fill(mag.begin(), mag.end(), 0);
    std::fill(terms.begin(), terms.end(), 0);
    std::fill(seen.begin(), seen.end(), 0);
    for (int p = a.offsets[i]; p < a.offsets[i + 1]; ++p)
      for (int q = b.offsets[a.columns[p]]; q < b.offsets[a.columns[p] + 1]; ++q) {
        double prod = alpha_d * double(a.values[p]) * double(b.values[q]);
        want[b.columns[q]] += prod;
        mag[b.columns[q]] += std::fabs(prod);
        ++terms[b.columns[q]];
      }
    int row_structural = 0;
    for (int j = 0; j < b.cols; ++j) row_structural += terms[j] > 0;
    structural += row_structural;
    if (off[i + 1] - off[i] != row_structural)
      example_fail("SpGEMM (%s): row %d of C has %d entries, the product has %d", type_name<T>(), i,
                   off[i + 1] - off[i], row_structural);
    for (int p = off[i]; p < off[i + 1]; ++p) {
      int j = col[p];
      if (j < 0 || j >= b.cols || terms[j] == 0 || seen[j]++)
        example_fail("SpGEMM (%s): C(%d, %d) should not be stored (or is stored twice)", type_name<T>(), i, j);
      if (!(std::fabs(double(val[p]) - want[j]) <= bound<T>(terms[j], mag[j])))
        example_fail("SpGEMM (%s): C(%d, %d) = %.17g, expected %.17g", type_name<T>(), i, j, double(val[p]), want[j]);
    }
  }
  if (nnz != structural) example_fail("SpGEMM (%s): nnz %lld, expected %lld", type_name<T>(), (long long)nnz, (long long)structural);
  if (structural == 0) example_fail("SpGEMM (%s): the test product is empty", type_name<T>());
  CHECK_SPARSE(cusparseSpGEMM_destroyDescr(g));
  CHECK_SPARSE(cusparseDestroySpMat(c));
  CHECK(cudaFree(work1));
  CHECK(cudaFree(work2));
  CHECK(cudaFree(c_off));
  CHECK(cudaFree(c_col));
  CHECK(cudaFree(c_val));
}

// Solves op(M) x = alpha b with M triangular (`fill`, `diag`) and checks the residual against the
// componentwise backward error of substitution: |b - op(M) x| <= gamma_n |op(M)| |x| (Higham 8.1).
template <typename T>
void spsv_case(cusparseHandle_t handle, const Csr<T>& m, cusparseFillMode_t fill, cusparseDiagType_t diag,
               cusparseOperation_t op, double alpha_d, ExampleRng& rng, const char* what) {
  const int n = m.rows;
  DeviceMatrix<T> dm(m);
  CHECK_SPARSE(cusparseSpMatSetAttribute(dm.descr, CUSPARSE_SPMAT_FILL_MODE, &fill, sizeof fill));
  CHECK_SPARSE(cusparseSpMatSetAttribute(dm.descr, CUSPARSE_SPMAT_DIAG_TYPE, &diag, sizeof diag));
  std::vector<T> b(n);
  for (auto& v : b) v = T(rng.uniform(-1.f, 1.f));
  T *db = nullptr, *dx = nullptr;
  CHECK(cudaMalloc(&db, n * sizeof(T)));
  CHECK(cudaMalloc(&dx, n * sizeof(T)));
  CHECK(cudaMemcpy(db, b.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  CHECK(cudaMemset(dx, 0xff, n * sizeof(T)));  // NaN: x must be written, not read
  cusparseDnVecDescr_t vb, vx;
  CHECK_SPARSE(cusparseCreateDnVec(&vb, n, db, data_type<T>()));
  CHECK_SPARSE(cusparseCreateDnVec(&vx, n, dx, data_type<T>()));
  cusparseSpSVDescr_t sv;
  CHECK_SPARSE(cusparseSpSV_createDescr(&sv));
  T alpha = T(alpha_d);
  size_t bytes = 0;
  CHECK_SPARSE(cusparseSpSV_bufferSize(handle, op, &alpha, dm.descr, vb, vx, data_type<T>(), CUSPARSE_SPSV_ALG_DEFAULT,
                                       sv, &bytes));
  void* work = nullptr;
  CHECK(cudaMalloc(&work, std::max<size_t>(bytes, 1)));
  CHECK_SPARSE(cusparseSpSV_analysis(handle, op, &alpha, dm.descr, vb, vx, data_type<T>(), CUSPARSE_SPSV_ALG_DEFAULT,
                                     sv, work));
  CHECK_SPARSE(cusparseSpSV_solve(handle, op, &alpha, dm.descr, vb, vx, data_type<T>(), CUSPARSE_SPSV_ALG_DEFAULT, sv));
  std::vector<T> x(n);
  CHECK(cudaMemcpy(x.data(), dx, n * sizeof(T), cudaMemcpyDeviceToHost));
  // Residual of op(M) x = alpha b, with the unit diagonal when declared.
  bool lower = fill == CUSPARSE_FILL_MODE_LOWER, unit = diag == CUSPARSE_DIAG_TYPE_UNIT;
  bool trans = op != CUSPARSE_OPERATION_NON_TRANSPOSE;
  std::vector<double> r(n), mag(n);
  std::vector<int> terms(n);
  for (int i = 0; i < n; ++i) {
    r[i] = -alpha_d * double(b[i]);
    mag[i] = std::fabs(alpha_d * double(b[i]));
    if (unit) r[i] += x[i], mag[i] += std::fabs(double(x[i])), ++terms[i];
  }
  for (int i = 0; i < n; ++i)
    for (int p = m.offsets[i]; p < m.offsets[i + 1]; ++p) {
      int j = m.columns[p];
      if (j == i ? unit : (lower ? j > i : j < i)) continue;  // outside the declared triangle
      int row = trans ? j : i, c = trans ? i : j;
      double prod = double(m.values[p]) * double(x[c]);
      r[row] += prod;
      mag[row] += std::fabs(prod);
      ++terms[row];
    }
  for (int i = 0; i < n; ++i)
    if (!(std::fabs(r[i]) <= bound<T>(terms[i] + 2, mag[i])))
      example_fail("%s (%s): residual %.3g in row %d (bound %.3g)", what, type_name<T>(), r[i], i,
                   bound<T>(terms[i] + 2, mag[i]));
  CHECK_SPARSE(cusparseSpSV_destroyDescr(sv));
  CHECK_SPARSE(cusparseDestroyDnVec(vb));
  CHECK_SPARSE(cusparseDestroyDnVec(vx));
  CHECK(cudaFree(work));
  CHECK(cudaFree(db));
  CHECK(cudaFree(dx));
}

// A triangular matrix with a dominant diagonal (|d| in [1.5, 2.5], so the solve is well
// conditioned) and a few off-diagonal entries per row; `stored_diag` replaces it when >= 0.
template <typename T>
Csr<T> triangular(int n, bool lower, double stored_diag, ExampleRng& rng) {
  Csr<T> t;
  t.rows = t.cols = n;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      bool off = lower ? j < i : j > i;
      if (j == i) {
        t.columns.push_back(j);
        double d = stored_diag >= 0 ? stored_diag : (rng.range(0, 1) ? 1 : -1) * (1.5 + rng.uniform(0.f, 1.f));
        t.values.push_back(T(d));
      } else if (off && rng.range(0, 9) < 2) {
        t.columns.push_back(j);
        t.values.push_back(T(rng.uniform(-0.3f, 0.3f)));
      }
    }
    t.offsets.push_back(t.nnz());
  }
  return t;
}

template <typename T>
void run_all(cusparseHandle_t handle, ExampleRng& rng) {
  // A: 45 x 38, rows 0, 7, 14, ... empty, row 20 full; B: 38 x 51, every fifth row empty.
  Csr<T> a = random_csr<T>(45, 38, [](int r) { return r % 7 == 0 ? 0 : r == 20 ? 38 : 1 + r % 4; }, rng);
  Csr<T> b = random_csr<T>(38, 51, [](int r) { return r % 5 == 2 ? 0 : 1 + r % 3; }, rng);
  spgemm_case<T>(handle, a, b, 1.5);
  const auto N = CUSPARSE_OPERATION_NON_TRANSPOSE, Tr = CUSPARSE_OPERATION_TRANSPOSE;
  Csr<T> l = triangular<T>(57, true, -1, rng);
  spsv_case<T>(handle, l, CUSPARSE_FILL_MODE_LOWER, CUSPARSE_DIAG_TYPE_NON_UNIT, N, 2.0, rng, "SpSV L x = b");
  spsv_case<T>(handle, l, CUSPARSE_FILL_MODE_LOWER, CUSPARSE_DIAG_TYPE_NON_UNIT, Tr, -0.5, rng, "SpSV L^T x = b");
  Csr<T> u = triangular<T>(40, false, 5.0, rng);
  spsv_case<T>(handle, u, CUSPARSE_FILL_MODE_UPPER, CUSPARSE_DIAG_TYPE_UNIT, N, 1.0, rng, "SpSV U x = b, unit diagonal");
}

}  // namespace

int main() {
  cusparseHandle_t handle;
  CHECK_SPARSE(cusparseCreate(&handle));
  ExampleRng rng(77);
  run_all<float>(handle, rng);
  run_all<double>(handle, rng);
  CHECK_SPARSE(cusparseDestroy(handle));
  return example_pass();
}
