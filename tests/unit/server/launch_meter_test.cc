// LaunchMeter on the emulator backend (dlopened like a worker does): a turn covers up to `batch`
// launches, is settled (waited for, charged, given back) when the batch is full or on demand,
// charges device time in both metering modes, and reports a kernel's fault when it settles.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "backend.h"
#include "launch_meter.h"
#include "scheduler.h"
#include "tenant_table.h"

namespace gpool::server {
namespace {

// spin(out, iters): every thread counts to `iters`, then thread 0 stores the count;
// bad(out): stores through a null pointer (an illegal address).
constexpr const char* kPtx = R"(
.version 7.0
.target sm_50
.address_size 64
.visible .entry spin(.param .u64 out, .param .u32 iters)
{
  .reg .u32 %r<4>;
  .reg .u64 %rd<3>;
  .reg .pred %p<2>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [iters];
  mov.u32 %r2, 0;
LOOP:
  add.u32 %r2, %r2, 1;
  setp.lt.u32 %p1, %r2, %r1;
  @%p1 bra LOOP;
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r2;
  ret;
}
.visible .entry bad(.param .u64 out)
{
  .reg .u32 %r<2>;
  .reg .u64 %rd<2>;
  mov.u64 %rd1, 0;
  mov.u32 %r1, 7;
  st.global.u32 [%rd1], %r1;
  ret;
}
)";

class LaunchMeterTest : public ::testing::TestWithParam<sched::Metering> {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(drv_.load(GPOOL_TEST_EMULATOR_LIB, error)) << error;
    ASSERT_EQ(drv_.cuInit(0), CUDA_SUCCESS);
    CUdevice dev = 0;
    ASSERT_EQ(drv_.cuDeviceGet(&dev, 0), CUDA_SUCCESS);
    ASSERT_EQ(drv_.cuDevicePrimaryCtxRetain(&ctx_, dev), CUDA_SUCCESS);
    ASSERT_EQ(drv_.cuCtxSetCurrent(ctx_), CUDA_SUCCESS);
    ASSERT_EQ(drv_.cuModuleLoadData(&mod_, kPtx), CUDA_SUCCESS);
    ASSERT_EQ(drv_.cuModuleGetFunction(&spin_, mod_, "spin"), CUDA_SUCCESS);
    ASSERT_EQ(drv_.cuModuleGetFunction(&bad_, mod_, "bad"), CUDA_SUCCESS);
    ASSERT_EQ(drv_.cuMemAlloc_v2(&out_, 64), CUDA_SUCCESS);
    Scheduler::Options o;
    o.tenants = 4;
    o.waiters = 4;
    o.enabled = true;
    o.metering = GetParam();
    o.batch = 4;
    sched_ = std::make_unique<Scheduler>(o);
    sched_->set_share(1, 1, sched::Priority::normal, 0);
  }
  void TearDown() override {
    if (mod_ != nullptr) drv_.cuModuleUnload(mod_);
    if (out_ != 0) drv_.cuMemFree_v2(out_);
  }
  CUresult launch(CUfunction f, unsigned iters) {
    void* args[] = {&out_, &iters};
    return drv_.cuLaunchKernel(f, 2, 1, 1, 64, 1, 1, 0, nullptr, args, nullptr);
  }

  Driver drv_;
  CUcontext ctx_ = nullptr;
  CUmodule mod_ = nullptr;
  CUfunction spin_ = nullptr, bad_ = nullptr;
  CUdeviceptr out_ = 0;
  std::unique_ptr<Scheduler> sched_;
  TenantTable tenants_;
};

TEST_P(LaunchMeterTest, ATurnCoversABatchOfLaunchesAndChargesTheirTime) {
  LaunchMeter meter(drv_, sched_.get(), 1, &tenants_);
  ASSERT_TRUE(meter.enabled());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(meter.begin(0, nullptr));
    EXPECT_TRUE(meter.holding());
    ASSERT_EQ(meter.end(nullptr, launch(spin_, 2000)), CUDA_SUCCESS);
    // The 4th and 8th launches fill the batch: the turn is settled and given back.
    EXPECT_EQ(meter.holding(), (i + 1) % 4 != 0) << "after launch " << i + 1;
  }
  EXPECT_EQ(meter.settle(), CUDA_SUCCESS);  // the last 2 launches
  EXPECT_FALSE(meter.holding());
  EXPECT_EQ(meter.settle(), CUDA_SUCCESS);  // nothing held: no-op
  EXPECT_EQ(sched_->launches(0, 1), 3u) << "10 launches in turns of 4, 4 and 2";
  const uint64_t charged = sched_->device_time_ns(0, 1);
  EXPECT_GT(charged, 0u);
  EXPECT_EQ(tenants_.slot(1).dev[0].device_time_ns.load(), charged);

  // The work really ran: the kernel stored its count.
  unsigned got = 0;
  ASSERT_EQ(drv_.cuMemcpyDtoH_v2(&got, out_, sizeof got), CUDA_SUCCESS);
  EXPECT_EQ(got, 2000u);
}

TEST_P(LaunchMeterTest, LongerKernelsAreChargedMore) {
  LaunchMeter meter(drv_, sched_.get(), 1, &tenants_);
  // Unmetered warm-up: the emulator prepares a kernel at its first launch.
  ASSERT_EQ(launch(spin_, 10), CUDA_SUCCESS);
  ASSERT_EQ(drv_.cuCtxSynchronize(), CUDA_SUCCESS);
  ASSERT_TRUE(meter.begin(0, nullptr));
  ASSERT_EQ(meter.end(nullptr, launch(spin_, 10)), CUDA_SUCCESS);
  ASSERT_EQ(meter.settle(), CUDA_SUCCESS);
  const uint64_t short_ns = sched_->device_time_ns(0, 1);
  ASSERT_TRUE(meter.begin(0, nullptr));
  ASSERT_EQ(meter.end(nullptr, launch(spin_, 500000)), CUDA_SUCCESS);
  ASSERT_EQ(meter.settle(), CUDA_SUCCESS);
  const uint64_t long_ns = sched_->device_time_ns(0, 1) - short_ns;
  // 50000x the loop iterations; anything not clearly larger means the time was not measured.
  EXPECT_GT(long_ns, 10 * short_ns) << "short " << short_ns << " ns, long " << long_ns << " ns";
}

TEST_P(LaunchMeterTest, AFailedLaunchIsNotCountedAndTheTurnStaysHeld) {
  LaunchMeter meter(drv_, sched_.get(), 1, &tenants_);
  ASSERT_TRUE(meter.begin(0, nullptr));
  EXPECT_EQ(meter.end(nullptr, CUDA_ERROR_INVALID_VALUE), CUDA_SUCCESS);
  EXPECT_TRUE(meter.holding());
  EXPECT_EQ(meter.settle(), CUDA_SUCCESS);
  EXPECT_EQ(sched_->device_time_ns(0, 1), 0u) << "nothing ran in that turn";
}

TEST_P(LaunchMeterTest, WithoutTheSchedulerNothingIsMetered) {
  LaunchMeter none(drv_, nullptr, 1, &tenants_);
  EXPECT_FALSE(none.enabled());
  LaunchMeter no_tenant(drv_, sched_.get(), -1, &tenants_);
  EXPECT_FALSE(no_tenant.enabled());
  Scheduler::Options o;
  o.enabled = false;
  Scheduler off(o);
  LaunchMeter disabled(drv_, &off, 1, &tenants_);
  EXPECT_FALSE(disabled.enabled());
}

INSTANTIATE_TEST_SUITE_P(Modes, LaunchMeterTest,
                         ::testing::Values(sched::Metering::wall, sched::Metering::events),
                         [](const auto& info) {
                           return std::string(info.param == sched::Metering::wall ? "Wall" : "Events");
                         });

// Last in the file and not parameterized: the fault is sticky in the emulator's primary context,
// so no test may follow it in the same process (ctest runs each test in its own process).
class LaunchMeterFaultTest : public LaunchMeterTest {};

TEST_P(LaunchMeterFaultTest, AFaultingKernelIsReportedWhenTheTurnSettles) {
  LaunchMeter meter(drv_, sched_.get(), 1, &tenants_);
  ASSERT_TRUE(meter.begin(0, nullptr));
  ASSERT_EQ(meter.end(nullptr, launch(bad_, 0)), CUDA_SUCCESS);  // async: not seen yet
  EXPECT_EQ(meter.settle(), CUDA_ERROR_ILLEGAL_ADDRESS);
  EXPECT_FALSE(meter.holding()) << "the turn is given back even when the work failed";
  mod_ = nullptr;  // the context is unusable now: TearDown must not call into it
  out_ = 0;
}

INSTANTIATE_TEST_SUITE_P(Events, LaunchMeterFaultTest, ::testing::Values(sched::Metering::events));

}  // namespace
}  // namespace gpool::server
