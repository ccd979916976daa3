// Devices: count, names, attributes, UUIDs, PCI ids, peers.
#include "test_util.h"

#include <fstream>
#include <iterator>
#include <vector>

#include <cstdlib>
#include <cstring>
#include <string>

TEST(RuntimeInit, CallsBeforeInitFailOrInitSucceeds) {
  int version = 0;
  ASSERT_CU(cuDriverGetVersion(&version));
  EXPECT_GE(version, 13000);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuInit(1));
  ASSERT_CU(cuInit(0));
  CUmoduleLoadingMode mode;
  ASSERT_CU(cuModuleGetLoadingMode(&mode));
  EXPECT_EQ(CU_MODULE_LAZY_LOADING, mode);
}

TEST(RuntimeDevice, CountNameMemory) {
  ASSERT_CU(cuInit(0));
  int count = 0;
  ASSERT_CU(cuDeviceGetCount(&count));
  ASSERT_GE(count, 1);
  CUdevice dev = -1;
  ASSERT_CU(cuDeviceGet(&dev, 0));
  EXPECT_EQ(0, dev);
  EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, cuDeviceGet(&dev, count));
  char name[256] = {};
  ASSERT_CU(cuDeviceGetName(name, sizeof name, 0));
  EXPECT_NE(std::string(name).find("gpool"), std::string::npos) << name;
  char small[6];
  ASSERT_CU(cuDeviceGetName(small, sizeof small, 0));
  EXPECT_EQ(5u, std::strlen(small));  // truncated and terminated
  size_t bytes = 0;
  ASSERT_CU(cuDeviceTotalMem(&bytes, 0));
  EXPECT_GE(bytes, 1ull << 20);
}

TEST(RuntimeDevice, AttributesForDefaultCapability) {
  ASSERT_CU(cuInit(0));
  auto attr = [](CUdevice_attribute a) {
    int v = -12345;
    EXPECT_CU(cuDeviceGetAttribute(&v, a, 0));
    return v;
  };
  const int major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  EXPECT_GE(major, 5);
  EXPECT_GE(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR), 0);
  EXPECT_EQ(1024, attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  EXPECT_EQ(32, attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE));
  EXPECT_EQ(64, attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z));
  EXPECT_EQ(49152, attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
  EXPECT_EQ(1, attr(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING));
  EXPECT_EQ(1, attr(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY));
  EXPECT_EQ(1, attr(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH));
  EXPECT_EQ(CU_COMPUTEMODE_DEFAULT, attr(CU_DEVICE_ATTRIBUTE_COMPUTE_MODE));
  EXPECT_GT(attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), 0);
  EXPECT_GE(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
            attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
  if (major == 9 || major == 10 || major == 13) {
    EXPECT_EQ(232448, attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
    EXPECT_EQ(2048, attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR));
  }
  // Every attribute of the CUDA 13 enum has an answer; beyond it, INVALID_VALUE.
  for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; ++a) {
    int v = 0;
    EXPECT_CU(cuDeviceGetAttribute(&v, static_cast<CUdevice_attribute>(a), 0)) << "attribute " << a;
  }
  int v = 0;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuDeviceGetAttribute(&v, static_cast<CUdevice_attribute>(100000), 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 99));
}

TEST(RuntimeDevice, UuidAndPciAreStableAndConsistent) {
  ASSERT_CU(cuInit(0));
  CUuuid a{}, b{};
  ASSERT_CU(cuDeviceGetUuid(&a, 0));
  ASSERT_CU(cuDeviceGetUuid(&b, 0));
  EXPECT_EQ(0, std::memcmp(a.bytes, b.bytes, 16));
  CUuuid zero{};
  EXPECT_NE(0, std::memcmp(a.bytes, zero.bytes, 16));
  char bus[32] = {};
  ASSERT_CU(cuDeviceGetPCIBusId(bus, sizeof bus, 0));
  int busno = -1, domain = -1, devno = -1;
  ASSERT_CU(cuDeviceGetAttribute(&busno, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 0));
  ASSERT_CU(cuDeviceGetAttribute(&domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, 0));
  ASSERT_CU(cuDeviceGetAttribute(&devno, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, 0));
  char expect[32];
  std::snprintf(expect, sizeof expect, "%08X:%02X:%02X.0", domain, busno, devno);
  EXPECT_STREQ(expect, bus);
  CUdevice found = -1;
  ASSERT_CU(cuDeviceGetByPCIBusId(&found, bus));
  EXPECT_EQ(0, found);
  EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, cuDeviceGetByPCIBusId(&found, "0000:ff:1f.0"));
  char luid[8];
  unsigned mask = 0;
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuDeviceGetLuid(luid, &mask, 0));
}

TEST(RuntimeDevice, PeerAccessBetweenDevices) {
  ASSERT_CU(cuInit(0));
  int count = 0, can = -1;
  ASSERT_CU(cuDeviceGetCount(&count));
  ASSERT_CU(cuDeviceCanAccessPeer(&can, 0, 0));
  EXPECT_EQ(0, can);
  if (count > 1) {
    ASSERT_CU(cuDeviceCanAccessPeer(&can, 0, 1));
    EXPECT_EQ(1, can);
  }
}

TEST(RuntimeDevice, DefaultMemPool) {
  ASSERT_CU(cuInit(0));
  CUmemoryPool def = nullptr, cur = nullptr;
  ASSERT_CU(cuDeviceGetDefaultMemPool(&def, 0));
  ASSERT_CU(cuDeviceGetMemPool(&cur, 0));
  EXPECT_NE(nullptr, def);
  EXPECT_EQ(def, cur);
}

// The profile of the capability this process runs with (GPOOL_EMU_CC, default 13.0) has its
// part's numbers. tests/unit/runtime/CMakeLists.txt runs this test once more per profile.
TEST(RuntimeDeviceProfile, MatchesItsPart) {
  struct Row {
    const char* cc;  // GPOOL_EMU_CC
    int major, minor, sms, threads_per_sm, blocks_per_sm, shared_per_sm, optin, l2, clock_khz, bus, cluster,
        fp64_ratio;
  };
  static const Row rows[] = {
      // 13.0, the default: B200 limits.
      {"", 13, 0, 148, 2048, 32, 233472, 232448, 132644864, 1965000, 8192, 1, 2},
      {"13.0", 13, 0, 148, 2048, 32, 233472, 232448, 132644864, 1965000, 8192, 1, 2},
      {"10.0", 10, 0, 148, 2048, 32, 233472, 232448, 132644864, 1965000, 8192, 1, 2},  // B200
      {"12.0", 12, 0, 170, 1536, 32, 102400, 101376, 100663296, 2407000, 512, 1, 64},  // RTX 5090
      {"12.1", 12, 1, 48, 1536, 32, 102400, 101376, 25165824, 2418000, 256, 1, 64},    // GB10
      {"9.0", 9, 0, 132, 2048, 32, 233472, 232448, 52428800, 1980000, 5120, 1, 2},     // H100 SXM
      {"7.5", 7, 5, 40, 1024, 16, 65536, 65536, 4194304, 1590000, 256, 0, 32},         // T4
  };
  // GPOOL_TEST_EXPECT_CC: the profile expected when GPOOL_EMU_CC is deliberately unusable.
  const char* expect = std::getenv("GPOOL_TEST_EXPECT_CC");
  const char* env = expect ? expect : std::getenv("GPOOL_EMU_CC");
  const std::string cc = env ? env : "";
  const Row* row = nullptr;
  for (const Row& r : rows)
    if (cc == r.cc) row = &r;
  if (row == nullptr) GTEST_SKIP() << "no expected numbers for GPOOL_EMU_CC=" << cc;
  ASSERT_CU(cuInit(0));
  auto attr = [](CUdevice_attribute a) {
    int v = -12345;
    EXPECT_CU(cuDeviceGetAttribute(&v, a, 0));
    return v;
  };
  EXPECT_EQ(row->major, attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
  EXPECT_EQ(row->minor, attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
  EXPECT_EQ(row->sms, attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
  EXPECT_EQ(row->threads_per_sm, attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR));
  EXPECT_EQ(row->blocks_per_sm, attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR));
  EXPECT_EQ(row->shared_per_sm, attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR));
  EXPECT_EQ(row->optin, attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
  EXPECT_EQ(49152, attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
  EXPECT_EQ(65536, attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR));
  EXPECT_EQ(row->l2, attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE));
  EXPECT_EQ(row->clock_khz, attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE));
  EXPECT_EQ(row->bus, attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH));
  EXPECT_EQ(row->cluster, attr(CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH));
  EXPECT_EQ(row->fp64_ratio, attr(CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO));
  EXPECT_LE(attr(CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE), row->l2);
  char name[256] = {};
  ASSERT_CU(cuDeviceGetName(name, sizeof name, 0));
  if (std::getenv("GPOOL_EMU_DEVICE_NAME") == nullptr) {
    EXPECT_EQ("gpool emulated GPU (sm_" + std::to_string(row->major * 10 + row->minor) + ")", std::string(name));
  }
}

namespace {

int device_sm() {
  int major = 0, minor = 0;
  cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0);
  cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0);
  return major * 10 + minor;
}

// Loads `image` with an error log; returns the result and fills *log.
CUresult load_logged(const void* image, std::string* log) {
  char buf[4096] = {};
  CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {buf, reinterpret_cast<void*>(static_cast<uintptr_t>(sizeof buf))};
  CUmodule m = nullptr;
  const CUresult r = cuModuleLoadDataEx(&m, image, 2, opts, values);
  if (r == CUDA_SUCCESS) cuModuleUnload(m);
  *log = buf;
  return r;
}

}  // namespace

class RuntimeDeviceProfileLoad : public RuntimeTest {};

// An image holding only sm_120 SASS (what cuBLAS loads for a 12.x device) is refused loudly. On a
// device whose SASS it is (12.0, 12.1) the log also says that the default 13.0 device runs such
// libraries from their PTX; elsewhere it does not.
TEST_F(RuntimeDeviceProfileLoad, SassOnlyImageIsRefusedAndPointsAtTheDefaultDevice) {
  std::ifstream in(GPOOL_SM120_SASS_FATBIN, std::ios::binary);
  ASSERT_TRUE(in) << GPOOL_SM120_SASS_FATBIN;
  std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string log;
  EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, load_logged(image.data(), &log));
  EXPECT_NE(log.find("only SASS (sm_120)"), std::string::npos) << log;
  const int sm = device_sm();
  const bool own_sass = sm == 120 || sm == 121;
  EXPECT_EQ(own_sass, log.find("default device (compute capability 13.0") != std::string::npos)
      << "sm_" << sm << ": " << log;
}

// A refused library load that a real GPU of this capability would have accepted (the sm_120 SASS
// on a 12.0 or 12.1 device; cudart loads every image with cuLibraryLoadData when it first launches
// one of its kernels) must not end in a wrong result: the context gets the sticky
// NO_BINARY_FOR_GPU until it is reset (docs/emulator.md, "Refused code fails loudly"). A refusal a
// real device gives too (sm_120 SASS on any other capability) leaves the context usable.
std::vector<char> sm120_sass_image() {
  std::ifstream in(GPOOL_SM120_SASS_FATBIN, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(RuntimeDeviceProfileLoad, RefusedLibraryOfDeviceSassMakesTheContextUnusable) {
  const std::vector<char> image = sm120_sass_image();
  ASSERT_FALSE(image.empty()) << GPOOL_SM120_SASS_FATBIN;
  const bool own_sass = device_sm() == 120 || device_sm() == 121;
  CUlibrary lib = nullptr;
  EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, cuLibraryLoadData(&lib, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUdeviceptr p = 0;
  const CUresult after = cuMemAlloc(&p, 16);
  if (!own_sass) {
    ASSERT_CU(after);
    ASSERT_CU(cuMemFree(p));
    ASSERT_CU(cuCtxSynchronize());
    return;
  }
  EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, after);
  EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, cuCtxSynchronize());
  CUmodule m = nullptr;
  EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, cuModuleLoadData(&m, kTestPtx));
  // A reset clears it, as after a launch fault.
  ASSERT_CU(cuDevicePrimaryCtxReset(0));
  ASSERT_CU(cuMemAlloc(&p, 16));
  ASSERT_CU(cuMemFree(p));
}

// The same image through cuModuleLoadData is a plain refusal on every device: the caller asked for
// that module, gets the error and no handle to launch, and may fall back to another image (cuFFT
// does so on a 12.0 device).
TEST_F(RuntimeDeviceProfileLoad, RefusedModuleLoadLeavesTheContextUsable) {
  const std::vector<char> image = sm120_sass_image();
  ASSERT_FALSE(image.empty()) << GPOOL_SM120_SASS_FATBIN;
  CUmodule m = nullptr;
  EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, cuModuleLoadData(&m, image.data()));
  ASSERT_CU(cuModuleLoadData(&m, kTestPtx));
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 16));
  ASSERT_CU(cuMemFree(p));
  ASSERT_CU(cuCtxSynchronize());
  ASSERT_CU(cuModuleUnload(m));
}

// Arch-specific PTX (.target sm_90a) runs on exactly 9.0 and nowhere else; plain PTX for the same
// number runs on every later device.
TEST_F(RuntimeDeviceProfileLoad, ArchSpecificPtxOnlyOnItsOwnCapability) {
  std::string ptx = kTestPtx;
  const size_t at = ptx.find(".target sm_75");
  ASSERT_NE(at, std::string::npos);
  ptx.replace(at, 13, ".target sm_90a");
  std::string log;
  const CUresult r = load_logged(ptx.c_str(), &log);
  if (device_sm() == 90) {
    EXPECT_EQ(CUDA_SUCCESS, r) << log;
  } else {
    EXPECT_EQ(CUDA_ERROR_NO_BINARY_FOR_GPU, r);
    EXPECT_NE(log.find("compute_90a"), std::string::npos) << log;
  }
  ptx.replace(at, 14, ".target sm_90");
  EXPECT_EQ(device_sm() >= 90 ? CUDA_SUCCESS : CUDA_ERROR_NO_BINARY_FOR_GPU, load_logged(ptx.c_str(), &log)) << log;
}
