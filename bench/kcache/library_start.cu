// Time from process start to the first result of NVIDIA's math libraries on the gpool emulator:
// cublasCreate, one cublasSgemm (N^3, default 64), optionally a cuBLASLt matmul and a cuFFT
// plan + exec. Each result is checked against a host reference; the program prints one line per
// stage with the milliseconds since the process started, then "PASS".
//
// "Process start" is GPOOL_BENCH_SPAWN_NS (CLOCK_MONOTONIC nanoseconds the parent read just
// before it started this process: gpool-bench-kcache sets it), else this process's start time
// from /proc/self/stat (10 ms resolution).
//
// Usage: library_start [sgemm|lt|fft|all] [N]      (default: sgemm 64)
// Build: nvcc -o library_start library_start.cu -lcublas -lcublasLt -lcufft
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cufft.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

double start_ms = 0;

double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The process's start on the CLOCK_MONOTONIC scale (both count from boot on Linux).
double process_start_ms() {
  if (const char* s = std::getenv("GPOOL_BENCH_SPAWN_NS"); s != nullptr && *s != '\0') return std::strtod(s, nullptr) / 1e6;
  FILE* f = std::fopen("/proc/self/stat", "r");
  if (f == nullptr) return now_ms();
  char buf[1024] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (p == nullptr) return now_ms();
  unsigned long long start_ticks = 0;
  int field = 2;
  for (const char* q = p + 1; *q != '\0'; ++q) {
    if (*q == ' ' && ++field == 22) {
      start_ticks = std::strtoull(q + 1, nullptr, 10);
      break;
    }
  }
  timespec boot{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  timespec mono{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  // starttime counts from boot (CLOCK_BOOTTIME); shift it onto CLOCK_MONOTONIC.
  const double boot_ms = boot.tv_sec * 1e3 + boot.tv_nsec / 1e6;
  const double mono_ms = mono.tv_sec * 1e3 + mono.tv_nsec / 1e6;
  return start_ticks * 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK)) - (boot_ms - mono_ms);
}

void stage(const char* what) { std::printf("%-24s %10.1f ms\n", what, now_ms() - start_ms); }

[[noreturn]] void fail(const char* fmt, const char* a, int b) {
  std::printf("FAIL: ");
  std::printf(fmt, a, b);
  std::printf("\n");
  std::exit(1);
}

#define CK(call)                                                                      \
  do {                                                                                \
    auto st_ = (call);                                                                \
    if (static_cast<int>(st_) != 0) fail("%s returned %d", #call, static_cast<int>(st_)); \
  } while (0)

float value(int i, int j, int salt) { return static_cast<float>(((i * 7 + j * 3 + salt) % 9) - 4); }

// C = A * B (column-major N x N, small integers: the product is exact in float).
void check_gemm(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& c, int n,
                const char* what) {
  const int step = n > 128 ? 37 : 1;  // a sample of the entries for large N
  for (int i = 0; i < n; i += step)
    for (int j = 0; j < n; j += step) {
      double ref = 0;
      for (int k = 0; k < n; ++k) ref += static_cast<double>(a[i + k * n]) * b[k + j * n];
      if (c[i + j * n] != static_cast<float>(ref)) fail("%s: wrong element at row %d", what, i);
    }
}

void run_sgemm(int n) {
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      a[i + j * n] = value(i, j, 1);
      b[i + j * n] = value(i, j, 5);
    }
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  CK(cudaMalloc(&da, a.size() * 4));
  CK(cudaMalloc(&db, b.size() * 4));
  CK(cudaMalloc(&dc, c.size() * 4));
  CK(cudaMemcpy(da, a.data(), a.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(db, b.data(), b.size() * 4, cudaMemcpyHostToDevice));
  stage("cuda context ready");
  cublasHandle_t h = nullptr;
  CK(cublasCreate(&h));
  stage("cublasCreate");
  const float one = 1, zero = 0;
  CK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, da, n, db, n, &zero, dc, n));
  CK(cudaMemcpy(c.data(), dc, c.size() * 4, cudaMemcpyDeviceToHost));
  char label[64];
  std::snprintf(label, sizeof(label), "first Sgemm %d^3", n);
  stage(label);
  check_gemm(a, b, c, n, "cublasSgemm");
  CK(cublasDestroy(h));
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

void run_lt(int n) {
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      a[i + j * n] = value(i, j, 2);
      b[i + j * n] = value(i, j, 6);
    }
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  CK(cudaMalloc(&da, a.size() * 4));
  CK(cudaMalloc(&db, b.size() * 4));
  CK(cudaMalloc(&dc, c.size() * 4));
  CK(cudaMemcpy(da, a.data(), a.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(db, b.data(), b.size() * 4, cudaMemcpyHostToDevice));
  cublasLtHandle_t lt = nullptr;
  CK(cublasLtCreate(&lt));
  cublasLtMatmulDesc_t op = nullptr;
  CK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  CK(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, n, n, n));
  CK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, n, n, n));
  CK(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, n, n, n));
  const float one = 1, zero = 0;
  CK(cublasLtMatmul(lt, op, &one, da, la, db, lb, &zero, dc, lc, dc, lc, nullptr, nullptr, 0, nullptr));
  CK(cudaMemcpy(c.data(), dc, c.size() * 4, cudaMemcpyDeviceToHost));
  stage("first cublasLtMatmul");
  check_gemm(a, b, c, n, "cublasLtMatmul");
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(op);
  cublasLtDestroy(lt);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

void run_fft() {
  const int n = 256;
  std::vector<cufftComplex> x(n), y(n);
  for (int i = 0; i < n; ++i) x[i] = {static_cast<float>(i % 5) - 2.0f, static_cast<float>(i % 3) - 1.0f};
  cufftComplex* d = nullptr;
  CK(cudaMalloc(&d, n * sizeof(cufftComplex)));
  CK(cudaMemcpy(d, x.data(), n * sizeof(cufftComplex), cudaMemcpyHostToDevice));
  cufftHandle plan = 0;
  CK(cufftPlan1d(&plan, n, CUFFT_C2C, 1));
  CK(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
  CK(cudaMemcpy(y.data(), d, n * sizeof(cufftComplex), cudaMemcpyDeviceToHost));
  stage("first cufftExecC2C");
  for (int k = 0; k < n; ++k) {
    double re = 0, im = 0;
    for (int t = 0; t < n; ++t) {
      const double ang = -2.0 * M_PI * k * t / n;
      re += x[t].x * std::cos(ang) - x[t].y * std::sin(ang);
      im += x[t].x * std::sin(ang) + x[t].y * std::cos(ang);
    }
    if (std::fabs(y[k].x - re) > 1e-3 * (1 + std::fabs(re)) || std::fabs(y[k].y - im) > 1e-3 * (1 + std::fabs(im)))
      fail("%s: wrong bin %d", "cufftExecC2C", k);
  }
  cufftDestroy(plan);
  cudaFree(d);
}

}  // namespace

int main(int argc, char** argv) {
  start_ms = process_start_ms();
  stage("main");
  const std::string what = argc > 1 ? argv[1] : "sgemm";
  const int n = argc > 2 ? std::atoi(argv[2]) : 64;
  if (n <= 0 || n > 4096) fail("bad size %s%d", "", n);
  if (what == "sgemm" || what == "all") run_sgemm(n);
  if (what == "lt" || what == "all") run_lt(what == "all" ? 64 : n);
  if (what == "fft" || what == "all") run_fft();
  stage("done");
  std::printf("PASS\n");
  return 0;
}
