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
  const CUdeviceptr nowhere = 0x1000;  // below any allocation on every backend
  CUdeviceptr base = 0;
  size_t size = 0;
  EXPECT_CU(CUDA_ERROR_NOT_FOUND, api().cuMemGetAddressRange(&base, &size, nowhere));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemFree(nowhere));
  unsigned v = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyDtoH(&v, nowhere, 4));
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
template <typename Handle>
Handle forged() {
  return reinterpret_cast<Handle>(uintptr_t{0x7e57000});
}

TEST_F(BadInputTest, ForgedHandlesOnSynchronousCalls) {
  if (backend() == "real") GTEST_SKIP() << "forged handle pointers are undefined behaviour in NVIDIA's driver";
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuStreamSynchronize(forged<CUstream>()));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuStreamQuery(forged<CUstream>()));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuEventSynchronize(forged<CUevent>()));
  CUfunction out = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuModuleGetFunction(&out, forged<CUmodule>(), "add_one"));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuModuleUnload(forged<CUmodule>()));
}

TEST_F(BadInputTest, ForgedHandlesOnAsynchronousCalls) {
  if (backend() == "real") GTEST_SKIP() << "forged handle pointers are undefined behaviour in NVIDIA's driver";
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuEventRecord(forged<CUevent>(), nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE,
            api().cuLaunchKernel(forged<CUfunction>(), 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
}

}  // namespace
}  // namespace diff
