// cuBLASLt matrix products with fused epilogues, checked against a CPU reference: what a
// framework's linear layer does (D = act(alpha * op(A) * B + beta * C + bias)). Each case builds
// the descriptors, asks cublasLtMatmulAlgoGetHeuristic for an algorithm under a workspace limit and
// runs the first one it returns, as PyTorch and other frameworks do.
//
// Usage: cublaslt_matmul f32 | tf32 | f16 | bf16 [--all-algos]
//   f32   f32 A/B/C/D, f32 compute: RELU_BIAS, RELU_BIAS with A transposed, DEFAULT with beta != 0,
//         GELU_BIAS.
//   tf32  f32 data with CUBLAS_COMPUTE_32F_FAST_TF32 (TF32 tensor cores): RELU_BIAS, A plain and
//         transposed.
//   f16   f16 A/B, f32 compute and scale (tensor-core kernels): f32 D with RELU_BIAS (A plain and
//         transposed), f16 C/D with DEFAULT and beta != 0, f16 D with GELU_BIAS, and the
//         heuristic's algorithm forced to split k in 4 (cuBLASLt's split-K reduction kernel).
//   bf16  the same with bf16 A/B, without the split-K case.
//   --all-algos  runs every algorithm the heuristic returns (up to 8), not only the first: a way
//         to find kernels the emulator gets wrong, not what a framework does.
//   --time N  instead of the cases, one N x N x N RELU_BIAS matmul of the mode's first case, run
//         twice, printing the CPU and wall time of each run (docs/performance.md); still checked.
// Sizes are odd and span more than one tile of cuBLASLt's 64- and 128-wide kernels in M and N.
// libcublasLt.so.13 ships PTX for compute_120, so the emulated device must be 12.0 or newer.
//
// Build: nvcc -o cublaslt_matmul cublaslt_matmul.cu -lcublasLt
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <vector>

#include "check.h"

#define CHECK_LT(call)                                                                      \
  do {                                                                                      \
    cublasStatus_t lt_status_ = (call);                                                     \
    if (lt_status_ != CUBLAS_STATUS_SUCCESS)                                                \
      example_fail("%s returned %s at %s:%d", #call, cublasLtGetStatusName(lt_status_),       \
                   __FILE__, __LINE__);                                                     \
  } while (0)

namespace {

// Element types on the host side of a case: the device buffer holds `type`, the reference reads
// the same values back as doubles (every f16/bf16/f32 value is exact in double).
enum class Elem { f32, f16, bf16 };

cudaDataType_t data_type(Elem e) {
  switch (e) {
    case Elem::f32: return CUDA_R_32F;
    case Elem::f16: return CUDA_R_16F;
    case Elem::bf16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

size_t elem_size(Elem e) { return e == Elem::f32 ? 4 : 2; }

const char* elem_name(Elem e) {
  switch (e) {
    case Elem::f32: return "f32";
    case Elem::f16: return "f16";
    case Elem::bf16: return "bf16";
  }
  return "?";
}

// Host bytes of `values` stored as `e`; `values` is rounded in place to what was stored.
std::vector<unsigned char> encode(Elem e, std::vector<float>& values) {
  std::vector<unsigned char> bytes(values.size() * elem_size(e));
  for (size_t i = 0; i < values.size(); ++i) {
    if (e == Elem::f32) {
      std::memcpy(&bytes[i * 4], &values[i], 4);
    } else if (e == Elem::f16) {
      __half h = __float2half_rn(values[i]);
      values[i] = __half2float(h);
      std::memcpy(&bytes[i * 2], &h, 2);
    } else {
      __nv_bfloat16 b = __float2bfloat16_rn(values[i]);
      values[i] = __bfloat162float(b);
      std::memcpy(&bytes[i * 2], &b, 2);
    }
  }
  return bytes;
}

float decode(Elem e, const unsigned char* p) {
  if (e == Elem::f32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  if (e == Elem::f16) {
    __half h;
    std::memcpy(&h, p, 2);
    return __half2float(h);
  }
  __nv_bfloat16 b;
  std::memcpy(&b, p, 2);
  return __bfloat162float(b);
}

// The GELU cuBLASLt documents: the tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
double gelu(double x) {
  const double c = std::sqrt(2.0 / 3.14159265358979323846);
  return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
}

// --time: run each matmul twice and print its CPU and wall time (a benchmark, not a test).
bool g_timing = false;

// CPU time of the whole process: the emulator's worker threads run the kernels.
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double wall_seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Case {
  const char* name;
  Elem ab;         // A and B
  Elem cd;         // C, D and the bias (cuBLASLt: the bias has D's type)
  bool trans_a;    // A stored k x m and used transposed
  cublasLtEpilogue_t epilogue;
  float alpha, beta;
  int m, n, k;
  bool tf32 = false;  // CUBLAS_COMPUTE_32F_FAST_TF32 instead of CUBLAS_COMPUTE_32F
  int split_k = 0;    // > 0: force this many k slices on the heuristic's algorithm
};

// A device buffer freed on scope exit.
struct DeviceBuffer {
  void* ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) { CHECK(cudaMalloc(&ptr, bytes ? bytes : 1)); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

void upload(DeviceBuffer& buffer, const std::vector<unsigned char>& bytes) {
  CHECK(cudaMemcpy(buffer.ptr, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
}

// Runs one case with every algorithm to try (the first heuristic result, or all of them) and
// compares D with the reference. Returns the number of algorithms run.
int run_case(cublasLtHandle_t lt, const Case& c, bool all_algos, unsigned seed) {
  const int m = c.m, n = c.n, k = c.k;
  // Column-major storage, as cuBLASLt's default layout order. A is m x k (lda = m), or k x m
  // (lda = k) when it is used transposed; B is k x n; C and D are m x n.
  const int a_rows = c.trans_a ? k : m, a_cols = c.trans_a ? m : k;
  ExampleRng rng(seed);
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n),
      cmat(static_cast<size_t>(m) * n), bias(m);
  for (float& v : a) v = rng.uniform(-1.0f, 1.0f);
  for (float& v : b) v = rng.uniform(-1.0f, 1.0f);
  for (float& v : cmat) v = rng.uniform(-2.0f, 2.0f);
  for (float& v : bias) v = rng.uniform(-1.5f, 1.5f);
  auto a_bytes = encode(c.ab, a), b_bytes = encode(c.ab, b);
  auto c_bytes = encode(c.cd, cmat), bias_bytes = encode(c.cd, bias);

  DeviceBuffer da(a_bytes.size()), db(b_bytes.size()), dc(c_bytes.size()),
      dd(static_cast<size_t>(m) * n * elem_size(c.cd)), dbias(bias_bytes.size());
  upload(da, a_bytes);
  upload(db, b_bytes);
  upload(dc, c_bytes);
  upload(dbias, bias_bytes);
  const size_t workspace_size = 4u << 20;  // PyTorch's default cuBLASLt workspace is a few MiB
  DeviceBuffer workspace(workspace_size);

  cublasLtMatmulDesc_t op = nullptr;
  CHECK_LT(cublasLtMatmulDescCreate(&op, c.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                                    CUDA_R_32F));
  cublasOperation_t ta = c.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  cublasLtEpilogue_t epilogue = c.epilogue;
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                          sizeof epilogue));
  const bool has_bias = (c.epilogue & CUBLASLT_EPILOGUE_BIAS) != 0;
  if (has_bias) {
    const void* bias_ptr = dbias.ptr;
    CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr,
                                            sizeof bias_ptr));
  }
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  CHECK_LT(cublasLtMatrixLayoutCreate(&la, data_type(c.ab), a_rows, a_cols, a_rows));
  CHECK_LT(cublasLtMatrixLayoutCreate(&lb, data_type(c.ab), k, n, k));
  CHECK_LT(cublasLtMatrixLayoutCreate(&lc, data_type(c.cd), m, n, m));  // C and D alike
  cublasLtMatmulPreference_t pref = nullptr;
  CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
  uint64_t ws = workspace_size;
  CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &ws, sizeof ws));
  cublasLtMatmulHeuristicResult_t results[8] = {};
  int returned = 0;
  CHECK_LT(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, all_algos ? 8 : 1,
                                          results, &returned));
  if (returned < 1) example_fail("%s: the heuristic returned no algorithm", c.name);
  if (c.split_k > 0) {
    // What a framework's autotuner does: the same algorithm with the k dimension split, the
    // partial products summed by cuBLASLt's splitKreduce_kernel in the workspace.
    int32_t splits = c.split_k;
    CHECK_LT(cublasLtMatmulAlgoConfigSetAttribute(&results[0].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splits,
                                                  sizeof splits));
    uint32_t scheme = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    CHECK_LT(cublasLtMatmulAlgoConfigSetAttribute(&results[0].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME,
                                                  &scheme, sizeof scheme));
    CHECK_LT(cublasLtMatmulAlgoCheck(lt, op, la, lb, lc, lc, &results[0].algo, &results[0]));
    if (results[0].workspaceSize > workspace_size) example_fail("%s: split-K needs too much workspace", c.name);
    returned = 1;
  }

  // Reference in double, and a bound on the error of one element that holds whatever order the
  // kernel sums in (split-K, tensor-core fragments, a serial loop):
  // - The accumulator. Every f32 product of the inputs is exact for f16/bf16 inputs (11- or 8-bit
  //   significands give at most 22 bits) and rounded once for f32 inputs; the k - 1 additions
  //   round once each. So it is within gamma_k sum|a||b|, gamma_k = k u / (1 - k u), u = 2^-24
  //   (Higham, Accuracy and Stability of Numerical Algorithms, 3.1).
  // - Scaling by alpha and adding beta C and the bias are at most 4 more roundings of values
  //   bounded by S = alpha sum|a||b| + |beta C| + |bias|. Hence tol_x = 1.01 (k + 4) u S (1.01
  //   covers 1 / (1 - k u) for k < 10^4). A TF32 kernel (10-bit significands) would be off by
  //   about 2^-11 S, far outside this bound, so it would be caught.
  // - A TF32 case (CUBLAS_COMPUTE_32F_FAST_TF32) is meant to be that: each f32 input is reduced
  //   to 10 fraction bits (rounded or truncated: relative error below 2^-10), so a product is
  //   within 2^-9 + 2^-20 of |a b|; the products of the reduced values are exact in f32.
  // - With a 16-bit D, an algorithm may round alpha A B + beta C to D's type before the bias and
  //   the activation: cuBLASLt's fallback for GELU_BIAS writes D with one kernel
  //   (magma_sgemmEx_kernel) and applies the epilogue with a second one
  //   (epilogue::impl::globalKernel) that reads D back. That adds half an ulp of D's type to tol_x.
  // - ReLU is exact and 1-Lipschitz: tol = tol_x. The tanh-form GELU has |gelu'| < 1.13, and the
  //   epilogue kernels evaluate tanh with tanh.approx.f32 (relative error at most 2^-10.987, PTX
  //   ISA), which moves gelu by at most 0.5 |x| 2^-10.987, plus a few f32 roundings of the
  //   formula (8 u |x|).
  // - A 16-bit D is rounded at the end: half an ulp, 2^-11 (f16) or 2^-8 (bf16) of |d|, plus
  //   2^-25 absolute for f16, whose subnormals are 2^-24 apart.
  const double u = std::ldexp(1.0, -24);
  std::vector<unsigned char> out(static_cast<size_t>(m) * n * elem_size(c.cd));
  int tried = 0;
  for (int r = 0; r < returned; ++r) {
    if (results[r].state != CUBLAS_STATUS_SUCCESS) continue;
    ++tried;
    for (int run = 0; run < (g_timing ? 2 : 1); ++run) {
      CHECK(cudaMemset(dd.ptr, 0xff, out.size()));  // NaNs: an element never written fails
      CHECK(cudaDeviceSynchronize());
      const double cpu0 = cpu_seconds(), wall0 = wall_seconds();
      CHECK_LT(cublasLtMatmul(lt, op, &c.alpha, da.ptr, la, db.ptr, lb, &c.beta, dc.ptr, lc, dd.ptr,
                              lc, &results[r].algo, workspace.ptr, workspace_size, nullptr));
      CHECK(cudaDeviceSynchronize());
      const double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
      if (g_timing)
        std::printf("%s, run %d: %.3f s CPU (all threads), %.3f s wall, %.2f GFLOP per CPU second%s\n", c.name,
                    run + 1, cpu, wall, 2.0 * m * n * k / cpu / 1e9, run == 0 ? " (module loads included)" : "");
    }
    CHECK(cudaMemcpy(out.data(), dd.ptr, out.size(), cudaMemcpyDeviceToHost));
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        double sum = 0, sum_abs = 0;
        for (int p = 0; p < k; ++p) {
          double av = c.trans_a ? a[static_cast<size_t>(i) * k + p] : a[static_cast<size_t>(p) * m + i];
          double bv = b[static_cast<size_t>(j) * k + p];
          sum += av * bv;
          sum_abs += std::fabs(av * bv);
        }
        const size_t at = static_cast<size_t>(j) * m + i;
        double x = c.alpha * sum + c.beta * cmat[at];
        double scale = std::fabs(c.alpha) * sum_abs + std::fabs(c.beta * cmat[at]);
        if (has_bias) {
          x += bias[i];
          scale += std::fabs(bias[i]);
        }
        double tol_x = 1.01 * (k + 4) * u * scale;
        if (c.tf32) tol_x += (std::ldexp(1.0, -9) + std::ldexp(1.0, -20)) * std::fabs(c.alpha) * sum_abs;
        const double d_half_ulp = c.cd == Elem::f16    ? std::ldexp(1.0, -11)
                                  : c.cd == Elem::bf16 ? std::ldexp(1.0, -8)
                                                       : 0.0;
        const double d_abs = c.cd == Elem::f16 ? std::ldexp(1.0, -25) : 0.0;
        if (has_bias) tol_x += d_half_ulp * (std::fabs(c.alpha * sum + c.beta * cmat[at]) + tol_x) + d_abs;
        double want = x, tol = tol_x;
        if ((c.epilogue & CUBLASLT_EPILOGUE_RELU) != 0) {
          want = x > 0 ? x : 0;
        } else if ((c.epilogue & CUBLASLT_EPILOGUE_GELU) != 0) {
          want = gelu(x);
          tol = 1.13 * tol_x + (0.5 * std::exp2(-10.987) + 8 * u) * std::fabs(x);
        }
        tol += d_half_ulp * (std::fabs(want) + tol) + d_abs;
        tol += 1e-30;  // an exact zero reference (ReLU) still compares with <=
        const double got = decode(c.cd, &out[at * elem_size(c.cd)]);
        if (!(std::fabs(got - want) <= tol))
          example_fail("%s (algorithm %d of %d): D[%d,%d] = %.9g, expected %.9g (tolerance %.3g)",
                       c.name, r, returned, i, j, got, want, tol);
      }
    }
  }
  if (tried == 0) example_fail("%s: no heuristic result had state success", c.name);

  CHECK_LT(cublasLtMatmulPreferenceDestroy(pref));
  CHECK_LT(cublasLtMatrixLayoutDestroy(la));
  CHECK_LT(cublasLtMatrixLayoutDestroy(lb));
  CHECK_LT(cublasLtMatrixLayoutDestroy(lc));
  CHECK_LT(cublasLtMatmulDescDestroy(op));
  return tried;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  const bool all_algos = argc > 2 && std::strcmp(argv[2], "--all-algos") == 0;
  g_timing = argc > 3 && std::strcmp(argv[2], "--time") == 0;
  std::vector<Case> cases;
  if (std::strcmp(mode, "f32") == 0) {
    cases = {
        {"f32 RELU_BIAS", Elem::f32, Elem::f32, false, CUBLASLT_EPILOGUE_RELU_BIAS, 1.0f, 0.0f, 150, 70, 67},
        {"f32 RELU_BIAS, A transposed", Elem::f32, Elem::f32, true, CUBLASLT_EPILOGUE_RELU_BIAS, 0.75f, 0.0f, 97, 131, 45},
        {"f32 DEFAULT, beta = 0.5", Elem::f32, Elem::f32, false, CUBLASLT_EPILOGUE_DEFAULT, 1.25f, 0.5f, 133, 66, 51},
        {"f32 GELU_BIAS", Elem::f32, Elem::f32, false, CUBLASLT_EPILOGUE_GELU_BIAS, 1.0f, 0.0f, 70, 129, 33},
    };
  } else if (std::strcmp(mode, "tf32") == 0) {
    // f32 data on the TF32 tensor-core kernels (mma.sync m16n8k8 .tf32).
    Case relu{"tf32 RELU_BIAS", Elem::f32, Elem::f32, false, CUBLASLT_EPILOGUE_RELU_BIAS, 1.0f, 0.0f, 136, 200, 72};
    Case relu_t{"tf32 RELU_BIAS, A transposed", Elem::f32, Elem::f32, true, CUBLASLT_EPILOGUE_RELU_BIAS, 1.0f, 0.0f, 200, 72, 40};
    relu.tf32 = relu_t.tf32 = true;
    cases = {relu, relu_t};
  } else if (std::strcmp(mode, "f16") == 0 || std::strcmp(mode, "bf16") == 0) {
    // Leading dimensions that are multiples of 8 elements (16 bytes) let the heuristic choose
    // tensor-core kernels; M and N are still not multiples of any tile.
    const Elem in = mode[0] == 'f' ? Elem::f16 : Elem::bf16;
    const bool f16 = in == Elem::f16;
    cases = {
        {f16 ? "f16 in, f32 out, RELU_BIAS" : "bf16 in, f32 out, RELU_BIAS", in, Elem::f32, false, CUBLASLT_EPILOGUE_RELU_BIAS, 1.0f, 0.0f, 200, 136, 72},
        {f16 ? "f16 in, f32 out, RELU_BIAS, A transposed" : "bf16 in, f32 out, RELU_BIAS, A transposed", in, Elem::f32, true, CUBLASLT_EPILOGUE_RELU_BIAS, 1.0f, 0.0f, 136, 72, 96},
        {f16 ? "f16 in and out, DEFAULT, beta = 0.5" : "bf16 in and out, DEFAULT, beta = 0.5", in, in, false, CUBLASLT_EPILOGUE_DEFAULT, 1.0f, 0.5f, 144, 88, 40},
        {f16 ? "f16 in and out, GELU_BIAS" : "bf16 in and out, GELU_BIAS", in, in, false, CUBLASLT_EPILOGUE_GELU_BIAS, 1.0f, 0.0f, 72, 200, 64},
    };
    if (f16) {  // only once: loading the image of the reduction kernels (12 MB of PTX) takes ~1 s
      Case split{"f16 in and out, split-K 4", in, in, false, CUBLASLT_EPILOGUE_DEFAULT, 1.0f, 0.5f, 72, 40, 1024};
      split.split_k = 4;
      cases.push_back(split);
    }
  } else {
    std::printf("usage: %s f32|tf32|f16|bf16 [--all-algos | --time N]\n", argv[0]);
    return 2;
  }
  if (g_timing) {  // one N x N x N RELU_BIAS matmul of the mode's types instead of the cases
    const int size = std::atoi(argv[3]);
    if (size < 1 || size > 4096) example_fail("--time needs a size from 1 to 4096");
    Case t = cases[0];
    t.trans_a = false;
    t.m = t.n = t.k = size;
    cases = {t};
  }
  int driver = 0;
  CHECK(cudaDriverGetVersion(&driver));
  cublasLtHandle_t lt = nullptr;
  CHECK_LT(cublasLtCreate(&lt));
  unsigned seed = 1;
  for (const Case& c : cases) {
    int tried = run_case(lt, c, all_algos, seed++);
    std::printf("%s (%s A/B, %s D, %dx%dx%d): %d algorithm(s) correct\n", c.name, elem_name(c.ab),
                elem_name(c.cd), c.m, c.n, c.k, tried);
  }
  CHECK_LT(cublasLtDestroy(lt));
  return example_pass();
}
