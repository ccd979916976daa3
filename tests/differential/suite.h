// What every differential test body uses: the backend under test, the observation log, the
// result/value checks that both assert and record, the known-difference list, and the fixture
// that makes the device's primary context current.
//
// Observations: when GPOOL_DIFF_RECORD names a file, every check appends one JSON line
//   {"backend": "...", "test": "Suite.Name", "what": "<call text>#<n>", "result": "CUDA_...", "value": ...}
// so that compare.py can list every difference between two backends' runs. Values that are a
// property of the machine (SM count, clock, register counts) are recorded as "machine" checks,
// whose value compare.py shows but does not count as a difference.
//
// Thread safety: the checks run on the gtest main thread only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "cuda_api.h"

namespace diff {

// The backend named by --backend / GPOOL_DIFF_BACKEND: "emulator", "pool" or "real".
const std::string& backend();

// Set by main(): why the driver cannot be used (a "real" run on a host without a GPU); empty
// when it can. Every test skips with this reason.
std::string& unavailable_reason();

// Opens the log named by GPOOL_DIFF_RECORD (truncating it); no-op when unset.
void open_record();

// The outcome of one recorded check: ok, or the message a failure prints.
struct Check {
  bool ok;
  std::string message;
};

// Records a driver call's result (text `what`) and compares it with `expected`.
Check check_result(const char* what, CUresult got, CUresult expected);
// Records a value that must be the same on every backend and compares it with `expected`.
Check check_value(const char* what, long long got, long long expected);
// Records a value that depends on the machine (shown by compare.py, not counted as a difference).
void record_machine(const char* what, long long value);

// The entry of the known-difference list for the current test on the current backend, or
// nullptr. The list (known_differences.cc) is the one place where a backend is allowed to
// differ, each with its reason; docs/testing.md repeats it.
const char* known_difference();

// EXPECT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, n)) << "context": checks and records a driver
// call's result. ASSERT_CU stops the test on a mismatch (later steps depend on the call).
// EXPECT_SAME_VALUE(expected, value): a value every backend must agree on (recorded).
#define DIFF_CHECK_(check, fail)                                                              \
  switch (0)                                                                                  \
  case 0:                                                                                     \
  default:                                                                                    \
    if (const ::diff::Check diff_check_ = (check); diff_check_.ok) {                          \
    } else                                                                                    \
      fail << diff_check_.message
#define EXPECT_CU(expected, call) DIFF_CHECK_(::diff::check_result(#call, (call), (expected)), ADD_FAILURE())
#define ASSERT_CU(expected, call) DIFF_CHECK_(::diff::check_result(#call, (call), (expected)), FAIL())
#define EXPECT_SAME_VALUE(expected, value)                                                    \
  DIFF_CHECK_(::diff::check_value(#value, static_cast<long long>(value), static_cast<long long>(expected)), \
              ADD_FAILURE())

// Each test runs with device 0's primary context current (retained once per process and never
// released, so no test pays a context creation) and checks afterwards that the context is
// still healthy (cuCtxSynchronize succeeds): a test must not leave a sticky error behind.
class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Loads kernels/<file> (PTX text) as a module; fails the test when it cannot.
  CUmodule load_ptx(const char* file);
  // The function `name` of `module`; fails the test when it is missing.
  CUfunction function(CUmodule module, const char* name);

  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
};

// The text of tests/differential/kernels/<file> as the build copies it beside the test binary
// (kernels/ next to it); empty when it cannot be read.
std::string kernel_text(const char* file);

// The primary context of device 0 (retained by the first DiffTest::SetUp).
CUcontext primary_context();

}  // namespace diff
