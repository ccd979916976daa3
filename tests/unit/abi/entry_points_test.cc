// The generated entry points of the test driver: unimplemented ones return 801 and log their
// name once; _ptds/_ptsz fall back to the base with per_thread_default_stream() set;
// cuGetErrorName/String; only cu* symbols are exported.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "driver_fixture.h"

namespace gpool::abi::test {
namespace {

size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(EntryPoints, UnimplementedReturnsNotSupportedAndLogsOnce) {
  auto mem_alloc = entry<CUresult (*)(CUdeviceptr*, size_t)>("cuMemAlloc_v2");
  ASSERT_NE(mem_alloc, nullptr);
  testing::internal::CaptureStderr();
  CUdeviceptr p = 0;
  EXPECT_EQ(mem_alloc(&p, 16), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(mem_alloc(&p, 16), CUDA_ERROR_NOT_SUPPORTED);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(err, "cuMemAlloc_v2 is not supported by the gpool test backend"), 1u)
      << err;
}

TEST(EntryPoints, PerThreadVariantWithoutAnyImplementationIsNotSupported) {
  auto htod = entry<CUresult (*)(CUdeviceptr, const void*, size_t)>("cuMemcpyHtoD_v2_ptds");
  ASSERT_NE(htod, nullptr);
  testing::internal::CaptureStderr();
  char byte = 0;
  EXPECT_EQ(htod(0, &byte, 1), CUDA_ERROR_NOT_SUPPORTED);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(err, "cuMemcpyHtoD_v2_ptds is not supported"), 1u) << err;
}

TEST(EntryPoints, PerThreadVariantFallsBackToBaseWithFlagSet) {
  // The test backend implements only cuMemcpyDtoH_v2; it writes per_thread_default_stream().
  using DtoH = CUresult (*)(void*, CUdeviceptr, size_t);
  unsigned char flag = 0xff;
  ASSERT_EQ(entry<DtoH>("cuMemcpyDtoH_v2")(&flag, 0, 1), CUDA_SUCCESS);
  EXPECT_EQ(flag, 0);
  flag = 0xff;
  ASSERT_EQ(entry<DtoH>("cuMemcpyDtoH_v2_ptds")(&flag, 0, 1), CUDA_SUCCESS);
  EXPECT_EQ(flag, 1);
  flag = 0xff;  // and the flag does not leak out of the call
  ASSERT_EQ(entry<DtoH>("cuMemcpyDtoH_v2")(&flag, 0, 1), CUDA_SUCCESS);
  EXPECT_EQ(flag, 0);
  // Errors of the base implementation come back unchanged.
  EXPECT_EQ(entry<DtoH>("cuMemcpyDtoH_v2_ptds")(nullptr, 0, 1), CUDA_ERROR_INVALID_VALUE);
}

TEST(EntryPoints, ErrorNamesAndStrings) {
  using Text = CUresult (*)(CUresult, const char**);
  auto name = entry<Text>("cuGetErrorName");
  auto desc = entry<Text>("cuGetErrorString");
  const char* s = nullptr;
  EXPECT_EQ(name(CUDA_ERROR_NOT_SUPPORTED, &s), CUDA_SUCCESS);
  EXPECT_STREQ(s, "CUDA_ERROR_NOT_SUPPORTED");
  EXPECT_EQ(name(CUDA_SUCCESS, &s), CUDA_SUCCESS);
  EXPECT_STREQ(s, "CUDA_SUCCESS");
  EXPECT_EQ(name(CUDA_ERROR_UNKNOWN, &s), CUDA_SUCCESS);
  EXPECT_STREQ(s, "CUDA_ERROR_UNKNOWN");
  EXPECT_EQ(desc(CUDA_ERROR_OUT_OF_MEMORY, &s), CUDA_SUCCESS);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(std::string(s).find("allocate enough memory"), std::string::npos) << s;
  s = "x";
  EXPECT_EQ(name(static_cast<CUresult>(123456), &s), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(s, nullptr);
  s = "x";
  EXPECT_EQ(desc(static_cast<CUresult>(123456), &s), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(name(CUDA_SUCCESS, nullptr), CUDA_ERROR_INVALID_VALUE);
}

TEST(EntryPoints, OnlyDriverSymbolsAreExported) {
  // Everything cudart may dlsym is there, and none of gpool's internals are.
  for (const char* s : {"cuGetProcAddress_v2", "cuGetExportTable", "cuInit", "cuMemAlloc",
                        "cuMemAlloc_v2", "cuLaunchKernel_ptsz", "cuProfilerStart"}) {
    EXPECT_NE(dlsym(driver(), s), nullptr) << s;
  }
  for (const char* s : {"gpool_impl_cuInit", "gpool_unimpl_cuInit", "gpool_backend_name",
                        "gpool_backend_primary_context", "cuGLInit"}) {
    EXPECT_EQ(dlsym(driver(), s), nullptr) << s;
  }
}

}  // namespace
}  // namespace gpool::abi::test
