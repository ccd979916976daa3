// A library's module (cuLibraryGetModule) and stream-attached managed memory
// (cuStreamAttachMemAsync). Through the pool the module is an id the server records as the
// library's (worker_module_alias.cc), and an attachment decides which launches lock managed
// memory out of the host (client-shim/src/managed_attach.cc).

#include <string>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using LibraryModuleTest = DiffTest;
using AttachMemTest = DiffTest;

TEST_F(LibraryModuleTest, ModuleOfALibraryRunsItsKernels) {
  const std::string ptx = kernel_text("arith.ptx");
  ASSERT_FALSE(ptx.empty());
  CUlibrary lib = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUmodule mod = nullptr, again = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLibraryGetModule(nullptr, lib));
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetModule(&mod, lib));
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryGetModule(&again, lib));
  EXPECT_SAME_VALUE(true, mod == again) << "one module per library";
  CUfunction add_one = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleGetFunction(&add_one, mod, "add_one"));
  unsigned count = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleGetFunctionCount(&count, mod));
  EXPECT_SAME_VALUE(2, count);
  constexpr unsigned n = 32;
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(d, 41, n));
  unsigned len = n;
  void* params[] = {&d, &len};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, nullptr, params, nullptr));
  unsigned host[n] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host, d, sizeof host));
  EXPECT_SAME_VALUE(42, host[0]);
  EXPECT_SAME_VALUE(42, host[n - 1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryUnload(lib));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuLibraryGetModule(&mod, lib)) << "unloaded";
}

// The module goes with its library: unloading it alone is refused. NVIDIA's driver does not
// check this (undefined behaviour there).
TEST_F(LibraryModuleTest, ModuleOfALibraryIsNotUnloadedAlone) {
  if (backend() == "real") GTEST_SKIP() << "unloading a library's module is undefined behaviour in NVIDIA's driver";
  const std::string ptx = kernel_text("arith.ptx");
  ASSERT_FALSE(ptx.empty());
  CUlibrary lib = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUmodule mod = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetModule(&mod, lib));
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuModuleUnload(mod));
  CUfunction f = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleGetFunction(&f, mod, "saxpy")) << "still loaded";
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryUnload(lib));
}

// A host-attached allocation stays the host's while kernels run (through the pool, the launch
// does not lock it out: a host write then would fault); one attached to a stream is locked only
// by launches on that stream. Attached globally again, kernels use it.
TEST_F(AttachMemTest, AttachedMemoryAndKernels) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 256;
  CUdeviceptr m = 0, d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocManaged(&m, n * 4, CU_MEM_ATTACH_GLOBAL));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(d, 0, n));
  CUstream s1 = nullptr, s2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
  auto* host = reinterpret_cast<unsigned*>(m);
  unsigned len = n;
  void* on_d[] = {&d, &len};
  void* on_m[] = {&m, &len};

  EXPECT_CU(CUDA_SUCCESS, api().cuStreamAttachMemAsync(s1, m, 0, CU_MEM_ATTACH_HOST));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s1, on_d, nullptr));
  for (unsigned i = 0; i < n; ++i) host[i] = 100 + i;  // while the kernel may run
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s1));
  EXPECT_SAME_VALUE(100, host[0]);

  EXPECT_CU(CUDA_SUCCESS, api().cuStreamAttachMemAsync(s1, m, n * 4, CU_MEM_ATTACH_SINGLE));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s2, on_d, nullptr));
  host[1] = 7;  // a kernel on another stream leaves it to the host
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s1, on_m, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s2));
  EXPECT_SAME_VALUE(101, host[0]);
  EXPECT_SAME_VALUE(8, host[1]);

  EXPECT_CU(CUDA_SUCCESS, api().cuStreamAttachMemAsync(s2, m, 0, CU_MEM_ATTACH_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s2, on_m, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s2));
  EXPECT_SAME_VALUE(102, host[0]);
  EXPECT_SAME_VALUE(100 + n - 1 + 2, host[n - 1]);
  unsigned dev[n] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(dev, d, sizeof dev));
  EXPECT_SAME_VALUE(2, dev[0]);

  // What the driver refuses.
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamAttachMemAsync(s1, m, 0, 0)) << "no flag";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuStreamAttachMemAsync(s1, m, 0, CU_MEM_ATTACH_GLOBAL | CU_MEM_ATTACH_HOST)) << "two flags";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamAttachMemAsync(CU_STREAM_LEGACY, m, 0, CU_MEM_ATTACH_SINGLE))
      << "one stream, but the NULL stream is all of them";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamAttachMemAsync(s1, m, 5, CU_MEM_ATTACH_HOST)) << "length";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamAttachMemAsync(s1, m + 4, 0, CU_MEM_ATTACH_HOST)) << "not the start";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamAttachMemAsync(s1, d, 0, CU_MEM_ATTACH_HOST)) << "not managed";

  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s2));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(m));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

}  // namespace
}  // namespace diff
