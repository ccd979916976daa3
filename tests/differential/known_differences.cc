// The known-difference list: the only place where one backend may differ from the others.
// Each entry names the test, the backend and why; the test is skipped there with that reason
// (gtest prints it), and docs/testing.md lists the same entries. Remove an entry as soon as the
// backend is fixed: the test then runs again with the same expectation as everywhere else
// (GPOOL_DIFF_RUN_KNOWN=1 runs the listed tests anyway, to check whether an entry still holds).
#include <string>

#include "suite.h"

namespace diff {
namespace {

struct KnownDifference {
  const char* test;     // "Suite.Name"
  const char* backend;  // "emulator", "pool" or "real"
  const char* why;
};

// The pool sends copies, memsets, launches and event records without waiting for the server
// (docs/architecture.md, "three kinds of call"); arguments only the server can check are refused
// there, and the refusal reaches the program at its next synchronizing call, as if it were an
// asynchronous execution error. NVIDIA's driver and the emulator refuse them at the call.
constexpr const char* kDeferred =
    "the shim sends this call without waiting; the server refuses it and the error reaches the program at its "
    "next synchronizing call (another call) instead of at this one";

constexpr KnownDifference kKnown[] = {
    {"MemsetTest.UnknownAddressRefusedAtTheCall", "pool", kDeferred},
    {"BadInputTest.ForgedHandlesOnAsynchronousCalls", "pool", kDeferred},
    {"GraphMemTest.RelaunchBeforeTheAllocationIsFreedRefused", "pool", kDeferred},
    {"MemOpTest.UnknownAddressRefusedAtTheCall", "pool", kDeferred},
    {"MemOpTest.HostWriteToMappedMemoryReleasesAWait", "pool",
     "mapped host memory is coherent only at call boundaries through the pool, so the shim refuses it as the word "
     "of a stream memory operation (CUDA_ERROR_NOT_SUPPORTED; docs/architecture.md, \"Stream memory operations "
     "through the pool\")"},
    {"ResetTest.RefusedKernelLaunchIsSticky", "real",
     "a real GPU runs discard.global.L2; only the emulator refuses it (docs/emulator.md, \"Refused code fails "
     "loudly\")"},
    {"ContextTest.PushPopAndNoContext", "pool",
     "with no context current the shim still allocates (cuMemAlloc succeeds) instead of returning "
     "CUDA_ERROR_INVALID_CONTEXT"},
};

}  // namespace

const char* known_difference() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return nullptr;
  const std::string test = std::string(info->test_suite_name()) + "." + info->name();
  for (const auto& k : kKnown) {
    if (test == k.test && backend() == k.backend) return k.why;
  }
  return nullptr;
}

}  // namespace diff
