// The kernel side of the library API as NVIDIA's libraries and cudart 13 use it (issue 11,
// item 4: libraries through the pool): kernel enumeration and names, parameter layouts,
// attributes set and read per kernel, occupancy with flags and the dynamic shared memory left,
// a CUkernel passed where a CUfunction is expected (cudart does), cuLaunchKernelEx, and a
// library's globals. Every answer must be the emulator's, directly and through the pool.
#include <algorithm>
#include <set>
#include <string>


#include "suite.h"

namespace diff {
namespace {

using LibraryKernelTest = DiffTest;

TEST_F(LibraryKernelTest, EnumeratesKernelsWithNamesParametersAndAttributes) {
  const std::string ptx = kernel_text("arith.ptx");
  ASSERT_FALSE(ptx.empty());
  CUlibrary lib = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  unsigned count = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryGetKernelCount(&count, lib));
  EXPECT_SAME_VALUE(2, count);
  CUkernel kernels[2] = {};
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryEnumerateKernels(kernels, 2, lib));
  std::set<std::string> names;
  CUkernel saxpy = nullptr;
  for (CUkernel k : kernels) {
    const char* name = nullptr;
    EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetName(&name, k));
    if (name != nullptr) names.insert(name);
    if (name != nullptr && std::string(name) == "saxpy") saxpy = k;
    CUlibrary owner = nullptr;
    EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetLibrary(&owner, k));
    EXPECT_SAME_VALUE(true, owner == lib) << "the kernel's library";
  }
  EXPECT_SAME_VALUE(true, names == (std::set<std::string>{"add_one", "saxpy"}));
  ASSERT_NE(saxpy, nullptr);
  CUkernel by_name = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryGetKernel(&by_name, lib, "saxpy"));
  EXPECT_SAME_VALUE(true, by_name == saxpy) << "one handle per kernel";

  // saxpy(f32 a, u64 x, u64 y, u32 n): offsets 0, 8, 16, 24.
  const long long offsets[] = {0, 8, 16, 24}, sizes[] = {4, 8, 8, 4};
  for (unsigned i = 0; i < 4; ++i) {
    size_t off = 99, size = 99;
    EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetParamInfo(saxpy, i, &off, &size));
    EXPECT_SAME_VALUE(offsets[i], off) << "parameter " << i;
    EXPECT_SAME_VALUE(sizes[i], size) << "parameter " << i;
  }
  size_t off = 0, size = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuKernelGetParamInfo(saxpy, 4, &off, &size)) << "past the last";

  CUfunction fn = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuKernelGetFunction(&fn, saxpy));
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetParamInfo(fn, 1, &off, &size));
  EXPECT_SAME_VALUE(8, off);
  int max_threads = 0, static_smem = -1, regs = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, saxpy, dev_));
  EXPECT_SAME_VALUE(1024, max_threads);
  EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetAttribute(&static_smem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, saxpy, dev_));
  EXPECT_SAME_VALUE(0, static_smem);
  EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, saxpy, dev_));
  record_machine("saxpy registers", regs);
  // The libraries raise the dynamic shared memory limit per kernel before launching.
  EXPECT_CU(CUDA_SUCCESS, api().cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 65536, saxpy, dev_));
  int dyn = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuKernelGetAttribute(&dyn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, saxpy, dev_));
  EXPECT_SAME_VALUE(65536, dyn);
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&dyn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, fn));
  EXPECT_SAME_VALUE(65536, dyn) << "the kernel's function sees the kernel's attribute";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1 << 30, saxpy, dev_))
      << "over the device's opt-in limit";

  // Occupancy as the libraries ask for it: with flags, and the dynamic shared memory left.
  int blocks = 0, blocks_flags = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, fn, 128, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
                              &blocks_flags, fn, 128, 0, CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE));
  EXPECT_SAME_VALUE(true, blocks > 0 && blocks == blocks_flags) << blocks << " and " << blocks_flags;
  record_machine("saxpy blocks per SM at 128 threads", blocks);
  // The runtime API lets a cudaKernel_t stand for a function in the occupancy calls; cudart
  // passes the CUkernel on, cast to CUfunction, and the same for the function attributes.
  int blocks_kernel = 0, max_threads_kernel = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxActiveBlocksPerMultiprocessor(
                              &blocks_kernel, reinterpret_cast<CUfunction>(saxpy), 128, 0));
  EXPECT_SAME_VALUE(blocks, blocks_kernel);
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&max_threads_kernel, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                                                   reinterpret_cast<CUfunction>(saxpy)));
  EXPECT_SAME_VALUE(1024, max_threads_kernel);
  size_t smem_left = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyAvailableDynamicSMemPerBlock(&smem_left, fn, 1, 128));
  int optin = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev_));
  EXPECT_SAME_VALUE(true, smem_left > 0 && smem_left <= static_cast<size_t>(optin)) << smem_left << " of " << optin;
  record_machine("dynamic shared memory left for one block of saxpy", static_cast<long long>(smem_left));
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryUnload(lib));
}

TEST_F(LibraryKernelTest, KernelHandlesLaunchAsFunctionsAndThroughLaunchKernelEx) {
  const std::string ptx = kernel_text("arith.ptx");
  ASSERT_FALSE(ptx.empty());
  CUlibrary lib = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUkernel add_one = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetKernel(&add_one, lib, "add_one"));
  constexpr unsigned n = 64;
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(d, 10, n));
  unsigned len = n;
  void* params[] = {&d, &len};
  // cudart 13 launches a CUkernel through cuLaunchKernel / cuLaunchKernelEx, cast to CUfunction.
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(reinterpret_cast<CUfunction>(add_one), 2, 1, 1, 32, 1, 1, 0, nullptr,
                                               params, nullptr));
  CUlaunchAttribute attr[1] = {};
  attr[0].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  attr[0].value.priority = 0;
  CUlaunchConfig cfg = {};
  cfg.gridDimX = 2;
  cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = 32;
  cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernelEx(&cfg, reinterpret_cast<CUfunction>(add_one), params, nullptr));
  // Attributes the driver refuses: a cluster that does not divide the grid, an unknown id.
  attr[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attr[0].value.clusterDim.x = 0;
  attr[0].value.clusterDim.y = attr[0].value.clusterDim.z = 1;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchKernelEx(&cfg, reinterpret_cast<CUfunction>(add_one), params, nullptr));
  attr[0].id = static_cast<CUlaunchAttributeID>(9999);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchKernelEx(&cfg, reinterpret_cast<CUfunction>(add_one), params, nullptr));
  CUfunction fn = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuKernelGetFunction(&fn, add_one));
  cfg.numAttrs = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernelEx(&cfg, fn, params, nullptr));
  unsigned host[n] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host, d, sizeof host));
  EXPECT_SAME_VALUE(13, host[0]) << "three launches of add_one";
  EXPECT_SAME_VALUE(13, host[n - 1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryUnload(lib));
}

TEST_F(LibraryKernelTest, LibraryGlobalsAreFoundAndWritable) {
  const std::string ptx = kernel_text("memory.ptx");
  ASSERT_FALSE(ptx.empty());
  CUlibrary lib = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUdeviceptr table = 0;
  size_t bytes = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetGlobal(&table, &bytes, lib, "table"));
  EXPECT_SAME_VALUE(16, bytes);
  unsigned host[4] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host, table, sizeof host));
  EXPECT_SAME_VALUE(1, host[0]);
  EXPECT_SAME_VALUE(4, host[3]);
  const unsigned seven[4] = {7, 7, 7, 7};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(table, seven, sizeof seven));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host, table, sizeof host));
  EXPECT_SAME_VALUE(7, host[2]);
  EXPECT_CU(CUDA_ERROR_NOT_FOUND, api().cuLibraryGetGlobal(&table, &bytes, lib, "no_such_global"));
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryUnload(lib));
}

}  // namespace
}  // namespace diff
