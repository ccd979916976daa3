#include "shim_fixture.h"

#include <cstdlib>

#include "pool.h"

namespace gpool::shim::test {

void ShimTest::SetUp() {
  ::unsetenv("GPOOL_CONFIG");
  ::unsetenv("GPOOL_SERVER");
  ::unsetenv("GPOOL_TOKEN");
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  Pool::reset_for_testing();
}

void ShimTest::TearDown() {
  Pool::reset_for_testing();
  ::unsetenv("GPOOL_SERVER");
  ::unsetenv("GPOOL_TOKEN");
  ::unsetenv("CUDA_VISIBLE_DEVICES");
}

CUresult ShimTest::attach(const std::vector<const FakeServer*>& servers, const std::string& token) {
  std::string list;
  for (const FakeServer* s : servers) list += (list.empty() ? "" : ",") + s->url();
  ::setenv("GPOOL_SERVER", list.c_str(), 1);
  if (!token.empty()) ::setenv("GPOOL_TOKEN", token.c_str(), 1);
  return gpool_impl_cuInit(0);
}

void ShimTest::use_device(int dev) {
  CUcontext ctx = nullptr;
  ASSERT_EQ(gpool_impl_cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
  ASSERT_EQ(gpool_impl_cuCtxSetCurrent(ctx), CUDA_SUCCESS);
}

}  // namespace gpool::shim::test
