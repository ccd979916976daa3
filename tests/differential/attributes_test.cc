// Occupancy, function attributes and pointer attributes.
#include "suite.h"

namespace diff {
namespace {

using OccupancyTest = DiffTest;
using FunctionAttributeTest = DiffTest;
using PointerAttributeTest = DiffTest;

TEST_F(OccupancyTest, ActiveBlocksPerMultiprocessor) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction f = function(mod, "add_one");
  ASSERT_NE(nullptr, f);
  int blocks = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 256, 0));
  EXPECT_GE(blocks, 1);
  record_machine("active blocks of 256 threads per SM", blocks);
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 1024, 0));
  EXPECT_GE(blocks, 1);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuOccupancyMaxActiveBlocksPerMultiprocessor(nullptr, f, 256, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(OccupancyTest, PotentialBlockSize) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction f = function(mod, "add_one");
  ASSERT_NE(nullptr, f);
  int min_grid = 0, block = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxPotentialBlockSize(&min_grid, &block, f, nullptr, 0, 0));
  EXPECT_GE(block, 32);
  EXPECT_LE(block, 1024);
  EXPECT_GE(min_grid, 1);
  record_machine("potential block size", block);
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(FunctionAttributeTest, StaticSharedThreadsAndDynamicLimit) {
  CUmodule mod = load_ptx("memory.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction reverse = function(mod, "reverse_block");
  CUfunction sum = function(mod, "block_sum");
  ASSERT_NE(nullptr, reverse);
  ASSERT_NE(nullptr, sum);
  int v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, reverse));
  EXPECT_SAME_VALUE(1024, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, reverse));
  EXPECT_GE(v, 256);
  EXPECT_LE(v, 1024);
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, sum));
  record_machine("registers of block_sum", v);
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, sum));
  record_machine("PTX version of block_sum", v);
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sum));
  EXPECT_SAME_VALUE(48 * 1024, v) << "the default dynamic shared memory limit";
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncSetAttribute(sum, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 16 * 1024));
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sum));
  EXPECT_SAME_VALUE(16 * 1024, v);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuFuncSetAttribute(sum, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 << 20));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuFuncGetAttribute(nullptr, CU_FUNC_ATTRIBUTE_NUM_REGS, sum));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(PointerAttributeTest, DeviceHostAndUnknownPointers) {
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 4096));
  unsigned type = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p + 100));
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_DEVICE, type);
  int ordinal = -1;
  EXPECT_CU(CUDA_SUCCESS, api().cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p));
  EXPECT_SAME_VALUE(0, ordinal);
  CUdeviceptr start = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p + 100));
  EXPECT_EQ(p, start);
  size_t size = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p + 100));
  EXPECT_SAME_VALUE(4096, size);
  void* host = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&host, 4096));
  EXPECT_CU(CUDA_SUCCESS, api().cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                                      reinterpret_cast<CUdeviceptr>(host)));
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_HOST, type);
  int on_stack = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                                                  reinterpret_cast<CUdeviceptr>(&on_stack)))
      << "plain host memory the driver does not know";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(host));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
}

}  // namespace
}  // namespace diff
