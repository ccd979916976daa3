// The generated entry points of the test driver: unimplemented ones return 801 and log their
// name once; _ptds/_ptsz fall back to the base with per_thread_default_stream() set;
// cuGetErrorName/String; only cu* symbols are exported.
#include <gtest/gtest.h>

#include <elf.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

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

// Defined symbol names of an ELF64 shared object's .dynsym (the toolkit's stub libcuda.so).
std::set<std::string> dynamic_symbols(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::set<std::string> names;
  if (data.size() < sizeof(Elf64_Ehdr)) return names;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(data.data());
  if (std::string(data.data(), 4) != "\x7f" "ELF" || eh->e_ident[EI_CLASS] != ELFCLASS64) {
    return names;
  }
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(data.data() + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; ++i) {
    if (sh[i].sh_type != SHT_DYNSYM) continue;
    const char* strtab = data.data() + sh[sh[i].sh_link].sh_offset;
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(data.data() + sh[i].sh_offset);
    for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf64_Sym); ++j) {
      if (syms[j].st_shndx != SHN_UNDEF && syms[j].st_name != 0) {
        names.insert(strtab + syms[j].st_name);
      }
    }
  }
  return names;
}

TEST(EntryPoints, ExportsEverySymbolOfTheToolkitStub) {
  std::set<std::string> stub = dynamic_symbols(GPOOL_CUDA_STUB_PATH);
  ASSERT_GT(stub.size(), 600u) << "could not read " << GPOOL_CUDA_STUB_PATH;
  for (const std::string& s : stub) EXPECT_NE(dlsym(driver(), s.c_str()), nullptr) << s;
}

}  // namespace
}  // namespace gpool::abi::test
