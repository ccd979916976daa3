// Kernel resources: the register count (NUM_REGS), the largest block
// (MAX_THREADS_PER_BLOCK), occupancy, launch refusal and the cooperative-launch
// limit all follow from one per-kernel register count. Kernels from
// tests/unit/exec/kernels/reg_demand.ptx, whose counts that file derives.
#include "test_util.h"

#include <fstream>
#include <sstream>
#include <vector>

namespace {

class RuntimeResources : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    std::ifstream f(GPOOL_REG_DEMAND_PTX);
    std::stringstream ss;
    ss << f.rdbuf();
    text_ = ss.str();
    ASSERT_FALSE(text_.empty()) << "cannot read " << GPOOL_REG_DEMAND_PTX;
    ASSERT_CU(cuModuleLoadData(&mod_, text_.c_str()));
    ASSERT_CU(cuMemAlloc(&buf_, 100 * 8));
    ASSERT_CU(cuMemsetD8(buf_, 1, 100 * 8));
  }
  void TearDown() override {
    cuMemFree(buf_);
    cuModuleUnload(mod_);
    RuntimeTest::TearDown();
  }
  CUfunction fn(const char* name) {
    CUfunction f = nullptr;
    EXPECT_EQ(CUDA_SUCCESS, cuModuleGetFunction(&f, mod_, name)) << name;
    return f;
  }
  int attr(CUfunction f, CUfunction_attribute a) {
    int v = -1;
    EXPECT_EQ(CUDA_SUCCESS, cuFuncGetAttribute(&v, a, f));
    return v;
  }
  CUresult launch(CUfunction f, unsigned grid, unsigned block, bool cooperative = false) {
    void* args[] = {&buf_};
    return cooperative ? cuLaunchCooperativeKernel(f, grid, 1, 1, block, 1, 1, 0, nullptr, args)
                       : cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, nullptr, args, nullptr);
  }
  std::string text_;
  CUmodule mod_ = nullptr;
  CUdeviceptr buf_ = 0;
};

TEST_F(RuntimeResources, SmallKernelTakesFullBlocks) {
  CUfunction f = fn("live8");
  EXPECT_EQ(10, attr(f, CU_FUNC_ATTRIBUTE_NUM_REGS));
  EXPECT_EQ(1024, attr(f, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  int blocks = 0;
  ASSERT_CU(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 1024, 0));
  EXPECT_GE(blocks, 1);
  ASSERT_CU(launch(f, 2, 1024));
  ASSERT_CU(cuCtxSynchronize());
}

// 202 registers: 202 * 32 rounded up to 256 = 6656 per warp, 65536 / 6656 = 9 warps.
TEST_F(RuntimeResources, HeavyKernelIsLimitedAsOnAGpu) {
  CUfunction f = fn("live100");
  EXPECT_EQ(202, attr(f, CU_FUNC_ATTRIBUTE_NUM_REGS));
  EXPECT_EQ(288, attr(f, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  int blocks = -1;
  ASSERT_CU(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 288, 0));
  EXPECT_EQ(1, blocks);
  ASSERT_CU(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 32, 0));
  EXPECT_EQ(9, blocks);
  ASSERT_CU(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 320, 0));
  EXPECT_EQ(0, blocks);
  EXPECT_EQ(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, launch(f, 1, 320));
  ASSERT_CU(launch(f, 1, 288));
  ASSERT_CU(cuCtxSynchronize());
  // Cooperative: one 288-thread block per SM fits, one more block does not.
  CUdevice dev = 0;
  ASSERT_CU(cuCtxGetDevice(&dev));
  int sms = 0;
  ASSERT_CU(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
  EXPECT_EQ(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, launch(f, static_cast<unsigned>(sms) + 1, 288, true));
  ASSERT_CU(launch(f, 2, 288, true));
  ASSERT_CU(cuCtxSynchronize());
}

// Launch bounds cap the count as ptxas does, so the bounded block size is launchable.
TEST_F(RuntimeResources, LaunchBoundsAndMaxnreg) {
  CUfunction f = fn("live100_maxntid1024");
  EXPECT_EQ(64, attr(f, CU_FUNC_ATTRIBUTE_NUM_REGS));
  EXPECT_EQ(1024, attr(f, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  ASSERT_CU(launch(f, 1, 1024));
  CUfunction g = fn("live100_reqntid512");
  EXPECT_EQ(128, attr(g, CU_FUNC_ATTRIBUTE_NUM_REGS));
  EXPECT_EQ(512, attr(g, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  ASSERT_CU(launch(g, 1, 512));
  CUfunction h = fn("live100_maxnreg");
  EXPECT_EQ(40, attr(h, CU_FUNC_ATTRIBUTE_NUM_REGS));
  // 40 * 32 = 1280 -> 65536 / 1280 = 51 warps, more than a block may have.
  EXPECT_EQ(1024, attr(h, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  ASSERT_CU(cuCtxSynchronize());
}

}  // namespace
