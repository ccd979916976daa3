// Modules loaded from PTX text, functions and globals, launches (scalar and pointer parameters,
// static and dynamic shared memory) and the launch configurations a driver must refuse.
#include <cstring>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using ModuleTest = DiffTest;
using LaunchTest = DiffTest;

TEST_F(ModuleTest, FunctionsAndGlobals) {
  CUmodule mod = load_ptx("memory.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction f = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleGetFunction(&f, mod, "bump_counter"));
  EXPECT_CU(CUDA_ERROR_NOT_FOUND, api().cuModuleGetFunction(&f, mod, "no_such_kernel"));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuModuleGetFunction(nullptr, mod, "bump_counter"));
  CUdeviceptr table = 0;
  size_t bytes = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleGetGlobal(&table, &bytes, mod, "table"));
  EXPECT_SAME_VALUE(16, bytes);
  unsigned values[4] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(values, table, sizeof values));
  EXPECT_SAME_VALUE(1, values[0]);
  EXPECT_SAME_VALUE(4, values[3]);
  EXPECT_CU(CUDA_ERROR_NOT_FOUND, api().cuModuleGetGlobal(&table, &bytes, mod, "no_such_global"));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(ModuleTest, BadImagesAreRefused) {
  CUmodule mod = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuModuleLoadData(&mod, nullptr));
  const char* broken = ".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry k( {\n";
  EXPECT_CU(CUDA_ERROR_INVALID_PTX, api().cuModuleLoadData(&mod, broken));
}

TEST_F(LaunchTest, ScalarAndPointerParameters) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction saxpy = function(mod, "saxpy");
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, saxpy);
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 1000;  // not a multiple of the block: the bound check matters
  std::vector<float> x(n), y(n);
  for (unsigned i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = 1.0f;
  }
  CUdeviceptr dx = 0, dy = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&dx, (n + 24) * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&dy, (n + 24) * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(dy, 0x7f7f7f7f, n + 24));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(dx, x.data(), n * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(dy, y.data(), n * 4));
  float a = 2.0f;
  unsigned count = n;
  void* params[] = {&a, &dx, &dy, &count};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(saxpy, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr));
  std::vector<float> out(n + 1);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(out.data(), dy, (n + 1) * 4));
  EXPECT_SAME_VALUE(1, out[0]);
  EXPECT_SAME_VALUE(2 * 999 + 1, out[999]);
  unsigned guard = 0;
  std::memcpy(&guard, &out[n], 4);
  EXPECT_SAME_VALUE(0x7f7f7f7fu, guard) << "the kernel wrote past n";
  void* add_params[] = {&dx, &count};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 8, 1, 1, 128, 1, 1, 0, nullptr, add_params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(dx));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(dy));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(LaunchTest, StaticAndDynamicSharedMemory) {
  CUmodule mod = load_ptx("memory.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction reverse = function(mod, "reverse_block");
  CUfunction sum = function(mod, "block_sum");
  ASSERT_NE(nullptr, reverse);
  ASSERT_NE(nullptr, sum);
  constexpr unsigned n = 512;
  std::vector<unsigned> in(n), out(n);
  for (unsigned i = 0; i < n; ++i) in[i] = i * 3 + 1;
  CUdeviceptr d = 0, sums = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&sums, 2 * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(d, in.data(), n * 4));
  void* rp[] = {&d};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(reverse, 2, 1, 1, 256, 1, 1, 0, nullptr, rp, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(out.data(), d, n * 4));
  EXPECT_SAME_VALUE(in[255], out[0]);
  EXPECT_SAME_VALUE(in[256], out[511]);
  void* sp[] = {&d, &sums};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(sum, 2, 1, 1, 256, 1, 1, 256 * 4, nullptr, sp, nullptr));
  unsigned got[2] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(got, sums, sizeof got));
  unsigned long long expect0 = 0;
  for (unsigned i = 0; i < 256; ++i) expect0 += out[i];
  EXPECT_SAME_VALUE(expect0, got[0]);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(sums));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(LaunchTest, GlobalCounterAcrossLaunches) {
  CUmodule mod = load_ptx("memory.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction bump = function(mod, "bump_counter");
  ASSERT_NE(nullptr, bump);
  CUdeviceptr counter = 0;
  size_t bytes = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleGetGlobal(&counter, &bytes, mod, "counter"));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(counter, 0, 1));
  for (int i = 0; i < 3; ++i) {
    EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(bump, 4, 1, 1, 64, 1, 1, 0, nullptr, nullptr, nullptr));
  }
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, counter, 4));
  EXPECT_SAME_VALUE(3 * 4 * 64, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(LaunchTest, RefusedConfigurations) {
  CUmodule mod = load_ptx("memory.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction bump = function(mod, "bump_counter");
  ASSERT_NE(nullptr, bump);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchKernel(bump, 1, 1, 1, 2048, 1, 1, 0, nullptr, nullptr, nullptr))
      << "more threads than a block may have";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchKernel(bump, 1, 1, 1, 1, 1, 128, 0, nullptr, nullptr, nullptr))
      << "blockDim.z above 64";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchKernel(bump, 0, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr))
      << "an empty grid";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchKernel(bump, 1, 65536, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr))
      << "gridDim.y above 65535";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuLaunchKernel(bump, 1, 1, 1, 32, 1, 1, 1 << 20, nullptr, nullptr, nullptr))
      << "1 MiB of dynamic shared memory";
  // The refusals are not sticky: the context still launches.
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(bump, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

}  // namespace
}  // namespace diff
