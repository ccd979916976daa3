// Modules from PTX text: functions, globals, launches with parameters, the
// extra-buffer form, limits, sticky faults and libraries.
#include "test_util.h"

#include <cstring>
#include <numeric>
#include <vector>

class RuntimeModule : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_CU(cuModuleLoadData(&mod_, kTestPtx));
    ASSERT_CU(cuModuleGetFunction(&add_, mod_, "add_k"));
    ASSERT_CU(cuModuleGetFunction(&fault_, mod_, "fault"));
  }
  CUmodule mod_ = nullptr;
  CUfunction add_ = nullptr, fault_ = nullptr;
};

TEST_F(RuntimeModule, FunctionsAndGlobals) {
  CUfunction f = nullptr;
  EXPECT_EQ(CUDA_ERROR_NOT_FOUND, cuModuleGetFunction(&f, mod_, "missing"));
  unsigned count = 0;
  ASSERT_CU(cuModuleGetFunctionCount(&count, mod_));
  EXPECT_EQ(2u, count);
  CUdeviceptr g = 0;
  size_t bytes = 0;
  ASSERT_CU(cuModuleGetGlobal(&g, &bytes, mod_, "counter"));
  EXPECT_EQ(4u, bytes);
  uint32_t v = 0;
  ASSERT_CU(cuMemcpyDtoH(&v, g, 4));
  EXPECT_EQ(7u, v);
  ASSERT_CU(cuModuleGetGlobal(&g, &bytes, mod_, "addend"));
  ASSERT_CU(cuMemcpyDtoH(&v, g, 4));
  EXPECT_EQ(5u, v);
  EXPECT_EQ(CUDA_ERROR_NOT_FOUND, cuModuleGetGlobal(&g, &bytes, mod_, "nope"));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(g));  // module memory is not the program's to free
  const char* name = nullptr;
  ASSERT_CU(cuFuncGetName(&name, add_));
  EXPECT_STREQ("add_k", name);
  size_t off = 0, size = 0;
  ASSERT_CU(cuFuncGetParamInfo(add_, 1, &off, &size));
  EXPECT_EQ(8u, off);
  EXPECT_EQ(4u, size);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuFuncGetParamInfo(add_, 2, &off, &size));
  int attr = 0;
  ASSERT_CU(cuFuncGetAttribute(&attr, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, add_));
  EXPECT_GT(attr, 0);
  EXPECT_LE(attr, 1024);
  ASSERT_CU(cuFuncGetAttribute(&attr, CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, add_));
  EXPECT_EQ(4, attr);
  ASSERT_CU(cuFuncGetAttribute(&attr, CU_FUNC_ATTRIBUTE_PTX_VERSION, add_));
  EXPECT_EQ(75, attr);  // the virtual architecture (.target sm_75), not the ISA version (.version 8.0)
  ASSERT_CU(cuFuncSetAttribute(add_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 65536));
  ASSERT_CU(cuFuncGetAttribute(&attr, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, add_));
  EXPECT_EQ(65536, attr);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuFuncSetAttribute(add_, CU_FUNC_ATTRIBUTE_NUM_REGS, 3));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuFuncGetAttribute(&attr, CU_FUNC_ATTRIBUTE_NUM_REGS,
                                                          reinterpret_cast<CUfunction>(&attr)));
  ASSERT_CU(cuModuleUnload(mod_));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuModuleGetFunction(&f, mod_, "add_k"));
}

TEST_F(RuntimeModule, LaunchWithParamsAndExtraBuffer) {
  const uint32_t n = 1000;
  std::vector<uint32_t> host(n);
  std::iota(host.begin(), host.end(), 0u);
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, n * 4));
  ASSERT_CU(cuMemcpyHtoD(d, host.data(), n * 4));
  void* args[] = {&d, const_cast<uint32_t*>(&n)};
  ASSERT_CU(cuLaunchKernel(add_, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, args, nullptr));
  // The same kernel through the extra buffer, covering only the first 10 elements.
  struct {
    CUdeviceptr p;
    uint32_t n;
    uint32_t pad;
  } buf{d, 10, 0};
  size_t buf_size = 16;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &buf_size, CU_LAUNCH_PARAM_END};
  ASSERT_CU(cuLaunchKernel(add_, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, extra));
  std::vector<uint32_t> out(n);
  ASSERT_CU(cuMemcpyDtoH(out.data(), d, n * 4));
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(i + (i < 10 ? 10u : 5u), out[i]) << i;

  // cuLaunchKernelEx with a stream and no attributes.
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, 0));
  CUlaunchConfig cfg{};
  cfg.gridDimX = (n + 255) / 256;
  cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = 256;
  cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.hStream = s;
  ASSERT_CU(cuLaunchKernelEx(&cfg, add_, args, nullptr));
  ASSERT_CU(cuStreamSynchronize(s));
  ASSERT_CU(cuMemcpyDtoH(out.data(), d, n * 4));
  EXPECT_EQ(15u, out[0]);
  EXPECT_EQ(999u + 10u, out[999]);
  ASSERT_CU(cuStreamDestroy(s));
  ASSERT_CU(cuMemFree(d));
}

TEST_F(RuntimeModule, LaunchLimitsAreChecked) {
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 16));
  uint32_t n = 4;
  void* args[] = {&d, &n};
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(add_, 1, 1, 1, 1025, 1, 1, 0, nullptr, args, nullptr));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(add_, 1, 1, 1, 1, 1, 65, 0, nullptr, args, nullptr));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(add_, 0, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(add_, 1, 65536, 1, 32, 1, 1, 0, nullptr, args, nullptr));
  // Dynamic shared memory above the default 48 KiB needs the attribute first.
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(add_, 1, 1, 1, 32, 1, 1, 64 * 1024, nullptr, args, nullptr));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuLaunchKernel(add_, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE,
            cuLaunchKernel(reinterpret_cast<CUfunction>(&n), 1, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr));
  ASSERT_CU(cuCtxSynchronize());  // none of the refused launches made the context sticky
  ASSERT_CU(cuMemFree(d));
}

TEST_F(RuntimeModule, FaultIsStickyUntilPrimaryReset) {
  ASSERT_CU(cuLaunchKernel(fault_, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr));
  EXPECT_EQ(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
  CUdeviceptr p = 0;
  EXPECT_EQ(CUDA_ERROR_ILLEGAL_ADDRESS, cuMemAlloc(&p, 16));
  EXPECT_EQ(CUDA_ERROR_ILLEGAL_ADDRESS, cuCtxSynchronize());
  CUstream s = nullptr;
  EXPECT_EQ(CUDA_ERROR_ILLEGAL_ADDRESS, cuStreamCreate(&s, 0));
  ASSERT_CU(cuDevicePrimaryCtxReset(0));
  ASSERT_CU(cuCtxSynchronize());
  ASSERT_CU(cuMemAlloc(&p, 16));
  // The reset unloaded the module; load it again and run the good kernel.
  CUfunction f = nullptr;
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuModuleGetFunction(&f, mod_, "add_k"));
  ASSERT_CU(cuModuleLoadData(&mod_, kTestPtx));
  ASSERT_CU(cuModuleGetFunction(&f, mod_, "add_k"));
  uint32_t n = 4, zero[4] = {0, 0, 0, 0}, out[4] = {};
  ASSERT_CU(cuMemcpyHtoD(p, zero, 16));
  void* args[] = {&p, &n};
  ASSERT_CU(cuLaunchKernel(f, 1, 1, 1, 4, 1, 1, 0, nullptr, args, nullptr));
  ASSERT_CU(cuMemcpyDtoH(out, p, 16));
  EXPECT_EQ(5u, out[3]);
  ASSERT_CU(cuMemFree(p));
}

TEST_F(RuntimeModule, BadImagesAreRefused) {
  CUmodule m = nullptr;
  const char junk[] = "this is not an image";
  EXPECT_NE(CUDA_SUCCESS, cuModuleLoadData(&m, junk));
  const char unparseable[] = ".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k( {\n";
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuModuleLoadData(&m, unparseable));
  EXPECT_EQ(CUDA_ERROR_FILE_NOT_FOUND, cuModuleLoad(&m, "/nonexistent/module.ptx"));
}

// Kernels are lowered at their first use (docs/emulator.md, "Lazy loading and the kernel
// cache"): a kernel the emulator cannot run loads, fails its queries with INVALID_PTX while the
// other kernels of its module work, and its launch (which a real GPU would run) makes the context
// unusable with the sticky INVALID_PTX, as a launch fault does (docs/emulator.md, "Refused code
// fails loudly").
TEST_F(RuntimeModule, AnUnrunnableKernelFailsAtItsFirstUseOnly) {
  const char ptx[] =
      ".version 8.0\n.target sm_75\n.address_size 64\n"
      ".visible .entry bad() { .reg .b32 %r<2>; frobnicate.u32 %r1, %r0; ret; }\n"
      ".visible .entry good(.param .u64 p) { .reg .b64 %rd<2>; ld.param.u64 %rd0, [p]; "
      "st.global.u32 [%rd0], 42; ret; }\n";
  CUmodule m = nullptr;
  ASSERT_CU(cuModuleLoadData(&m, ptx));
  CUfunction bad = nullptr, good = nullptr;
  ASSERT_CU(cuModuleGetFunction(&bad, m, "bad"));
  ASSERT_CU(cuModuleGetFunction(&good, m, "good"));
  int regs = 0;
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, bad));
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuFuncLoad(bad));
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 4));
  void* args[] = {&d};
  ASSERT_CU(cuLaunchKernel(good, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr));
  ASSERT_CU(cuCtxSynchronize());
  unsigned v = 0;
  ASSERT_CU(cuMemcpyDtoH(&v, d, 4));
  EXPECT_EQ(42u, v);
  // The launch: refused, and from then on every call on the context fails the same way.
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuLaunchKernel(bad, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuCtxSynchronize());
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuMemcpyDtoH(&v, d, 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_PTX, cuLaunchKernel(good, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr));
  ASSERT_CU(cuDevicePrimaryCtxReset(0));
}

TEST_F(RuntimeModule, LibraryKernelsActAsFunctions) {
  CUlibrary lib = nullptr;
  ASSERT_CU(cuLibraryLoadData(&lib, kTestPtx, nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUkernel k = nullptr;
  ASSERT_CU(cuLibraryGetKernel(&k, lib, "add_k"));
  unsigned count = 0;
  ASSERT_CU(cuLibraryGetKernelCount(&count, lib));
  EXPECT_EQ(2u, count);
  CUdeviceptr g = 0;
  size_t bytes = 0;
  ASSERT_CU(cuLibraryGetGlobal(&g, &bytes, lib, "counter"));
  EXPECT_EQ(4u, bytes);
  int attr = 0;
  ASSERT_CU(cuKernelGetAttribute(&attr, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, k, 0));
  EXPECT_GT(attr, 0);
  int blocks = 0;
  ASSERT_CU(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, reinterpret_cast<CUfunction>(k), 128, 0));
  EXPECT_GT(blocks, 0);
  size_t dyn = 0;
  ASSERT_CU(cuOccupancyAvailableDynamicSMemPerBlock(&dyn, reinterpret_cast<CUfunction>(k), 2, 128));
  EXPECT_GT(dyn, 0u);
  int min_grid = 0, block = 0;
  ASSERT_CU(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, reinterpret_cast<CUfunction>(k), nullptr, 0, 0));
  EXPECT_GT(block, 0);
  EXPECT_GT(min_grid, 0);

  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 8));
  uint32_t init[2] = {1, 2}, out[2] = {};
  ASSERT_CU(cuMemcpyHtoD(d, init, 8));
  uint32_t n = 2;
  void* args[] = {&d, &n};
  // cudart passes the CUkernel straight to cuLaunchKernel.
  ASSERT_CU(cuLaunchKernel(reinterpret_cast<CUfunction>(k), 1, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr));
  CUfunction f = nullptr;
  ASSERT_CU(cuKernelGetFunction(&f, k));
  ASSERT_CU(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr));
  ASSERT_CU(cuMemcpyDtoH(out, d, 8));
  EXPECT_EQ(11u, out[0]);
  EXPECT_EQ(12u, out[1]);
  ASSERT_CU(cuMemFree(d));
  ASSERT_CU(cuLibraryUnload(lib));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuLibraryGetKernel(&k, lib, "add_k"));
}
