// cuBLAS matrix products on the emulator, each checked against a CPU reference computed here:
// Sgemm in every transposition (N, T, C for A and for B), Dgemm, Cgemm (with conjugation),
// Sgemv and Dgemv (N and T, non-unit strides), cublasSgemmBatched and
// cublasSgemmStridedBatched. Sizes are odd and larger than one tile of cuBLAS's kernels
// (64x64 and up), leading dimensions larger than the rows, alpha and beta both non-trivial.
//
// Exactness: most inputs are small integers and alpha, beta are short binary fractions, so every
// product and every partial sum is an integer multiple of 1/4 well below 2^24 (2^53 for double):
// it is exact whatever order or grouping the kernel sums in (split-K included), and the result
// must equal the reference bit for bit (tolerance 0). One Sgemm and one Dgemm use non-integer
// inputs as well; for those the reference is computed in double (long double for D) and the
// bound is the standard one for a dot product of length k summed in any order with rounding
// unit u: |error| <= gamma_k * sum_l |a_il| |b_lj|, gamma_k = k u / (1 - k u), plus one
// rounding of alpha*acc + beta*c (2 u |result| covers both). u = 2^-24 (float), 2^-53 (double).
//
// libcublas.so.13 ships PTX for compute_120 only: this needs an emulated device of compute
// capability 12.0 or later (the default is 13.0).
//
// Build: nvcc -o cublas_gemm cublas_gemm.cu -lcublas
#include <cublas_v2.h>
#include <cuComplex.h>

#include <cmath>
#include <complex>
#include <vector>

#include "blas_check.h"

namespace {

// A column-major matrix on the host with leading dimension ld >= rows.
template <typename T>
struct Mat {
  int rows, cols, ld;
  std::vector<T> v;
  Mat(int r, int c, int ld_) : rows(r), cols(c), ld(ld_), v(static_cast<size_t>(ld_) * c) {}
  T& at(int i, int j) { return v[static_cast<size_t>(j) * ld + i]; }
  const T& at(int i, int j) const { return v[static_cast<size_t>(j) * ld + i]; }
};

const char* op_name(cublasOperation_t op) {
  return op == CUBLAS_OP_N ? "N" : op == CUBLAS_OP_T ? "T" : "C";
}

// Element (i, j) of op(X), where X is stored column-major.
template <typename T>
T op_at(const Mat<T>& x, cublasOperation_t op, int i, int j) {
  return op == CUBLAS_OP_N ? x.at(i, j) : x.at(j, i);
}
std::complex<float> op_at(const Mat<std::complex<float>>& x, cublasOperation_t op, int i, int j) {
  if (op == CUBLAS_OP_N) return x.at(i, j);
  if (op == CUBLAS_OP_T) return x.at(j, i);
  return std::conj(x.at(j, i));
}

// Fills with integers in [lo, hi] (exact in every type used here).
template <typename T>
void fill_int(Mat<T>& x, ExampleRng& rng, int lo, int hi) {
  for (auto& e : x.v) e = static_cast<T>(rng.range(lo, hi));
}
void fill_int(Mat<std::complex<float>>& x, ExampleRng& rng, int lo, int hi) {
  for (auto& e : x.v)
    e = std::complex<float>(static_cast<float>(rng.range(lo, hi)), static_cast<float>(rng.range(lo, hi)));
}

// A matrix with op(A) of size m x k: stored k x m when transposed.
template <typename T>
Mat<T> operand(cublasOperation_t op, int rows, int cols, int pad) {
  return op == CUBLAS_OP_N ? Mat<T>(rows, cols, rows + pad) : Mat<T>(cols, rows, cols + pad);
}

// Compares C after gemm with alpha op(A) op(B) + beta C0; tolerance 0 when `exact`, otherwise
// the gamma_k bound from the header comment.
template <typename T, typename Acc>
void check_gemm(const char* what, cublasOperation_t ta, cublasOperation_t tb, const Mat<T>& a,
                const Mat<T>& b, const Mat<T>& c0, const std::vector<T>& got, int m, int n, int k,
                T alpha, T beta, bool exact, double u) {
  const double gamma = k * u / (1 - k * u);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      Acc acc = 0, mag = 0;
      for (int l = 0; l < k; ++l) {
        const Acc p = static_cast<Acc>(op_at(a, ta, i, l)) * static_cast<Acc>(op_at(b, tb, l, j));
        acc += p;
        mag += std::fabs(p);
      }
      const Acc want = static_cast<Acc>(alpha) * acc + static_cast<Acc>(beta) * static_cast<Acc>(c0.at(i, j));
      const T g = got[static_cast<size_t>(j) * c0.ld + i];
      const double tol = exact ? 0.0
                               : gamma * std::fabs(static_cast<double>(alpha)) * static_cast<double>(mag) +
                                     2 * u * std::fabs(static_cast<double>(want));
      if (!(std::fabs(static_cast<double>(g) - static_cast<double>(want)) <= tol))
        example_fail("%s %s%s: C(%d,%d) = %.17g, expected %.17g (tolerance %.3g)", what,
                     op_name(ta), op_name(tb), i, j, static_cast<double>(g),
                     static_cast<double>(want), tol);
    }
}

void sgemm_case(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                bool exact, ExampleRng& rng) {
  Mat<float> a = operand<float>(ta, m, k, 3), b = operand<float>(tb, k, n, 5), c(m, n, m + 2);
  if (exact) {
    fill_int(a, rng, -4, 4);
    fill_int(b, rng, -4, 4);
    fill_int(c, rng, -8, 8);
  } else {
    for (auto* x : {&a, &b, &c})
      for (float& e : x->v) e = rng.uniform(-1.0f, 1.0f);
  }
  const float alpha = exact ? 1.5f : 0.7f, beta = exact ? -0.25f : 0.3f;
  Dev<float> da(a.v), db(b.v), dc(c.v);
  CHECK_BLAS(cublasSgemm(h, ta, tb, m, n, k, &alpha, da.p, a.ld, db.p, b.ld, &beta, dc.p, c.ld));
  check_gemm<float, double>("Sgemm", ta, tb, a, b, c, dc.get(), m, n, k, alpha, beta, exact,
                            std::ldexp(1.0, -24));
}

void dgemm_case(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                bool exact, ExampleRng& rng) {
  Mat<double> a = operand<double>(ta, m, k, 1), b = operand<double>(tb, k, n, 2), c(m, n, m + 1);
  if (exact) {
    fill_int(a, rng, -9, 9);
    fill_int(b, rng, -9, 9);
    fill_int(c, rng, -9, 9);
  } else {
    for (auto* x : {&a, &b, &c})
      for (double& e : x->v) e = rng.uniform(-1.0f, 1.0f) + rng.uniform(0.0f, 1.0f) * 0x1p-30;
  }
  const double alpha = exact ? -0.5 : 1.1, beta = exact ? 2.0 : -0.9;
  Dev<double> da(a.v), db(b.v), dc(c.v);
  CHECK_BLAS(cublasDgemm(h, ta, tb, m, n, k, &alpha, da.p, a.ld, db.p, b.ld, &beta, dc.p, c.ld));
  check_gemm<double, long double>("Dgemm", ta, tb, a, b, c, dc.get(), m, n, k, alpha, beta, exact,
                                  std::ldexp(1.0, -53));
}

void cgemm_case(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                ExampleRng& rng) {
  using C = std::complex<float>;
  Mat<C> a = operand<C>(ta, m, k, 2), b = operand<C>(tb, k, n, 1), c(m, n, m + 3);
  fill_int(a, rng, -3, 3);
  fill_int(b, rng, -3, 3);
  fill_int(c, rng, -3, 3);
  const C alpha(1.5f, -0.5f), beta(0.25f, 1.0f);
  Dev<C> da(a.v), db(b.v), dc(c.v);
  const cuComplex al = make_cuComplex(alpha.real(), alpha.imag());
  const cuComplex be = make_cuComplex(beta.real(), beta.imag());
  CHECK_BLAS(cublasCgemm(h, ta, tb, m, n, k, &al, reinterpret_cast<const cuComplex*>(da.p), a.ld,
                         reinterpret_cast<const cuComplex*>(db.p), b.ld, &be,
                         reinterpret_cast<cuComplex*>(dc.p), c.ld));
  const std::vector<C> got = dc.get();
  // Integer parts and quarter-step scalars: every real and imaginary partial sum is exact.
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      C acc = 0;
      for (int l = 0; l < k; ++l) acc += op_at(a, ta, i, l) * op_at(b, tb, l, j);
      const C want = alpha * acc + beta * c.at(i, j);
      const C g = got[static_cast<size_t>(j) * c.ld + i];
      if (g != want)
        example_fail("Cgemm %s%s: C(%d,%d) = (%g,%g), expected (%g,%g)", op_name(ta), op_name(tb),
                     i, j, g.real(), g.imag(), want.real(), want.imag());
    }
}

// y = alpha op(A) x + beta y with strides incx, incy; integer data, so exact.
template <typename T>
void gemv_case(cublasHandle_t h, cublasOperation_t op, int m, int n, int incx, int incy,
               ExampleRng& rng) {
  Mat<T> a(m, n, m + 3);
  fill_int(a, rng, -5, 5);
  const int xlen = op == CUBLAS_OP_N ? n : m, ylen = op == CUBLAS_OP_N ? m : n;
  std::vector<T> x(static_cast<size_t>(xlen) * incx), y(static_cast<size_t>(ylen) * incy);
  for (T& e : x) e = static_cast<T>(rng.range(-5, 5));
  for (T& e : y) e = static_cast<T>(rng.range(-5, 5));
  const T alpha = static_cast<T>(0.75), beta = static_cast<T>(-1.5);
  Dev<T> da(a.v), dx(x), dy(y);
  const bool is_float = sizeof(T) == sizeof(float);
  if constexpr (sizeof(T) == sizeof(float))
    CHECK_BLAS(cublasSgemv(h, op, m, n, &alpha, da.p, a.ld, dx.p, incx, &beta, dy.p, incy));
  else
    CHECK_BLAS(cublasDgemv(h, op, m, n, &alpha, da.p, a.ld, dx.p, incx, &beta, dy.p, incy));
  const std::vector<T> got = dy.get();
  for (size_t e = 0; e < y.size(); ++e) {
    T want = y[e];  // elements between the strided ones must stay untouched
    if (e % incy == 0) {
      const int i = static_cast<int>(e / incy);
      double acc = 0;
      for (int l = 0; l < xlen; ++l) {
        const double av = op == CUBLAS_OP_N ? a.at(i, l) : a.at(l, i);
        acc += av * static_cast<double>(x[static_cast<size_t>(l) * incx]);
      }
      want = static_cast<T>(alpha * acc + beta * static_cast<double>(y[e]));
    }
    if (got[e] != want)
      example_fail("%s %s (incx %d, incy %d): y[%zu] = %g, expected %g", is_float ? "Sgemv" : "Dgemv",
                   op_name(op), incx, incy, e, static_cast<double>(got[e]), static_cast<double>(want));
  }
}

// Batched products: `batch` independent m x n x k products, A transposed, B not.
void batched_case(cublasHandle_t h, bool strided, int m, int n, int k, int batch, ExampleRng& rng) {
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  std::vector<Mat<float>> a, b, c;
  for (int i = 0; i < batch; ++i) {
    a.push_back(operand<float>(ta, m, k, 1));
    b.push_back(operand<float>(tb, k, n, 0));
    c.push_back(Mat<float>(m, n, m));
    fill_int(a.back(), rng, -4, 4);
    fill_int(b.back(), rng, -4, 4);
    fill_int(c.back(), rng, -4, 4);
  }
  // One allocation per operand; each matrix at a stride a little larger than its size.
  const size_t sa = a[0].v.size() + 7, sb = b[0].v.size() + 3, sc = c[0].v.size() + 5;
  std::vector<float> ha(sa * batch, 99.0f), hb(sb * batch, 99.0f), hc(sc * batch, 99.0f);
  for (int i = 0; i < batch; ++i) {
    std::copy(a[i].v.begin(), a[i].v.end(), ha.begin() + sa * i);
    std::copy(b[i].v.begin(), b[i].v.end(), hb.begin() + sb * i);
    std::copy(c[i].v.begin(), c[i].v.end(), hc.begin() + sc * i);
  }
  Dev<float> da(ha), db(hb), dc(hc);
  const float alpha = -1.25f, beta = 0.5f;
  if (strided) {
    CHECK_BLAS(cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, da.p, a[0].ld, sa, db.p, b[0].ld,
                                         sb, &beta, dc.p, c[0].ld, sc, batch));
  } else {
    // Pointer arrays in device memory, in reverse order, so the i-th product is not simply at
    // offset i.
    std::vector<const float*> pa(batch), pb(batch);
    std::vector<float*> pc(batch);
    for (int i = 0; i < batch; ++i) {
      const int r = batch - 1 - i;
      pa[i] = da.p + sa * r;
      pb[i] = db.p + sb * r;
      pc[i] = dc.p + sc * r;
    }
    Dev<const float*> dpa(pa), dpb(pb);
    Dev<float*> dpc(pc);
    CHECK_BLAS(cublasSgemmBatched(h, ta, tb, m, n, k, &alpha, dpa.p, a[0].ld, dpb.p, b[0].ld, &beta,
                                  dpc.p, c[0].ld, batch));
  }
  const std::vector<float> got = dc.get();
  for (int i = 0; i < batch; ++i) {
    const int r = strided ? i : batch - 1 - i;  // where product i's operands live
    std::vector<float> gi(got.begin() + sc * r, got.begin() + sc * r + c[0].v.size());
    for (size_t e = c[0].v.size(); e < sc; ++e)
      if (got[sc * r + e] != 99.0f)
        example_fail("%s: padding after matrix %d overwritten", strided ? "SgemmStridedBatched" : "SgemmBatched", r);
    check_gemm<float, double>(strided ? "SgemmStridedBatched" : "SgemmBatched", ta, tb, a[r], b[r],
                              c[r], gi, m, n, k, alpha, beta, true, 0);
  }
}

}  // namespace

int main() {
  cublasHandle_t h = nullptr;
  CHECK_BLAS(cublasCreate(&h));
  ExampleRng rng(2026);

  // 67 x 45 x 83 and 131 x 70 x 37: odd, more than one 64x64 tile, k both longer and shorter
  // than cuBLAS's k blocking.
  const cublasOperation_t ops[] = {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C};
  for (cublasOperation_t ta : ops)
    for (cublasOperation_t tb : ops) sgemm_case(h, ta, tb, 67, 45, 83, true, rng);
  sgemm_case(h, CUBLAS_OP_N, CUBLAS_OP_N, 131, 70, 37, true, rng);
  sgemm_case(h, CUBLAS_OP_N, CUBLAS_OP_N, 97, 75, 129, false, rng);
  sgemm_case(h, CUBLAS_OP_T, CUBLAS_OP_N, 97, 75, 129, false, rng);

  dgemm_case(h, CUBLAS_OP_N, CUBLAS_OP_N, 71, 66, 53, true, rng);
  dgemm_case(h, CUBLAS_OP_T, CUBLAS_OP_N, 71, 66, 53, true, rng);
  dgemm_case(h, CUBLAS_OP_N, CUBLAS_OP_T, 71, 66, 53, false, rng);

  cgemm_case(h, CUBLAS_OP_N, CUBLAS_OP_N, 45, 67, 29, rng);
  cgemm_case(h, CUBLAS_OP_C, CUBLAS_OP_T, 45, 67, 29, rng);
  cgemm_case(h, CUBLAS_OP_T, CUBLAS_OP_C, 45, 67, 29, rng);

  for (cublasOperation_t op : {CUBLAS_OP_N, CUBLAS_OP_T}) {
    gemv_case<float>(h, op, 301, 173, 1, 1, rng);
    gemv_case<float>(h, op, 133, 95, 2, 3, rng);
    gemv_case<double>(h, op, 301, 173, 1, 1, rng);
    gemv_case<double>(h, op, 133, 95, 3, 2, rng);
  }

  batched_case(h, false, 67, 45, 33, 3, rng);
  batched_case(h, true, 67, 45, 33, 4, rng);

  CHECK_BLAS(cublasDestroy(h));
  return example_pass();
}
