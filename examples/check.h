// Shared by the gpool example programs: stop with "FAIL: ..." on the first CUDA runtime error.
//
// Every example checks its own results on the host and ends with one line, "PASS" (exit 0) or
// "FAIL: <what was wrong>" (exit 1), both on stdout so a test runner can read them.
// Header-only; the examples include it as "check.h" so `nvcc -o x x.cu` needs no -I.
#pragma once

#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

// Prints "FAIL: <message>" and exits 1.
[[noreturn]] inline void example_fail(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::fputs("FAIL: ", stdout);
  std::vprintf(format, args);
  std::fputc('\n', stdout);
  va_end(args);
  std::fflush(stdout);
  std::exit(1);
}

// Runs a runtime call and fails with its error name unless it returned cudaSuccess.
#define CHECK(call)                                                                         \
  do {                                                                                      \
    cudaError_t check_err_ = (call);                                                        \
    if (check_err_ != cudaSuccess)                                                          \
      example_fail("%s returned %s (%s) at %s:%d", #call, cudaGetErrorName(check_err_),     \
                   cudaGetErrorString(check_err_), __FILE__, __LINE__);                     \
  } while (0)

// Runs a runtime call and fails unless it returned exactly `expected`.
#define EXPECT_ERR(call, expected)                                                          \
  do {                                                                                      \
    cudaError_t check_err_ = (call);                                                        \
    if (check_err_ != (expected))                                                           \
      example_fail("%s returned %s, expected %s at %s:%d", #call,                           \
                   cudaGetErrorName(check_err_), cudaGetErrorName(expected), __FILE__,      \
                   __LINE__);                                                               \
  } while (0)

// Prints PASS and returns the exit code for main.
inline int example_pass() {
  std::puts("PASS");
  std::fflush(stdout);
  return 0;
}

// A small deterministic generator so inputs are the same on every run (xorshift32).
struct ExampleRng {
  unsigned state;
  explicit ExampleRng(unsigned seed) : state(seed ? seed : 1u) {}
  unsigned next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
  // Uniform integer in [lo, hi].
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<unsigned>(hi - lo + 1)); }
  // Uniform float in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 8) / 16777216.0f; }
};
