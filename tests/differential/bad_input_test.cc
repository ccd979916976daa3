// Bad input every driver must refuse without harm: null pointers, addresses nothing allocated,
// sizes out of range and forged object handles. After each refusal the context still works.
#include <cstdint>

#include "suite.h"

namespace diff {
namespace {

using BadInputTest = DiffTest;

TEST_F(BadInputTest, NullPointersAndUnknownAddresses) {
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuCtxGetCurrent(nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuCtxGetDevice(nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemGetAddressRange(nullptr, nullptr, 0));
  const CUdeviceptr nowhere = 0x1000;  // below any allocation on every backend
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemFree(nowhere));
  unsigned v = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyDtoH(&v, nowhere, 4));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemsetD32(nowhere, 0, 1));
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 4096));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemFree(p + 16)) << "not the start of an allocation";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyHtoD(p, nullptr, 16));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyHtoD(p + 4000, &v, SIZE_MAX - 8)) << "a size that wraps";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemFree(p)) << "a double free";
}

// NVIDIA's driver dereferences object handles, so a forged one is undefined behaviour there; the
// emulator and the pool (which checks every handle against the session's tables) must refuse it.
TEST_F(BadInputTest, ForgedObjectHandles) {
  if (backend() == "real") GTEST_SKIP() << "forged handle pointers are undefined behaviour in NVIDIA's driver";
  auto forged = [](auto* typed) { return reinterpret_cast<decltype(typed)>(uintptr_t{0x7e57000}); };
  CUstream s = forged(static_cast<CUstream>(nullptr));
  CUevent e = forged(static_cast<CUevent>(nullptr));
  CUmodule m = forged(static_cast<CUmodule>(nullptr));
  CUfunction f = forged(static_cast<CUfunction>(nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuStreamQuery(s));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuEventRecord(e, nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuEventSynchronize(e));
  CUfunction out = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuModuleGetFunction(&out, m, "add_one"));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE,
            api().cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuModuleUnload(m));
}

}  // namespace
}  // namespace diff
