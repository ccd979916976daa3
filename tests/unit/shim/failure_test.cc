// Failure paths: unreachable, silent or refusing servers and a server lost mid-session end in
// CUDA errors within bounded time, never a hang (session.h, pool.h).
#include <chrono>
#include <cstdio>
#include <fstream>

#include "pool.h"
#include "shim_fixture.h"

namespace gpool::shim::test {
namespace {

using remote::Op;
using FailureTest = ShimTest;
using Clock = std::chrono::steady_clock;

// A loopback URL where nobody listens.
std::string closed_url() {
  std::unique_ptr<transport::Listener> l;
  transport::Options o;
  EXPECT_TRUE(transport::listen("tcp://127.0.0.1:0", o, l).ok());
  std::string url = l->url();
  l.reset();
  return url;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

TEST_F(FailureTest, InvalidConfigFileFailsCuInit) {
  // A GPOOL_CONFIG with a misspelt key must not run against the default server.
  const std::string path = "/tmp/gpool_shim_bad_config_" + std::to_string(::getpid()) + ".toml";
  std::ofstream(path) << "sever = \"tcp://127.0.0.1:1\"\n";
  ::setenv("GPOOL_CONFIG", path.c_str(), 1);
  EXPECT_EQ(gpool_impl_cuInit(0), CUDA_ERROR_INVALID_VALUE);
  int count = 0;
  EXPECT_EQ(gpool_impl_cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
  ::unsetenv("GPOOL_CONFIG");
  std::remove(path.c_str());
}

TEST_F(FailureTest, UnreachableServerIsNoDevice) {
  ::setenv("GPOOL_SERVER", closed_url().c_str(), 1);
  const auto t0 = Clock::now();
  EXPECT_EQ(gpool_impl_cuInit(0), CUDA_ERROR_NO_DEVICE);
  EXPECT_LT(seconds_since(t0), 5.0);
  EXPECT_EQ(gpool_impl_cuInit(0), CUDA_ERROR_NO_DEVICE);  // the first verdict stands
  int count = 0;
  EXPECT_EQ(gpool_impl_cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
  CUdeviceptr p = 0;
  EXPECT_EQ(gpool_impl_cuMemAlloc_v2(&p, 64), CUDA_ERROR_NOT_INITIALIZED);
}

TEST_F(FailureTest, OneUnreachableServerOfTwoFailsCuInit) {
  FakeServer alpha("alpha", 1);
  const std::string list = alpha.url() + "," + closed_url();
  ::setenv("GPOOL_SERVER", list.c_str(), 1);
  EXPECT_EQ(gpool_impl_cuInit(0), CUDA_ERROR_NO_DEVICE);
  int count = 0;
  EXPECT_EQ(gpool_impl_cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
}

TEST_F(FailureTest, ASilentServerTimesOutInsteadOfHanging) {
  // Listens (the kernel completes the TCP handshake) but never answers Hello.
  std::unique_ptr<transport::Listener> l;
  transport::Options o;
  ASSERT_TRUE(transport::listen("tcp://127.0.0.1:0", o, l).ok());
  ::setenv("GPOOL_SERVER", l->url().c_str(), 1);
  const auto t0 = Clock::now();
  EXPECT_EQ(gpool_impl_cuInit(0), CUDA_ERROR_NO_DEVICE);
  EXPECT_LT(seconds_since(t0), 20.0);
}

TEST_F(FailureTest, AWrongTokenIsNotPermitted) {
  FakeServer alpha("alpha", 1, "right");
  EXPECT_EQ(attach({&alpha}, "wrong"), CUDA_ERROR_NOT_PERMITTED);
  Pool::reset_for_testing();
  EXPECT_EQ(attach({&alpha}, "right"), CUDA_SUCCESS);
}

TEST_F(FailureTest, ALostServerFailsItsCallsAndSparesTheOthers) {
  auto alpha = std::make_unique<FakeServer>("alpha", 1);
  FakeServer beta("beta", 1);
  ASSERT_EQ(attach({alpha.get(), &beta}), CUDA_SUCCESS);
  alpha.reset();  // closes its connections
  use_device(0);
  const auto t0 = Clock::now();
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_ERROR_DEVICE_UNAVAILABLE);
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_ERROR_DEVICE_UNAVAILABLE);
  use_device(1);
  EXPECT_EQ(gpool_impl_cuCtxSynchronize(), CUDA_SUCCESS);
  EXPECT_EQ(beta.count(Op::CtxSynchronize), 1u);
}

}  // namespace
}  // namespace gpool::shim::test
