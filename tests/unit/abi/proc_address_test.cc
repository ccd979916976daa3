// cuGetProcAddress / _v2 of the test driver against the facts' resolution rule (section 4.2):
// every one of the 440 requests of a CUDA 13.0 vectorAdd start-up (data/proc_requests.tsv), plus
// flags, versions and bad arguments.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "driver_fixture.h"

namespace gpool::abi::test {
namespace {

using GetProcV2 = CUresult (*)(const char*, void**, int, cuuint64_t,
                               CUdriverProcAddressQueryResult*);
using GetProcV1 = CUresult (*)(const char*, void**, int, cuuint64_t);

struct Request {
  std::string name;
  int version;
  cuuint64_t flags;
  std::string expected;  // "-" for not found
};

std::vector<Request> load_requests() {
  std::ifstream in(std::string(GPOOL_ABI_TEST_DATA) + "/proc_requests.tsv");
  std::vector<Request> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() != 4) ADD_FAILURE() << "malformed row: " << line;
    if (cols.size() != 4) continue;
    out.push_back({cols[0], std::stoi(cols[1]), std::stoull(cols[2]), cols[3]});
  }
  return out;
}

GetProcV2 proc_v2() { return entry<GetProcV2>("cuGetProcAddress_v2"); }

// Resolves through the driver; returns the symbol name whose dlsym address matches, or "-".
struct Answer {
  CUresult rc;
  void* pfn;
  CUdriverProcAddressQueryResult status;
};

Answer ask(const std::string& name, int version, cuuint64_t flags) {
  Answer a{CUDA_SUCCESS, reinterpret_cast<void*>(0x1), CU_GET_PROC_ADDRESS_SUCCESS};
  a.rc = proc_v2()(name.c_str(), &a.pfn, version, flags, &a.status);
  return a;
}

void* exported(const char* name) { return dlsym(driver(), name); }

TEST(ProcAddress, AllRequestsOfAVectorAddStartup) {
  std::vector<Request> requests = load_requests();
  ASSERT_EQ(requests.size(), 440u);
  int per_thread = 0;
  int not_found = 0;
  for (const Request& r : requests) {
    SCOPED_TRACE(r.name + "@" + std::to_string(r.version) + " flags " + std::to_string(r.flags));
    Answer a = ask(r.name, r.version, r.flags);
    if (r.flags == 2) ++per_thread;
    if (r.expected == "-") {
      ++not_found;
      EXPECT_EQ(a.rc, CUDA_ERROR_NOT_FOUND);
      EXPECT_EQ(a.pfn, nullptr);
      EXPECT_EQ(a.status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
      continue;
    }
    void* want = exported(r.expected.c_str());
    ASSERT_NE(want, nullptr) << r.expected << " is not exported by the driver";
    EXPECT_EQ(a.rc, CUDA_SUCCESS);
    EXPECT_EQ(a.status, CU_GET_PROC_ADDRESS_SUCCESS);
    EXPECT_EQ(a.pfn, want) << "expected " << r.expected;
  }
  EXPECT_EQ(per_thread, 74);
  EXPECT_EQ(not_found, 30);
}

TEST(ProcAddress, FlagsDefaultAndLegacyNeverReturnPerThreadVariants) {
  for (cuuint64_t flags : {0ull, 1ull}) {
    Answer a = ask("cuMemcpyHtoD", 7000, flags);
    EXPECT_EQ(a.rc, CUDA_SUCCESS);
    EXPECT_EQ(a.pfn, exported("cuMemcpyHtoD_v2")) << "flags " << flags;
    a = ask("cuLaunchKernel", 13000, flags);
    EXPECT_EQ(a.pfn, exported("cuLaunchKernel")) << "flags " << flags;
  }
  EXPECT_EQ(ask("cuMemcpyHtoD", 7000, 2).pfn, exported("cuMemcpyHtoD_v2_ptds"));
  EXPECT_EQ(ask("cuLaunchKernel", 13000, 2).pfn, exported("cuLaunchKernel_ptsz"));
  EXPECT_EQ(ask("cuLaunchKernel", 13000, 3).pfn, exported("cuLaunchKernel_ptsz"));
}

TEST(ProcAddress, PerThreadFlagWithoutPerThreadVariantGivesPlain) {
  EXPECT_EQ(ask("cuMemAlloc", 3020, 2).pfn, exported("cuMemAlloc_v2"));
  // Per-thread variant of cuMemcpyHtoD appeared at 7000: at 3020 the plain one is answered.
  EXPECT_EQ(ask("cuMemcpyHtoD", 3020, 2).pfn, exported("cuMemcpyHtoD_v2"));
}

TEST(ProcAddress, PicksByVersionNotNewest) {
  EXPECT_EQ(ask("cuCtxCreate", 2000, 0).pfn, exported("cuCtxCreate"));
  EXPECT_EQ(ask("cuCtxCreate", 3020, 0).pfn, exported("cuCtxCreate_v2"));
  EXPECT_EQ(ask("cuCtxCreate", 11040, 0).pfn, exported("cuCtxCreate_v3"));
  EXPECT_EQ(ask("cuCtxCreate", 12049, 0).pfn, exported("cuCtxCreate_v3"));
  EXPECT_EQ(ask("cuCtxCreate", 12050, 0).pfn, exported("cuCtxCreate_v4"));
  EXPECT_EQ(ask("cuStreamBeginCapture", 10005, 2).pfn, exported("cuStreamBeginCapture_ptsz"));
  EXPECT_EQ(ask("cuStreamBeginCapture", 10010, 2).pfn, exported("cuStreamBeginCapture_v2_ptsz"));
  EXPECT_EQ(ask("cuDevicePrimaryCtxRelease", 10000, 0).pfn,
            exported("cuDevicePrimaryCtxRelease"));
  EXPECT_EQ(ask("cuDevicePrimaryCtxRelease", 11000, 0).pfn,
            exported("cuDevicePrimaryCtxRelease_v2"));
}

TEST(ProcAddress, VersionTooLowIsVersionNotSufficient) {
  Answer a = ask("cuMemAlloc", 1000, 0);
  EXPECT_EQ(a.rc, CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(a.pfn, nullptr);
  EXPECT_EQ(a.status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  a = ask("cuLibraryLoadData", 11080, 2);
  EXPECT_EQ(a.rc, CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(a.status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
}

TEST(ProcAddress, UnknownNamesAreSymbolNotFound) {
  for (const char* name : {"", "cuDoesNotExist", "cuMemAlloc_v2", "cuMemcpyHtoD_v2_ptds",
                           "cuGLInit", "cuVDPAUGetDevice", "malloc"}) {
    Answer a = ask(name, 13000, 0);
    EXPECT_EQ(a.rc, CUDA_ERROR_NOT_FOUND) << name;
    EXPECT_EQ(a.pfn, nullptr) << name;
    EXPECT_EQ(a.status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND) << name;
  }
}

TEST(ProcAddress, RequestAboveDriverVersionIsInvalid) {
  Answer a = ask("cuInit", 13010, 0);
  EXPECT_EQ(a.rc, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(a.pfn, nullptr);
}

TEST(ProcAddress, BadArguments) {
  void* pfn = reinterpret_cast<void*>(0x1);
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  EXPECT_EQ(proc_v2()("cuInit", nullptr, 2000, 0, &status), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(proc_v2()(nullptr, &pfn, 2000, 0, &status), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(pfn, nullptr);
  pfn = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(proc_v2()("cuInit", &pfn, 2000, 4, &status), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(pfn, nullptr);
  // symbolStatus is optional (cudart always passes NULL).
  EXPECT_EQ(proc_v2()("cuInit", &pfn, 2000, 0, nullptr), CUDA_SUCCESS);
  EXPECT_EQ(pfn, exported("cuInit"));
}

TEST(ProcAddress, VersionOneEntryPointResolvesTheSame) {
  auto v1 = entry<GetProcV1>("cuGetProcAddress");
  ASSERT_NE(v1, nullptr);
  void* pfn = nullptr;
  EXPECT_EQ(v1("cuMemcpyDtoH", &pfn, 7000, 2), CUDA_SUCCESS);
  EXPECT_EQ(pfn, exported("cuMemcpyDtoH_v2_ptds"));
  EXPECT_EQ(v1("cuGetProcAddress", &pfn, 12000, 0), CUDA_SUCCESS);
  EXPECT_EQ(pfn, exported("cuGetProcAddress_v2"));
  EXPECT_EQ(v1("cuGLInit", &pfn, 2000, 0), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(pfn, nullptr);
}

}  // namespace
}  // namespace gpool::abi::test
