// gpool-bench-cublas: cuBLAS matrix-product throughput on whatever libcuda.so.1 the loader finds
// (the emulator: docs/performance.md, "cuBLAS on the emulator"). For each n it times
// cublasSgemm, cublasDgemm and cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores), and
// the same single-precision product by the project's own 16x16 shared-memory tiled kernel
// (bench/kernels/matmul_tiled.cu), and prints GFLOP/s (2 n^3 flops per product) and the ratio
// cuBLAS / tiled from the same run. The first call of each routine (module loading, JIT) is left
// out of the timing; each figure is the best of `reps` timed calls. Besides wall-clock GFLOP/s it
// prints GFLOP per CPU-second of the whole process (CLOCK_PROCESS_CPUTIME_ID: every emulator
// worker thread): on a shared, loaded machine that is the figure that does not depend on how much
// of the CPU the run happened to get, and on an idle one wall GFLOP/s is about it times the
// number of cores the emulator's workers use. The largest difference between
// the cuBLAS and the tiled single-precision products is printed, not asserted: this is a
// benchmark, not a test.
//
// Usage: gpool-bench-cublas [n...]          (default: 256 512 1024)
//        GPOOL_BENCH_REPS=<r> (default 2) GPOOL_BENCH_SKIP=dgemm,tf32,tiled to leave parts out.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "../kernels/matmul_tiled.cu"

namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "gpool-bench-cublas: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "gpool-bench-cublas: %s: %s\n", what, cublasGetStatusName(s));
    std::exit(1);
  }
}

bool skipped(const char* part) {
  const char* s = std::getenv("GPOOL_BENCH_SKIP");
  return s && std::strstr(s, part);
}

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Timing {
  double wall = 1e300;  // best wall-clock seconds
  double cpu = 1e300;   // best process CPU seconds
};

// Best wall-clock and CPU seconds of `reps` runs of f (each followed by a device synchronize),
// after one untimed run.
template <typename F>
Timing best_of(int reps, F f) {
  f();
  check_cuda(cudaDeviceSynchronize(), "warm-up");
  Timing best;
  for (int r = 0; r < reps; ++r) {
    const double c0 = cpu_now();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    check_cuda(cudaDeviceSynchronize(), "synchronize");
    best.wall = std::min(best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    best.cpu = std::min(best.cpu, cpu_now() - c0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {256, 512, 1024};
  for (int n : sizes)
    if (n <= 0 || n % TILE != 0) {
      std::fprintf(stderr, "gpool-bench-cublas: sizes must be positive multiples of %d\n", TILE);
      return 2;
    }
  const char* reps_env = std::getenv("GPOOL_BENCH_REPS");
  const int reps = reps_env ? std::max(1, std::atoi(reps_env)) : 2;

  cublasHandle_t h = nullptr;
  check_blas(cublasCreate(&h), "cublasCreate");
  std::printf("%6s %-28s %9s %9s %9s %11s %s\n", "n", "routine", "wall s", "GFLOP/s", "CPU s",
              "GFLOP/CPU-s", "vs tiled (CPU)");
  for (int n : sizes) {
    const size_t nn = static_cast<size_t>(n) * n;
    const double flops = 2.0 * n * static_cast<double>(n) * n;
    std::vector<float> a(nn), b(nn);
    for (size_t i = 0; i < nn; ++i) {
      a[i] = static_cast<float>((i * 7) % 13) * 0.125f - 0.75f;
      b[i] = static_cast<float>((i * 5) % 11) * 0.25f - 1.25f;
    }
    std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end());
    float *da, *db, *dc, *dt;
    double *dda, *ddb, *ddc;
    check_cuda(cudaMalloc(&da, nn * 4), "cudaMalloc");
    check_cuda(cudaMalloc(&db, nn * 4), "cudaMalloc");
    check_cuda(cudaMalloc(&dc, nn * 4), "cudaMalloc");
    check_cuda(cudaMalloc(&dt, nn * 4), "cudaMalloc");
    check_cuda(cudaMalloc(&dda, nn * 8), "cudaMalloc");
    check_cuda(cudaMalloc(&ddb, nn * 8), "cudaMalloc");
    check_cuda(cudaMalloc(&ddc, nn * 8), "cudaMalloc");
    check_cuda(cudaMemcpy(da, a.data(), nn * 4, cudaMemcpyHostToDevice), "copy");
    check_cuda(cudaMemcpy(db, b.data(), nn * 4, cudaMemcpyHostToDevice), "copy");
    check_cuda(cudaMemcpy(dda, ad.data(), nn * 8, cudaMemcpyHostToDevice), "copy");
    check_cuda(cudaMemcpy(ddb, bd.data(), nn * 8, cudaMemcpyHostToDevice), "copy");
    const float one = 1.0f, zero = 0.0f;
    const double oned = 1.0, zerod = 0.0;

    // Row-major C = A B (the tiled kernel's convention) is column-major C = B A for cuBLAS.
    const Timing t_s = best_of(reps, [&] {
      check_blas(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, db, n, da, n, &zero, dc, n), "Sgemm");
    });
    Timing t_tiled;
    const bool tiled = !skipped("tiled");
    if (tiled) {
      t_tiled = best_of(reps, [&] {
        matmul_tiled<<<dim3(n / TILE, n / TILE), dim3(TILE, TILE)>>>(da, db, dt, n);
        check_cuda(cudaGetLastError(), "matmul_tiled launch");
      });
    }
    auto row = [&](const char* name, const Timing& t) {
      std::printf("%6d %-28s %9.3f %9.3f %9.3f %11.3f", n, name, t.wall, flops / t.wall * 1e-9, t.cpu,
                  flops / t.cpu * 1e-9);
      if (tiled) std::printf(" %.2fx", t_tiled.cpu / t.cpu);
      std::printf("\n");
      std::fflush(stdout);
    };
    row("cublasSgemm", t_s);
    if (tiled) {
      row("matmul_tiled (16x16 tiles)", t_tiled);
      std::vector<float> c(nn), t(nn);
      check_cuda(cudaMemcpy(c.data(), dc, nn * 4, cudaMemcpyDeviceToHost), "copy");
      check_cuda(cudaMemcpy(t.data(), dt, nn * 4, cudaMemcpyDeviceToHost), "copy");
      double diff = 0;
      for (size_t i = 0; i < nn; ++i) diff = std::max(diff, std::fabs(static_cast<double>(c[i]) - t[i]));
      std::printf("%6d   max |Sgemm - tiled| = %g\n", n, diff);
    }
    if (!skipped("tf32")) {
      const Timing t = best_of(reps, [&] {
        check_blas(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, db, CUDA_R_32F, n, da, CUDA_R_32F,
                                n, &zero, dc, CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
                   "GemmEx tf32");
      });
      row("cublasGemmEx FAST_TF32", t);
    }
    if (!skipped("dgemm")) {
      const Timing t = best_of(reps, [&] {
        check_blas(cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &oned, ddb, n, dda, n, &zerod, ddc, n),
                   "Dgemm");
      });
      row("cublasDgemm", t);
    }
    for (void* p : {static_cast<void*>(da), static_cast<void*>(db), static_cast<void*>(dc), static_cast<void*>(dt),
                    static_cast<void*>(dda), static_cast<void*>(ddb), static_cast<void*>(ddc)})
      cudaFree(p);
  }
  check_blas(cublasDestroy(h), "cublasDestroy");
  return 0;
}
