// Helpers for the runtime tests: a fixture that initialises the driver and
// makes device 0's primary context current, and PTX sources used by several
// test files.
#pragma once

#include <cuda.h>
#include <gtest/gtest.h>

#define ASSERT_CU(x) ASSERT_EQ(CUDA_SUCCESS, (x))
#define EXPECT_CU(x) EXPECT_EQ(CUDA_SUCCESS, (x))

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_CU(cuInit(0));
    ASSERT_CU(cuDevicePrimaryCtxRetain(&ctx_, 0));
    ASSERT_CU(cuCtxSetCurrent(ctx_));
  }
  void TearDown() override {
    cuCtxSynchronize();
    cuDevicePrimaryCtxRelease(0);
  }
  CUcontext ctx_ = nullptr;
};

// add_k(u32* p, u32 n): p[i] += addend (a __constant__ holding 5) for i < n;
// `counter` is a __device__ u32 initialised to 7. fault(): stores to address 16.
inline const char* kTestPtx = R"(
.version 8.0
.target sm_75
.address_size 64

.visible .global .align 4 .u32 counter = 7;
.visible .const .align 4 .u32 addend = 5;

.visible .entry add_k(
    .param .u64 add_k_param_0,
    .param .u32 add_k_param_1
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<8>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [add_k_param_0];
    ld.param.u32 %r1, [add_k_param_1];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.u32 %p1, %r5, %r1;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd2, %rd1;
    mul.wide.u32 %rd3, %r5, 4;
    add.s64 %rd4, %rd2, %rd3;
    ld.global.u32 %r6, [%rd4];
    ld.const.u32 %r7, [addend];
    add.s32 %r6, %r6, %r7;
    st.global.u32 [%rd4], %r6;
DONE:
    ret;
}

.visible .entry fault()
{
    .reg .b32 %r<2>;
    .reg .b64 %rd<2>;

    mov.u64 %rd1, 16;
    mov.u32 %r1, 1;
    st.global.u32 [%rd1], %r1;
    ret;
}
)";
