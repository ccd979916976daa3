// cuRAND's host API on the emulator: generators made with curandCreateGenerator run
// libcurand's own kernels (shipped as compute_121 PTX) and write device memory. Each is
// compared with the same generator made with curandCreateGeneratorHost, which runs the same
// algorithms with the same ordering on the CPU inside libcurand:
//   - curandGenerate (raw 32-bit values) and curandGenerateUniform must match bit for bit;
//   - curandGenerateNormal (Box-Muller) may not: libcurand's kernels take sine and cosine with
//     the hardware approximations (sin.approx/cos.approx, absolute error at most 2^-20.5 per
//     the PTX ISA) where the host generator calls the C library. The check allows
//     stddev * (2^-20.5 * R + 2^-21 * |z|) per value, R = 6.8 bounding the Box-Muller radius
//     sqrt(-2 ln u) for the smallest u these generators produce (about 2^-33);
//   - Sobol32's normals come from the inverse normal CDF instead (erfcinvf, documented to 4 ulp
//     in the CUDA math library): 4 ulp of |z| < 6.8 is within the same bound.
// curandGenerateUniformDouble and curandGeneratePoisson (lambda 5) must match exactly as well.
// Each generator is seeded, given an offset (except MTGP32, which has none: the library must
// refuse it), and asked for several batches in a row, so the state carried from one call to the
// next is checked too. As a second, independent check, the mean and variance of every batch
// must be within 5 standard errors of the distribution's.
//
// Build: nvcc -o curand_host curand_host.cu -lcurand
#include <curand.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"

#define CHECK_RAND(call)                                                                    \
  do {                                                                                      \
    curandStatus_t rand_status_ = (call);                                                   \
    if (rand_status_ != CURAND_STATUS_SUCCESS)                                              \
      example_fail("%s returned curandStatus %d at %s:%d", #call, static_cast<int>(rand_status_), \
                   __FILE__, __LINE__);                                                     \
  } while (0)

namespace {

struct Case {
  const char* name;
  curandRngType_t type;
  bool has_offset;
  size_t n;  // values per batch
};

// A device generator and a host generator of one type, set up identically.
struct Pair {
  curandGenerator_t dev = nullptr, host = nullptr;
  Pair(const Case& c, unsigned long long seed, unsigned long long offset) {
    CHECK_RAND(curandCreateGenerator(&dev, c.type));
    CHECK_RAND(curandCreateGeneratorHost(&host, c.type));
    for (curandGenerator_t g : {dev, host}) {
      if (c.type == CURAND_RNG_QUASI_SOBOL32) {
        CHECK_RAND(curandSetQuasiRandomGeneratorDimensions(g, 3));
      } else {
        CHECK_RAND(curandSetPseudoRandomGeneratorSeed(g, seed));
      }
      if (c.has_offset) {
        CHECK_RAND(curandSetGeneratorOffset(g, offset));
      } else if (curandSetGeneratorOffset(g, offset) == CURAND_STATUS_SUCCESS) {
        example_fail("%s: curandSetGeneratorOffset succeeded on a generator without offsets", c.name);
      }
    }
  }
  ~Pair() {
    curandDestroyGenerator(dev);
    curandDestroyGenerator(host);
  }
};

void check_moments(const char* what, const double* v, size_t n, double mean, double var) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; ++i) s += v[i];
  const double m = s / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) s2 += (v[i] - m) * (v[i] - m);
  const double vr = s2 / static_cast<double>(n - 1);
  // Standard errors: of the mean sqrt(var / n); of the variance about var * sqrt(2 / n)
  // for a normal and var * sqrt(0.8 / n) for a uniform (excess kurtosis -1.2); 2 covers both.
  const double se_mean = std::sqrt(var / static_cast<double>(n));
  const double se_var = var * std::sqrt(2.0 / static_cast<double>(n));
  if (std::fabs(m - mean) > 5 * se_mean || std::fabs(vr - var) > 5 * se_var)
    example_fail("%s: mean %g variance %g over %zu values, expected %g and %g", what, m, vr, n, mean, var);
}

void run(const Case& c, unsigned long long seed, unsigned long long offset) {
  Pair p(c, seed, offset);
  const size_t n = c.n;
  std::vector<unsigned> raw_dev(n), raw_host(n);
  std::vector<float> f_dev(n), f_host(n);
  std::vector<double> moments(n);
  void* buf = nullptr;
  CHECK(cudaMalloc(&buf, n * sizeof(double)));
  char what[160];
  if (c.type == CURAND_RNG_QUASI_SOBOL32)
    std::snprintf(what, sizeof what, "%s (offset %llu)", c.name, offset);
  else
    std::snprintf(what, sizeof what, "%s (seed %llx, offset %llu)", c.name, seed, c.has_offset ? offset : 0ull);

  // Two raw batches, then uniforms, then normals, then raw again: each call continues the
  // sequence where the previous one stopped, on both generators.
  for (int batch = 0; batch < 2; ++batch) {
    CHECK_RAND(curandGenerate(p.dev, static_cast<unsigned*>(buf), n));
    CHECK(cudaMemcpy(raw_dev.data(), buf, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
    CHECK_RAND(curandGenerate(p.host, raw_host.data(), n));
    for (size_t i = 0; i < n; ++i)
      if (raw_dev[i] != raw_host[i])
        example_fail("%s: curandGenerate batch %d value %zu: device %08x, host %08x", what, batch, i, raw_dev[i],
                     raw_host[i]);
    // As uniform integers on [0, 2^32): mean 2^31 - 1/2, variance (2^64 - 1) / 12.
    for (size_t i = 0; i < n; ++i) moments[i] = raw_dev[i] / 4294967296.0;
    if (c.type != CURAND_RNG_QUASI_SOBOL32) check_moments(what, moments.data(), n, 0.5, 1.0 / 12);
  }

  CHECK_RAND(curandGenerateUniform(p.dev, static_cast<float*>(buf), n));
  CHECK(cudaMemcpy(f_dev.data(), buf, n * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_RAND(curandGenerateUniform(p.host, f_host.data(), n));
  for (size_t i = 0; i < n; ++i) {
    if (std::memcmp(&f_dev[i], &f_host[i], sizeof(float)) != 0)
      example_fail("%s: curandGenerateUniform value %zu: device %.9g, host %.9g", what, i, f_dev[i], f_host[i]);
    if (!(f_dev[i] > 0.0f && f_dev[i] <= 1.0f)) example_fail("%s: uniform %g outside (0, 1]", what, f_dev[i]);
    moments[i] = f_dev[i];
  }
  check_moments(what, moments.data(), n, 0.5, 1.0 / 12);

  const float mean = 2.5f, stddev = 0.75f;
  CHECK_RAND(curandGenerateNormal(p.dev, static_cast<float*>(buf), n, mean, stddev));
  CHECK(cudaMemcpy(f_dev.data(), buf, n * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_RAND(curandGenerateNormal(p.host, f_host.data(), n, mean, stddev));
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double z = (static_cast<double>(f_host[i]) - mean) / stddev;
    const double tol = stddev * (std::ldexp(6.8, -20) / std::sqrt(2.0) + std::ldexp(std::fabs(z), -21)) +
                       std::ldexp(std::fabs(static_cast<double>(mean)), -23);  // + rounding of the final add
    const double err = std::fabs(static_cast<double>(f_dev[i]) - f_host[i]);
    if (!(err <= tol))
      example_fail("%s: curandGenerateNormal value %zu: device %.9g, host %.9g (tolerance %.3g)", what, i, f_dev[i],
                   f_host[i], tol);
    worst = std::max(worst, err);
    moments[i] = f_dev[i];
  }
  check_moments(what, moments.data(), n, mean, static_cast<double>(stddev) * stddev);

  // Doubles (53-bit uniforms made from the same 32-bit values) and Poisson counts (lambda = 5,
  // libcurand's table method): exact too.
  std::vector<double> d_dev(n), d_host(n);
  CHECK_RAND(curandGenerateUniformDouble(p.dev, static_cast<double*>(buf), n));
  CHECK(cudaMemcpy(d_dev.data(), buf, n * sizeof(double), cudaMemcpyDeviceToHost));
  CHECK_RAND(curandGenerateUniformDouble(p.host, d_host.data(), n));
  for (size_t i = 0; i < n; ++i)
    if (std::memcmp(&d_dev[i], &d_host[i], sizeof(double)) != 0)
      example_fail("%s: curandGenerateUniformDouble value %zu: device %.17g, host %.17g", what, i, d_dev[i],
                   d_host[i]);
  check_moments(what, d_dev.data(), n, 0.5, 1.0 / 12);
  const double lambda = 5;
  CHECK_RAND(curandGeneratePoisson(p.dev, static_cast<unsigned*>(buf), n, lambda));
  CHECK(cudaMemcpy(raw_dev.data(), buf, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  CHECK_RAND(curandGeneratePoisson(p.host, raw_host.data(), n, lambda));
  for (size_t i = 0; i < n; ++i) {
    if (raw_dev[i] != raw_host[i])
      example_fail("%s: curandGeneratePoisson value %zu: device %u, host %u", what, i, raw_dev[i], raw_host[i]);
    moments[i] = raw_dev[i];
  }
  check_moments(what, moments.data(), n, lambda, lambda);

  CHECK_RAND(curandGenerate(p.dev, static_cast<unsigned*>(buf), n));
  CHECK(cudaMemcpy(raw_dev.data(), buf, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  CHECK_RAND(curandGenerate(p.host, raw_host.data(), n));
  if (raw_dev != raw_host) example_fail("%s: curandGenerate after the other distributions differs", what);

  CHECK(cudaFree(buf));
  std::printf("%-46s %zu values per call: raw, uniform, double, Poisson exact; normals within %.2g\n", what, n,
              worst);
}

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  const Case cases[] = {
      {"XORWOW", CURAND_RNG_PSEUDO_XORWOW, true, 2048},
      {"Philox4_32_10", CURAND_RNG_PSEUDO_PHILOX4_32_10, true, 2048},
      {"MRG32k3a", CURAND_RNG_PSEUDO_MRG32K3A, true, 2048},
      {"MTGP32", CURAND_RNG_PSEUDO_MTGP32, false, 2048},
      {"Sobol32 (3 dimensions)", CURAND_RNG_QUASI_SOBOL32, true, 3 * 512},
  };
  for (const Case& c : cases) {
    // MRG32k3a's seeding kernel (a double-precision skip-ahead per thread) costs seconds of
    // emulator time for each new seed, so it gets one seed and offset.
    if (c.type != CURAND_RNG_PSEUDO_MRG32K3A) run(c, 1234, 0);
    run(c, 0x0123456789abcdefull, 100003);
  }
  return example_pass();
}
