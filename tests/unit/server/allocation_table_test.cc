// The session tables' contracts (server/src/quota.h, allocation_table.h): the range check's
// edges, quota charged on record and returned on forget, stream-ordered frees parked until
// their device settles, a device reset dropping only that device, and forged or interior
// addresses refused without changing anything.
#include <gtest/gtest.h>

#include "allocation_table.h"
#include "config.h"
#include "quota.h"
#include "session_table.h"
#include "tenant_table.h"

namespace gpool::server {
namespace {

Tenant alice() {
  Tenant t = make_tenant("alice", "alice-token", false);
  t.memory_quota = 1000;
  return t;
}

class AllocationTableTest : public ::testing::Test {
 protected:
  uint64_t tenant_held(int device) { return tenants_.slot(tenant_).dev[device].bytes_held.load(); }

  TenantTable tenants_;
  int tenant_ = tenants_.upsert(alice());
  SessionSlot slot_;
  Quota quota_{&tenants_, tenant_, slot_};
  AllocationTable table_{quota_};
};

TEST_F(AllocationTableTest, RangeCheckEdges) {
  table_.record(0x1000, 0x100, 0);
  table_.record(0x1100, 0x100, 0);  // a neighbour right after the first
  EXPECT_TRUE(table_.contains(0x1000, 0x100));   // all of it
  EXPECT_TRUE(table_.contains(0x10ff, 1));       // last byte
  EXPECT_TRUE(table_.contains(0x1100, 0));       // empty range at the end of the first
  EXPECT_TRUE(table_.contains(0x1200, 0));       // empty range at the very end of the second
  EXPECT_FALSE(table_.contains(0x1000, 0x101));  // one past the end, even into a neighbour
  EXPECT_FALSE(table_.contains(0x10f0, 0x20));   // straddling two allocations
  EXPECT_FALSE(table_.contains(0x0fff, 1));      // just before the first
  EXPECT_FALSE(table_.contains(0x1201, 0));      // past the last
  EXPECT_FALSE(table_.contains(0, 0));
  EXPECT_FALSE(table_.contains(0x1080, UINT64_MAX));  // p + bytes would wrap
  EXPECT_FALSE(table_.contains(UINT64_MAX, 2));
}

TEST_F(AllocationTableTest, GlobalsAreAddressableUntilTheirDeviceDrops) {
  table_.add_global(0x5000, 16, 1);
  table_.add_global(0x5000, 8, 1);  // a second lookup never shrinks it
  table_.add_global(0x6000, 16, 0);
  EXPECT_TRUE(table_.contains(0x5000, 16));
  EXPECT_FALSE(table_.contains(0x5000, 17));
  table_.drop_globals(1);
  EXPECT_FALSE(table_.contains(0x5000, 1));
  EXPECT_TRUE(table_.contains(0x6000, 16));
  EXPECT_EQ(table_.size(), 0u);  // globals are not allocations
  EXPECT_EQ(quota_.held(), 0u);
}

TEST_F(AllocationTableTest, ChargeOnRecordReturnedOnForget) {
  ASSERT_TRUE(quota_.charge(0, 600));
  table_.record(0x1000, 600, 0);
  EXPECT_EQ(tenant_held(0), 600u);
  EXPECT_EQ(slot_.dev_bytes[0].load(), 600u);
  EXPECT_EQ(slot_.bytes_held.load(), 600u);
  EXPECT_EQ(slot_.allocations.load(), 1u);
  EXPECT_FALSE(quota_.charge(0, 401));  // over the 1000-byte quota: nothing changes
  EXPECT_EQ(tenant_held(0), 600u);
  EXPECT_EQ(slot_.dev_bytes[0].load(), 600u);
  EXPECT_TRUE(quota_.charge(1, 1000));  // the quota is per device
  quota_.uncharge(1, 1000);

  EXPECT_TRUE(table_.forget(0x1000));
  EXPECT_EQ(tenant_held(0), 0u);
  EXPECT_EQ(slot_.dev_bytes[0].load(), 0u);
  EXPECT_EQ(slot_.bytes_held.load(), 0u);
  EXPECT_EQ(slot_.allocations.load(), 0u);
  EXPECT_FALSE(table_.contains(0x1000, 1));
  EXPECT_FALSE(table_.forget(0x1000));  // a double free changes nothing
  EXPECT_EQ(tenant_held(0), 0u);
}

TEST_F(AllocationTableTest, ForgedAndInteriorAddressesAreRefused) {
  ASSERT_TRUE(quota_.charge(0, 256));
  table_.record(0x2000, 256, 0);
  EXPECT_EQ(table_.find(0x2001), nullptr);  // inside, but not an allocation's start
  EXPECT_EQ(table_.find(0xdead0000), nullptr);
  EXPECT_FALSE(table_.forget(0x2001));
  EXPECT_FALSE(table_.forget(0xdead0000));
  ASSERT_NE(table_.find(0x2000), nullptr);
  EXPECT_EQ(table_.find(0x2000)->bytes, 256u);
  EXPECT_EQ(tenant_held(0), 256u);
}

TEST_F(AllocationTableTest, PaddedManagedAllocationFreesTheDriversAddress) {
  table_.record(0x3000, 100, 0, 0x2f80);
  table_.record(0x4000, 100, 0, 0x4000);  // the same address: nothing to remember
  EXPECT_EQ(table_.driver_address(0x3000), 0x2f80u);
  EXPECT_EQ(table_.driver_address(0x4000), 0x4000u);
  EXPECT_EQ(table_.driver_address(0x9000), 0x9000u);
}

TEST_F(AllocationTableTest, StreamOrderedFreeKeepsItsChargeUntilSettled) {
  ASSERT_TRUE(quota_.charge(2, 300));
  table_.record(0x1000, 300, 2);
  EXPECT_TRUE(table_.forget(0x1000, /*keep_charge=*/true));
  EXPECT_FALSE(table_.contains(0x1000, 1));  // no longer usable
  EXPECT_EQ(table_.freeing(2), 300u);
  EXPECT_EQ(tenant_held(2), 300u);  // but still charged
  EXPECT_EQ(quota_.held(), 300u);
  table_.settle(1);  // another device: nothing
  EXPECT_EQ(tenant_held(2), 300u);
  table_.settle(2);
  EXPECT_EQ(table_.freeing(2), 0u);
  EXPECT_EQ(tenant_held(2), 0u);
  EXPECT_EQ(quota_.held(), 0u);
  table_.settle(-1);  // out of range: ignored
  table_.settle(kMaxDevices);
}

TEST_F(AllocationTableTest, DropDeviceForgetsOnlyThatDevice) {
  ASSERT_TRUE(quota_.charge(0, 100));
  ASSERT_TRUE(quota_.charge(1, 200));
  ASSERT_TRUE(quota_.charge(1, 50));
  table_.record(0x1000, 100, 0);
  table_.record(0x2000, 200, 1);
  table_.record(0x3000, 50, 1);
  table_.forget(0x3000, true);
  const std::vector<CUdeviceptr> dropped = table_.drop_device(1);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], 0x2000u);
  EXPECT_EQ(tenant_held(1), 0u);  // the allocation and the parked free
  EXPECT_EQ(tenant_held(0), 100u);
  EXPECT_TRUE(table_.contains(0x1000, 100));
  EXPECT_EQ(quota_.held(), 100u);
}

TEST(QuotaTest, WithoutTenantTableOnlyTheSlotCounts) {
  SessionSlot slot;
  Quota q(nullptr, -1, slot);
  EXPECT_TRUE(q.charge(0, uint64_t{1} << 40));
  EXPECT_EQ(slot.dev_bytes[0].load(), uint64_t{1} << 40);
  EXPECT_FALSE(q.charge(-1, 1));  // no such device
  EXPECT_FALSE(q.charge(kMaxDevices, 1));
  q.uncharge(0, uint64_t{1} << 41);  // saturates
  EXPECT_EQ(slot.dev_bytes[0].load(), 0u);
  EXPECT_EQ(q.tenant_total(0, 12345), 12345u);
  q.hold(10);
  q.release(20);  // saturates
  EXPECT_EQ(q.held(), 0u);
  EXPECT_EQ(slot.bytes_held.load(), 0u);
}

TEST(QuotaTest, TenantViewIsTheQuota) {
  TenantTable tenants;
  Tenant t = make_tenant("bob", "bob-token", false);
  t.memory_quota = 4096;
  const int index = tenants.upsert(t);
  SessionSlot slot;
  Quota q(&tenants, index, slot);
  EXPECT_EQ(q.tenant_total(0, 1 << 20), 4096u);
  ASSERT_TRUE(q.charge(0, 1000));
  uint64_t f = 0, total = 0;
  q.memory_view(0, 1 << 20, 1 << 20, f, total);
  EXPECT_EQ(total, 4096u);
  EXPECT_EQ(f, 3096u);
  EXPECT_EQ(q.tenant_held(0), 1000u);
  EXPECT_EQ(q.tenant_quota(0), 4096u);
}

}  // namespace
}  // namespace gpool::server
