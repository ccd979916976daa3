// fp16_math: reduced-precision types and the float math library. Demonstrates half and
// bfloat16 conversions (__float2half, __half2float, __float2bfloat16, __bfloat162float), half
// arithmetic (__hadd, __hmul, __hfma) and float functions (sqrtf, expf, logf, sinf, cosf,
// __fdividef, fmaf, rsqrtf), each compared with the host's result: conversions and fmaf must match
// exactly, the rest within the documented ulp error bounds (as a relative tolerance).
//
// Build: nvcc -o fp16_math fp16_math.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./fp16_math
#include "check.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstring>
#include <vector>

enum Column {
  kHalfRound,    // float -> half -> float
  kBf16Round,    // float -> bfloat16 -> float
  kHalfAdd,      // __hadd(h(x), h(y))
  kHalfMul,      // __hmul(h(x), h(y))
  kHalfFma,      // __hfma(h(x), h(y), h(0.5))
  kSqrt,         // sqrtf(|x|)
  kExp,          // expf(x / 8)
  kLog,          // logf(|x| + 1)
  kSin,          // sinf(x)
  kCos,          // cosf(x)
  kFastDiv,      // __fdividef(x, y)
  kFma,          // fmaf(x, y, 1)
  kRsqrt,        // rsqrtf(|y|)
  kColumns
};

__global__ void compute(const float* x, const float* y, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float a = x[i], b = y[i];
  const __half ha = __float2half(a), hb = __float2half(b);
  float* row = out + static_cast<size_t>(i) * kColumns;
  row[kHalfRound] = __half2float(ha);
  row[kBf16Round] = __bfloat162float(__float2bfloat16(a));
  row[kHalfAdd] = __half2float(__hadd(ha, hb));
  row[kHalfMul] = __half2float(__hmul(ha, hb));
  row[kHalfFma] = __half2float(__hfma(ha, hb, __float2half(0.5f)));
  row[kSqrt] = sqrtf(fabsf(a));
  row[kExp] = expf(a / 8.0f);
  row[kLog] = logf(fabsf(a) + 1.0f);
  row[kSin] = sinf(a);
  row[kCos] = cosf(a);
  row[kFastDiv] = __fdividef(a, b);
  row[kFma] = fmaf(a, b, 1.0f);
  row[kRsqrt] = rsqrtf(fabsf(b));
}

struct Tolerance {
  const char* name;
  double relative;  // 0 = must be bit-identical
  double absolute;  // allowed absolute error near zero
};

static const Tolerance kTolerance[kColumns] = {
    {"__float2half/__half2float", 0, 0},
    {"__float2bfloat16/__bfloat162float", 0, 0},
    {"__hadd", 1.0 / 1024, 1e-7},  // one half ulp of rounding difference allowed
    {"__hmul", 1.0 / 1024, 1e-7},
    {"__hfma", 1.0 / 1024, 1e-7},
    {"sqrtf", 2e-7, 0},            // correctly rounded by default (-prec-sqrt=true)
    {"expf", 4e-7, 0},             // 2 ulp
    {"logf", 2e-7, 1e-7},          // 1 ulp
    {"sinf", 4e-7, 2e-7},          // 2 ulp
    {"cosf", 4e-7, 2e-7},
    {"__fdividef", 4e-7, 1e-30},   // 2 ulp for |y| in [2^-126, 2^126]
    {"fmaf", 0, 0},                // exactly one rounding
    {"rsqrtf", 4e-7, 0},           // 2 ulp
};

static float host_column(int column, float a, float b) {
  const __half ha = __float2half(a), hb = __float2half(b);
  switch (column) {
    case kHalfRound: return __half2float(ha);
    case kBf16Round: return __bfloat162float(__float2bfloat16(a));
    case kHalfAdd: return static_cast<float>(static_cast<double>(__half2float(ha)) + __half2float(hb));
    case kHalfMul: return static_cast<float>(static_cast<double>(__half2float(ha)) * __half2float(hb));
    case kHalfFma: return static_cast<float>(static_cast<double>(__half2float(ha)) * __half2float(hb) + 0.5);
    case kSqrt: return std::sqrt(std::fabs(a));
    case kExp: return static_cast<float>(std::exp(static_cast<double>(a) / 8.0));
    case kLog: return static_cast<float>(std::log(std::fabs(static_cast<double>(a)) + 1.0));
    case kSin: return static_cast<float>(std::sin(static_cast<double>(a)));
    case kCos: return static_cast<float>(std::cos(static_cast<double>(a)));
    case kFastDiv: return static_cast<float>(static_cast<double>(a) / b);
    case kFma: return std::fma(a, b, 1.0f);
    case kRsqrt: return static_cast<float>(1.0 / std::sqrt(std::fabs(static_cast<double>(b))));
  }
  return 0.0f;
}

int main() {
  const int n = 4096;
  std::vector<float> x(n), y(n);
  ExampleRng rng(7);
  for (int i = 0; i < n; ++i) {
    x[i] = rng.uniform(-20.0f, 20.0f);
    y[i] = rng.uniform(0.25f, 8.0f) * (i % 2 ? 1.0f : -1.0f);
  }
  // A few values that exercise rounding ties and limits of the narrow types.
  x[0] = 65504.0f;         // largest half
  x[1] = 1.0f + 1.0f / 2048.0f;  // exactly between two halves: ties to even
  x[2] = 5.9604645e-8f;    // smallest half subnormal
  x[3] = -0.0f;
  x[4] = 1.00390625f;      // exactly between two bfloat16 values
  x[5] = 3.0e38f;          // beyond half range: rounds to infinity
  y[0] = 0.5f;

  float *d_x = nullptr, *d_y = nullptr, *d_out = nullptr;
  CHECK(cudaMalloc(&d_x, n * sizeof(float)));
  CHECK(cudaMalloc(&d_y, n * sizeof(float)));
  CHECK(cudaMalloc(&d_out, n * kColumns * sizeof(float)));
  CHECK(cudaMemcpy(d_x, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(d_y, y.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  compute<<<(n + 127) / 128, 128>>>(d_x, d_y, d_out, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> out(static_cast<size_t>(n) * kColumns);
  CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost));

  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < kColumns; ++c) {
      const float got = out[static_cast<size_t>(i) * kColumns + c];
      const float want = host_column(c, x[i], y[i]);
      const Tolerance& tol = kTolerance[c];
      bool ok;
      if (std::isnan(want) || std::isinf(want) || tol.relative == 0) {
        ok = std::memcmp(&got, &want, sizeof(float)) == 0 || (std::isnan(got) && std::isnan(want));
      } else {
        const double err = std::fabs(static_cast<double>(got) - want);
        ok = err <= tol.relative * std::fabs(static_cast<double>(want)) + tol.absolute;
      }
      if (!ok)
        example_fail("%s for x = %.9g, y = %.9g: device %.9g, host %.9g", tol.name, x[i], y[i], got, want);
    }
  }
  CHECK(cudaFree(d_x));
  CHECK(cudaFree(d_y));
  CHECK(cudaFree(d_out));
  return example_pass();
}
