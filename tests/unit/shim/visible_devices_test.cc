// CUDA_VISIBLE_DEVICES on the shim's device list (visible_devices.h, pool.h): indices and UUIDs
// pick and order the devices of all servers, an invalid or repeated entry ends the list, and a
// list that leaves nothing makes cuInit fail, as the NVIDIA driver does on a GPU host.
#include <cstdlib>

#include "shim_fixture.h"
#include "visible_devices.h"

namespace gpool::shim::test {
namespace {

using remote::Op;
using VisibleDevicesTest = ShimTest;

std::string name_of(int dev) {
  char name[64] = {};
  EXPECT_EQ(gpool_impl_cuDeviceGetName(name, sizeof name, dev), CUDA_SUCCESS);
  return name;
}

int count() {
  int n = -1;
  EXPECT_EQ(gpool_impl_cuDeviceGetCount(&n), CUDA_SUCCESS);
  return n;
}

// FakeServer "alpha" has 2 devices with UUIDs 61 00 00.. and 61 01 00..; "beta" 62 00 00...
TEST(VisibleDevicesParse, UuidTextIsNvidiaSmiForm) {
  std::array<uint8_t, 16> u{};
  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<uint8_t>(0xa0 + i);
  EXPECT_EQ(uuid_text(u), "GPU-a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
}

TEST(VisibleDevicesParse, EntriesResolveUntilTheFirstInvalidOne) {
  const std::array<uint8_t, 16> a0{0x61, 0}, a1{0x61, 1}, b0{0x62, 0};
  const std::vector<std::array<uint8_t, 16>> uuids{a0, a1, b0};
  std::string stopped;
  EXPECT_EQ(visible_devices("2,0", uuids, &stopped), (std::vector<int>{2, 0}));
  EXPECT_EQ(stopped, "");
  EXPECT_EQ(visible_devices(" 1 , 2 ", uuids), (std::vector<int>{1, 2}));
  EXPECT_EQ(visible_devices("1,7,0", uuids, &stopped), (std::vector<int>{1}));
  EXPECT_EQ(stopped, "7");
  EXPECT_EQ(visible_devices("0,0,1", uuids, &stopped), (std::vector<int>{0}));
  EXPECT_EQ(stopped, "0");
  EXPECT_EQ(visible_devices("GPU-62,GPU-61010000-0000-0000-0000-000000000000", uuids),
            (std::vector<int>{2, 1}));
  EXPECT_EQ(visible_devices("GPU-6201", uuids), (std::vector<int>{}));  // no such UUID
  EXPECT_EQ(visible_devices("0,GPU-61", uuids, &stopped), (std::vector<int>{0}));  // ambiguous
  EXPECT_EQ(stopped, "GPU-61");
  EXPECT_EQ(visible_devices("GPU-6200", uuids), (std::vector<int>{2}));
  EXPECT_EQ(visible_devices("gpu-6200", uuids), (std::vector<int>{}));   // the prefix is "GPU-"
  EXPECT_EQ(visible_devices("MIG-1,0", uuids), (std::vector<int>{}));
  EXPECT_EQ(visible_devices("", uuids), (std::vector<int>{}));
  EXPECT_EQ(visible_devices("0,,1", uuids), (std::vector<int>{0}));
  EXPECT_EQ(visible_devices("-1", uuids), (std::vector<int>{}));
  EXPECT_EQ(visible_devices("99999999999", uuids), (std::vector<int>{}));
}

TEST_F(VisibleDevicesTest, PicksAndOrdersTheDevicesOfAllServers) {
  FakeServer alpha("alpha", 2), beta("beta", 1);
  ::setenv("CUDA_VISIBLE_DEVICES", "2,1", 1);
  ASSERT_EQ(attach({&alpha, &beta}), CUDA_SUCCESS);
  EXPECT_EQ(count(), 2);
  EXPECT_EQ(name_of(0), "beta-dev0");
  EXPECT_EQ(name_of(1), "alpha-dev1");
  CUdevice d = -1;
  EXPECT_EQ(gpool_impl_cuDeviceGet(&d, 2), CUDA_ERROR_INVALID_DEVICE);
  CUuuid u{};
  ASSERT_EQ(gpool_impl_cuDeviceGetUuid_v2(&u, 1), CUDA_SUCCESS);
  EXPECT_EQ(u.bytes[0], 'a');
  EXPECT_EQ(u.bytes[1], 1);
  // Visible device 1 is alpha's device 1: the call goes to alpha, which selects its device 1.
  CUdeviceptr p = 0;
  use_device(1);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 4096), CUDA_SUCCESS);
  EXPECT_EQ(alpha.count(Op::MemAlloc), 1u);
  EXPECT_EQ(beta.count(Op::MemAlloc), 0u);
  std::vector<uint64_t> selected;
  for (const auto& c : alpha.calls()) {
    if (c.op == Op::SetDevice) selected.push_back(c.args.at(0));
  }
  EXPECT_EQ(selected, (std::vector<uint64_t>{1}));
  use_device(0);
  ASSERT_EQ(gpool_impl_cuMemAlloc_v2(&p, 4096), CUDA_SUCCESS);
  EXPECT_EQ(beta.count(Op::MemAlloc), 1u);
}

TEST_F(VisibleDevicesTest, UuidsSelectDevices) {
  FakeServer alpha("alpha", 2);
  ::setenv("CUDA_VISIBLE_DEVICES", "GPU-61010000-0000-0000-0000-000000000000", 1);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(name_of(0), "alpha-dev1");
}

TEST_F(VisibleDevicesTest, AnInvalidEntryEndsTheList) {
  FakeServer alpha("alpha", 2);
  ::setenv("CUDA_VISIBLE_DEVICES", "1,5,0", 1);
  ASSERT_EQ(attach({&alpha}), CUDA_SUCCESS);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(name_of(0), "alpha-dev1");
}

TEST_F(VisibleDevicesTest, NothingVisibleFailsCuInit) {
  FakeServer alpha("alpha", 2);
  ::setenv("CUDA_VISIBLE_DEVICES", "", 1);
  EXPECT_EQ(attach({&alpha}), CUDA_ERROR_NO_DEVICE);
  int n = -1;
  EXPECT_NE(gpool_impl_cuDeviceGetCount(&n), CUDA_SUCCESS);
}

TEST_F(VisibleDevicesTest, AnInvalidFirstEntryLeavesNothing) {
  FakeServer alpha("alpha", 2);
  ::setenv("CUDA_VISIBLE_DEVICES", "GPU-ffff", 1);
  EXPECT_EQ(attach({&alpha}), CUDA_ERROR_NO_DEVICE);
}

}  // namespace
}  // namespace gpool::shim::test
