// cuRAND's MTGP32 device API on the emulator: curandMakeMTGP32Constants and
// curandMakeMTGP32KernelState (host code from curand_mtgp32_host.h, compiled into this program)
// build the parameter tables and one state per block; the kernel then draws with curand,
// curand_uniform and curand_normal, every thread of a block advancing the block's shared state
// together (256 threads at most).
// The CPU reference is an implementation of the MTGP32 recursion written here (Saito and
// Matsumoto, arXiv:1005.4973: one step per thread per call, then the block's offset moves by the
// thread count), started from the states and tables the host functions made (copied back before
// the first launch, so the reference shares nothing with the device code). Raw and uniform
// values must match bit for bit (uniform: one fma, as nvcc emits it). curand_normal is the
// inverse normal CDF through erfcinvf, documented to 4 ulp in the CUDA math library (plus one
// rounding of the final multiply): each normal z is compared with the exact inverse CDF of the
// same float probability, found by Newton steps on erfc in double, within 5 ulp of z.
//
// Build: nvcc -o curand_mtgp32 curand_mtgp32.cu
#include <curand_kernel.h>
#include <curand_mtgp32_host.h>
#include <curand_mtgp32dc_p_11213.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "check.h"

namespace {

constexpr int kBlocks = 3;
constexpr int kThreads = 160;  // five warps; MTGP32 allows up to 256 threads per state
constexpr int kCalls = 4;      // per kind: raw, then uniform, then normal
constexpr int kPerBlock = 3 * kCalls * kThreads;

// Block b writes call c of kind k (0 raw, 1 uniform, 2 normal) at
// out[b * kPerBlock + (k * kCalls + c) * kThreads + thread].
__global__ void draw(curandStateMtgp32* states, unsigned* out) {
  curandStateMtgp32* s = &states[blockIdx.x];
  unsigned* o = out + blockIdx.x * kPerBlock + threadIdx.x;
  for (int c = 0; c < kCalls; ++c) o[c * kThreads] = curand(s);
  for (int c = 0; c < kCalls; ++c) o[(kCalls + c) * kThreads] = __float_as_uint(curand_uniform(s));
  for (int c = 0; c < kCalls; ++c) o[(2 * kCalls + c) * kThreads] = __float_as_uint(curand_normal(s));
}

// One block's MTGP32 generator on the CPU.
struct Mtgp {
  curandStateMtgp32 st;        // state words, offset and parameter-set index (k unused)
  const mtgp32_kernel_params* k;

  // One call by `d` threads: every thread computes its value from the state before any of
  // them stores (MTGP's parameters keep the reads and writes of one call apart).
  void call(int d, uint32_t* out) {
    const int pos = static_cast<int>(k->pos_tbl[st.pIdx]);
    const uint32_t mask = MTGP32_STATE_MASK;
    std::vector<uint32_t> r(d);
    for (int t = 0; t < d; ++t) {
      uint32_t x1 = st.s[(t + st.offset) & mask], x2 = st.s[(t + st.offset + 1) & mask];
      uint32_t y = st.s[(t + st.offset + pos) & mask];
      uint32_t x = (x1 & k->mask[0]) ^ x2;
      x ^= x << k->sh1_tbl[st.pIdx];
      y = x ^ (y >> k->sh2_tbl[st.pIdx]);
      r[t] = y ^ k->param_tbl[st.pIdx][y & 0x0f];
    }
    for (int t = 0; t < d; ++t) st.s[(t + st.offset + MTGPDC_N) & mask] = r[t];
    for (int t = 0; t < d; ++t) {
      uint32_t tt = st.s[(t + st.offset + pos - 1) & mask];
      tt ^= tt >> 16;
      tt ^= tt >> 8;
      out[t] = r[t] ^ k->temper_tbl[st.pIdx][tt & 0x0f];
    }
    st.offset = (st.offset + d) & mask;
  }
};

float as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The standard normal quantile of p (0 < p < 1) by Newton steps on p = erfc(-z / sqrt 2) / 2,
// starting from the device's answer `z0` (close already; the steps make it exact in double).
double normal_quantile(double p, double z0) {
  double z = z0;
  for (int i = 0; i < 6; ++i) {
    double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * 3.14159265358979323846);
    z -= (cdf - p) / pdf;
  }
  return z;
}

}  // namespace

int main() {
  curandStateMtgp32* states = nullptr;
  mtgp32_kernel_params* params = nullptr;
  unsigned* out = nullptr;
  CHECK(cudaMalloc(&states, kBlocks * sizeof(curandStateMtgp32)));
  CHECK(cudaMalloc(&params, sizeof(mtgp32_kernel_params)));
  CHECK(cudaMalloc(&out, kBlocks * kPerBlock * sizeof(unsigned)));
  if (curandMakeMTGP32Constants(mtgp32dc_params_fast_11213, params) != CURAND_STATUS_SUCCESS)
    example_fail("curandMakeMTGP32Constants failed");
  if (curandMakeMTGP32KernelState(states, mtgp32dc_params_fast_11213, params, kBlocks, 20261206) !=
      CURAND_STATUS_SUCCESS)
    example_fail("curandMakeMTGP32KernelState failed");

  // The reference's starting point: what the host functions uploaded.
  std::vector<curandStateMtgp32> ref_states(kBlocks);
  mtgp32_kernel_params ref_params;
  CHECK(cudaMemcpy(ref_states.data(), states, kBlocks * sizeof(curandStateMtgp32), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(&ref_params, params, sizeof ref_params, cudaMemcpyDeviceToHost));

  // Two launches: the second continues from the states the first left in device memory.
  std::vector<unsigned> got(kBlocks * kPerBlock);
  std::vector<Mtgp> ref(kBlocks);
  for (int b = 0; b < kBlocks; ++b) ref[b] = Mtgp{ref_states[b], &ref_params};
  double sum = 0, sum2 = 0;
  long normals = 0;
  for (int launch = 0; launch < 2; ++launch) {
    CHECK(cudaMemset(out, 0, got.size() * sizeof(unsigned)));
    draw<<<kBlocks, kThreads>>>(states, out);
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpy(got.data(), out, got.size() * sizeof(unsigned), cudaMemcpyDeviceToHost));
    for (int b = 0; b < kBlocks; ++b) {
      for (int kind = 0; kind < 3; ++kind) {
        for (int c = 0; c < kCalls; ++c) {
          uint32_t want[kThreads];
          ref[b].call(kThreads, want);
          const unsigned* g = &got[b * kPerBlock + (kind * kCalls + c) * kThreads];
          for (int t = 0; t < kThreads; ++t) {
            if (kind == 0 && g[t] != want[t])
              example_fail("launch %d block %d curand call %d thread %d: got %08x, want %08x", launch, b, c, t, g[t],
                           want[t]);
            if (kind == 1) {
              float w = std::fmaf(static_cast<float>(want[t]), 2.3283064e-10f, 2.3283064e-10f / 2.0f);
              if (g[t] != [&] { unsigned u; std::memcpy(&u, &w, 4); return u; }())
                example_fail("launch %d block %d curand_uniform call %d thread %d: got %.9g, want %.9g", launch, b,
                             c, t, as_float(g[t]), w);
            }
            if (kind == 2) {
              // The device mirrors x above 2^31 and takes p = x * 2^-32 + 2^-33 in float.
              uint32_t x = want[t];
              bool upper = x > 0x80000000u;
              if (upper) x = 0xffffffffu - x;
              double p = std::fmaf(static_cast<float>(x), 2.3283064e-10f, 2.3283064e-10f / 2.0f);
              float z = as_float(g[t]);
              double exact = normal_quantile(p, upper ? -z : z);
              if (upper) exact = -exact;
              double tol = 5 * std::ldexp(1.0, std::ilogb(exact) - 23);
              if (!(std::fabs(z - exact) <= tol))
                example_fail("launch %d block %d curand_normal call %d thread %d: got %.9g, want %.9g", launch, b, c,
                             t, z, exact);
              sum += z, sum2 += static_cast<double>(z) * z, ++normals;
            }
          }
        }
      }
    }
  }
  CHECK(cudaFree(out));
  CHECK(cudaFree(params));
  CHECK(cudaFree(states));

  const double mean = sum / normals, var = sum2 / normals - mean * mean;
  if (std::fabs(mean) > 5 / std::sqrt(double(normals)) || std::fabs(var - 1) > 5 * std::sqrt(2.0 / normals))
    example_fail("normal mean %g variance %g over %ld values", mean, var, normals);
  std::printf("curand_mtgp32: %d blocks x %d threads, %ld normals (mean %.4f, variance %.4f)\n", kBlocks, kThreads,
              normals, mean, var);
  return example_pass();
}
