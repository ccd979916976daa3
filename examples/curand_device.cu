// cuRAND's device API on the emulator: kernels call curand_init(seed, subsequence, offset,
// &state) and then curand, curand_uniform and curand_normal for the XORWOW and Philox4_32_10
// generators (curand_kernel.h, compiled into this program by nvcc; no libcurand needed).
// Every value is compared with a CPU implementation of the published algorithms written here:
//   - Philox4x32-10 (Salmon et al., SC'11): a 128-bit counter, a 64-bit key, ten rounds of the
//     published multipliers and Weyl constants. curand_init puts the seed in the key, the
//     subsequence in the counter's upper 64 bits and offset / 4 in the lower ones; each counter
//     value yields four outputs.
//   - XORWOW (Marsaglia's xorshift with a Weyl sequence): curand_init skips ahead by
//     subsequence * 2^67 + offset values. The skip is linear over GF(2), and the matrices of
//     the jumps 4^i * 2^67 and 4^i that curand_kernel.h ships for host code
//     (precalc_xorwow_matrix_host, precalc_xorwow_offset_matrix_host) are applied here by an
//     independent matrix-vector product. That the offset matrices are used correctly is checked
//     against plain stepping for small offsets, so the reference does not rest on them alone.
// Raw and uniform values must match bit for bit: the uniform conversion is one float multiply
// and add, which nvcc contracts to a single fma (checked: the reference does the same with
// fmaf). Normal values come from the Box-Muller transform, where the device code uses
// __sincosf (sin.approx/cos.approx, absolute error at most 2^-20.5 on hardware per the PTX ISA)
// and logf (at most 1 ulp): they are compared with a Box-Muller computed in double from the same
// float inputs within 2^-20 * s + 2^-21 * |x| (s = sqrt(-2 ln u) is the radius). As a second check, the mean and
// variance of all normals and uniforms must be plausible.
//
// Build: nvcc -o curand_device curand_device.cu
#include <curand_kernel.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "check.h"

namespace {

constexpr int kThreads = 96;  // three warps in two blocks (one partial)
constexpr int kBlock = 64;
constexpr int kPerKind = 6;   // values of each kind per thread
constexpr int kPerThread = 3 * kPerKind;

struct Params {
  unsigned long long seed;
  unsigned long long subsequence;  // thread t uses subsequence + t
  unsigned long long offset;       // thread t uses offset + t * offset_step
  unsigned long long offset_step;
};

// Thread t writes, at out[t * kPerThread]: kPerKind raw values, then kPerKind uniforms, then
// kPerKind normals (as bits), all from one state in that order.
template <typename State>
__global__ void draw(Params p, unsigned* out) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= kThreads) return;
  State s;
  curand_init(p.seed, p.subsequence + t, p.offset + t * p.offset_step, &s);
  unsigned* o = out + t * kPerThread;
  for (int i = 0; i < kPerKind; ++i) o[i] = curand(&s);
  for (int i = 0; i < kPerKind; ++i) o[kPerKind + i] = __float_as_uint(curand_uniform(&s));
  for (int i = 0; i < kPerKind; ++i) o[2 * kPerKind + i] = __float_as_uint(curand_normal(&s));
}

// ---- CPU reference: Philox4x32-10 ----

struct Philox {
  uint32_t ctr[4] = {0, 0, 0, 0};
  uint32_t key[2] = {0, 0};
  uint32_t out[4] = {0, 0, 0, 0};
  int index = 0;  // next word of `out`

  static void mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
    uint64_t p = static_cast<uint64_t>(a) * b;
    *hi = static_cast<uint32_t>(p >> 32);
    *lo = static_cast<uint32_t>(p);
  }
  void block() {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      uint32_t hi0, lo0, hi1, lo1;
      mulhilo(0xD2511F53u, c[0], &hi0, &lo0);
      mulhilo(0xCD9E8D57u, c[2], &hi1, &lo1);
      uint32_t n[4] = {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
      std::memcpy(c, n, sizeof c);
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    std::memcpy(out, c, sizeof c);
  }
  // Adds v << (32 * word) to the 128-bit counter.
  void add(uint64_t v, int word) {
    uint64_t carry = v;
    for (int i = word; i < 4 && carry; ++i) {
      uint64_t s = static_cast<uint64_t>(ctr[i]) + (carry & 0xffffffffu);
      ctr[i] = static_cast<uint32_t>(s);
      carry = (carry >> 32) + (s >> 32);
    }
  }
  Philox(uint64_t seed, uint64_t subsequence, uint64_t offset) {
    key[0] = static_cast<uint32_t>(seed);
    key[1] = static_cast<uint32_t>(seed >> 32);
    add(subsequence, 2);
    add(offset / 4, 0);
    index = static_cast<int>(offset % 4);
    block();
  }
  uint32_t next() {
    uint32_t r = out[index++];
    if (index == 4) {
      add(1, 0);
      block();
      index = 0;
    }
    return r;
  }
};

// ---- CPU reference: XORWOW ----

struct Xorwow {
  uint32_t v[5];
  uint32_t d;

  explicit Xorwow(uint64_t seed) {
    uint32_t s0 = static_cast<uint32_t>(seed) ^ 0xaad26b49u;
    uint32_t s1 = static_cast<uint32_t>(seed >> 32) ^ 0xf7dcefddu;
    uint32_t t0 = 1099087573u * s0;
    uint32_t t1 = 2591861531u * s1;
    d = 6615241u + t1 + t0;
    v[0] = 123456789u + t0;
    v[1] = 362436069u ^ t0;
    v[2] = 521288629u + t1;
    v[3] = 88675123u ^ t1;
    v[4] = 5783321u + t0;
  }
  uint32_t next() {
    uint32_t t = v[0] ^ (v[0] >> 2);
    v[0] = v[1];
    v[1] = v[2];
    v[2] = v[3];
    v[3] = v[4];
    v[4] = (v[4] ^ (v[4] << 4)) ^ (t ^ (t << 1));
    d += 362437u;
    return v[4] + d;
  }
  // v = v * M over GF(2), M a 160x160 bit matrix stored as 160 rows of five words: row
  // 32 * i + j is the image of bit j of word i.
  void apply(const unsigned* m) {
    uint32_t r[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 32; ++j)
        if (v[i] >> j & 1)
          for (int k = 0; k < 5; ++k) r[k] ^= m[5 * (32 * i + j) + k];
    std::memcpy(v, r, sizeof r);
  }
  // Jumps by n * unit, where table[i] is the jump 4^i * unit: base-4 digits of n.
  void jump(uint64_t n, const unsigned (*table)[800]) {
    for (int i = 0; n; ++i, n >>= 2)
      for (uint64_t k = 0; k < (n & 3); ++k) apply(table[i]);
  }
  void skip_subsequences(uint64_t n) { jump(n, precalc_xorwow_matrix_host); }  // d moves by a multiple of 2^32
  void skip(uint64_t n) {
    jump(n, precalc_xorwow_offset_matrix_host);
    d += 362437u * static_cast<uint32_t>(n);
  }
};

// ---- shared reference pieces ----

float uniform_ref(uint32_t x) {
  const float inv = 2.3283064e-10f;  // 2^-32, as curand_uniform uses it
  return std::fmaf(static_cast<float>(x), inv, inv / 2.0f);
}

// Box-Muller from two raw values, as curand_normal pairs them: the same float u and angle v as
// the device code (each one fma, as nvcc emits), then the logarithm, square root and sine in
// double.
void normal_ref(uint32_t x, uint32_t y, double* a, double* b, double* radius) {
  const float inv = 2.3283064e-10f;            // CURAND_2POW32_INV
  const float inv_2pi = 2.3283064e-10f * 6.2831855f;  // CURAND_2POW32_INV_2PI
  double u = std::fmaf(static_cast<float>(x), inv, inv / 2);
  double v = std::fmaf(static_cast<float>(y), inv_2pi, inv_2pi / 2);
  double s = std::sqrt(-2.0 * std::log(u));
  *radius = s;
  *a = std::sin(v) * s;
  *b = std::cos(v) * s;
}

float as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Stats {
  double sum = 0, sum2 = 0;
  long n = 0;
  void add(double x) { sum += x, sum2 += x * x, ++n; }
  double mean() const { return sum / n; }
  double var() const { return sum2 / n - mean() * mean(); }
};

// Compares one thread's output with the reference generator `g` (next() gives raw values).
template <typename Gen>
void check_thread(const char* name, int t, const unsigned* o, Gen& g, Stats* uni, Stats* nor) {
  for (int i = 0; i < kPerKind; ++i) {
    uint32_t want = g.next();
    if (o[i] != want) example_fail("%s thread %d curand #%d: got %08x, want %08x", name, t, i, o[i], want);
  }
  for (int i = 0; i < kPerKind; ++i) {
    float want = uniform_ref(g.next());
    float got = as_float(o[kPerKind + i]);
    if (std::memcmp(&got, &want, 4) != 0)
      example_fail("%s thread %d curand_uniform #%d: got %.9g, want %.9g", name, t, i, got, want);
    if (!(got > 0.0f && got <= 1.0f)) example_fail("%s thread %d: uniform %g outside (0, 1]", name, t, got);
    uni->add(got);
  }
  for (int i = 0; i < kPerKind; i += 2) {
    uint32_t x = g.next(), y = g.next();
    double want[2], radius;
    normal_ref(x, y, &want[0], &want[1], &radius);
    for (int k = 0; k < 2; ++k) {
      float got = as_float(o[2 * kPerKind + i + k]);
      double tol = std::ldexp(radius, -20) + std::ldexp(std::fabs(want[k]), -21);
      if (!(std::fabs(got - want[k]) <= tol))
        example_fail("%s thread %d curand_normal #%d: got %.9g, want %.9g (tolerance %.3g)", name, t, i + k,
                     got, want[k], tol);
      nor->add(got);
    }
  }
}

template <typename State, typename MakeRef>
void run(const char* name, const Params& p, unsigned* dev, std::vector<unsigned>& host, MakeRef make_ref,
         Stats* uni, Stats* nor) {
  CHECK(cudaMemset(dev, 0, host.size() * sizeof(unsigned)));
  draw<State><<<(kThreads + kBlock - 1) / kBlock, kBlock>>>(p, dev);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpy(host.data(), dev, host.size() * sizeof(unsigned), cudaMemcpyDeviceToHost));
  for (int t = 0; t < kThreads; ++t) {
    auto g = make_ref(p.seed, p.subsequence + t, p.offset + t * p.offset_step);
    check_thread(name, t, host.data() + t * kPerThread, g, uni, nor);
  }
}

// The offset matrices against plain stepping: a jump by n equals n steps.
void check_xorwow_reference() {
  for (uint64_t n : {1ull, 3ull, 4ull, 17ull, 1000ull}) {
    Xorwow a(42), b(42);
    a.skip(n);
    for (uint64_t i = 0; i < n; ++i) b.next();
    if (std::memcmp(a.v, b.v, sizeof a.v) != 0 || a.d != b.d || a.next() != b.next())
      example_fail("CPU reference: XORWOW skip(%llu) differs from stepping", static_cast<unsigned long long>(n));
  }
}

}  // namespace

int main() {
  check_xorwow_reference();
  std::vector<unsigned> host(kThreads * kPerThread);
  unsigned* dev = nullptr;
  CHECK(cudaMalloc(&dev, host.size() * sizeof(unsigned)));
  Stats uni, nor;

  const Params cases[] = {
      {1234, 0, 0, 0},                                   // the plain case: subsequence t, no offset
      {0, 5, 3, 1},                                      // seed 0 (the published xorwow start), offsets 3..98
      {0xdeadbeefcafef00dull, 1000, (1ull << 40) + 7, 12345},  // large seed, subsequence and offsets
  };
  for (const Params& p : cases) {
    run<curandStatePhilox4_32_10_t>("Philox4_32_10", p, dev, host,
                                    [](uint64_t s, uint64_t q, uint64_t o) { return Philox(s, q, o); }, &uni, &nor);
    run<curandStateXORWOW_t>("XORWOW", p, dev, host,
                             [](uint64_t s, uint64_t q, uint64_t o) {
                               Xorwow x(s);
                               x.skip_subsequences(q);
                               x.skip(o);
                               return x;
                             },
                             &uni, &nor);
  }
  CHECK(cudaFree(dev));

  // Statistical sanity over every value drawn (2 generators x 3 cases x 96 threads x 6 each):
  // the mean of n uniforms has standard deviation sqrt(1/12/n); allow 5 of those.
  const double nu = static_cast<double>(uni.n);
  if (std::fabs(uni.mean() - 0.5) > 5 * std::sqrt(1.0 / 12 / nu) || std::fabs(uni.var() - 1.0 / 12) > 0.01)
    example_fail("uniform mean %g / variance %g over %ld values", uni.mean(), uni.var(), uni.n);
  const double nn = static_cast<double>(nor.n);
  if (std::fabs(nor.mean()) > 5 / std::sqrt(nn) || std::fabs(nor.var() - 1) > 5 * std::sqrt(2 / nn))
    example_fail("normal mean %g / variance %g over %ld values", nor.mean(), nor.var(), nor.n);
  std::printf("curand_device: %ld uniforms (mean %.4f), %ld normals (mean %.4f, variance %.4f)\n", uni.n,
              uni.mean(), nor.n, nor.mean(), nor.var());
  return example_pass();
}
