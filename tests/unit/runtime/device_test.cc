// Devices: count, names, attributes, UUIDs, PCI ids, peers.
#include "test_util.h"

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
  if (major == 9) {
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
