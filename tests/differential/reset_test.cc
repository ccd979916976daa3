// Differential bodies: cuDevicePrimaryCtxReset after a kernel fault. The fault's error is
// sticky until the reset; the reset destroys the context with its memory and modules and
// clears the error, and the program goes on in a fresh context (issue 9).
#include <cstdint>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

class ResetTest : public DiffTest {};

TEST_F(ResetTest, FaultResetAndGoOn) {
  size_t free_before = 0, total = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemGetInfo(&free_before, &total));
  CUmodule mod = load_ptx("arith.ptx");
  CUfunction add_one = function(mod, "add_one");
  constexpr unsigned kN = 256;
  constexpr size_t kHeld = size_t{4} << 20;
  CUdeviceptr held = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&held, kHeld));

  // A wild pointer, one tebibyte past the allocation: the kernel faults.
  CUdeviceptr wild = held + (uint64_t{1} << 40);
  unsigned n = kN;
  void* wild_params[] = {&wild, &n};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, kN, 1, 1, 0, nullptr, wild_params, nullptr));
  EXPECT_CU(CUDA_ERROR_ILLEGAL_ADDRESS, api().cuCtxSynchronize());
  CUdeviceptr more = 0;
  EXPECT_CU(CUDA_ERROR_ILLEGAL_ADDRESS, api().cuMemAlloc(&more, 256)) << "the error is sticky";

  ASSERT_CU(CUDA_SUCCESS, api().cuDevicePrimaryCtxReset(dev_));
  // The primary context is made again by the next retain (the fixture's retain went with the
  // reset on a driver that drops it; one more is harmless on one that keeps it, and it stays
  // for the tests that follow, which expect the primary context active).
  CUcontext ctx = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuDevicePrimaryCtxRetain(&ctx, dev_));
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxSetCurrent(ctx));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize()) << "the reset cleared the sticky error";
  size_t free_after = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemGetInfo(&free_after, &total));
  EXPECT_GE(free_after + kHeld / 2, free_before) << "the memory held before the fault was freed by the reset";

  // A fresh context: the module is loaded again, memory allocated, the kernel runs.
  mod = load_ptx("arith.ptx");
  add_one = function(mod, "add_one");
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, kN * 4));
  std::vector<uint32_t> in(kN);
  for (unsigned i = 0; i < kN; ++i) in[i] = i * 3;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(d, in.data(), kN * 4));
  void* params[] = {&d, &n};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, kN, 1, 1, 0, nullptr, params, nullptr));
  std::vector<uint32_t> out(kN);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(out.data(), d, kN * 4));
  EXPECT_SAME_VALUE(1, out[0]);
  EXPECT_SAME_VALUE(3 * 200 + 1, out[200]);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

// A kernel the emulator cannot lower (`discard.global.L2`) although a real GPU would run it
// (docs/emulator.md, "Refused code fails loudly"): its launch is refused with
// CUDA_ERROR_INVALID_PTX and the context is unusable until a reset, directly and through the pool
// alike (the shim sends the launch of a function the server could not describe and keeps the
// answer sticky). The module itself loads, and the refusal harms nothing after the reset.
TEST_F(ResetTest, RefusedKernelLaunchIsSticky) {
  const char* text =
      ".version 8.0\n.target sm_80\n.address_size 64\n"
      ".visible .entry refused(.param .u64 p) {\n"
      "  .reg .b64 %rd<3>;\n"
      "  ld.param.u64 %rd1, [p];\n"
      "  cvta.to.global.u64 %rd2, %rd1;\n"
      "  discard.global.L2 [%rd2], 128;\n"
      "  ret;\n}\n";
  CUmodule mod = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleLoadData(&mod, text));
  CUfunction refused = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleGetFunction(&refused, mod, "refused"));
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 256));
  void* params[] = {&d};
  EXPECT_CU(CUDA_ERROR_INVALID_PTX, api().cuLaunchKernel(refused, 1, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_PTX, api().cuCtxSynchronize()) << "the refusal is sticky";
  CUdeviceptr more = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_PTX, api().cuMemAlloc(&more, 256)) << "the refusal is sticky";

  ASSERT_CU(CUDA_SUCCESS, api().cuDevicePrimaryCtxReset(dev_));
  CUcontext ctx = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuDevicePrimaryCtxRetain(&ctx, dev_));
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxSetCurrent(ctx));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize()) << "the reset cleared the sticky error";
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 256));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

}  // namespace
}  // namespace diff
