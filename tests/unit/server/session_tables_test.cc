// The other session tables' contracts (server/src/stream_table.h, vmm_table.h, graph_table.h,
// array_table.h, module_table.h, pool_table.h): forged, reserved, stale and wrong-kind ids
// find nothing and change nothing; charges the tables own go back to the tenant exactly once,
// when the object really goes; a device reset drops only that device's objects. The driver
// handles are opaque to the tables, so distinct made-up pointer values stand in for them.
#include <gtest/gtest.h>

#include "array_table.h"
#include "config.h"
#include "graph_table.h"
#include "module_table.h"
#include "pool_table.h"
#include "quota.h"
#include "session_table.h"
#include "stream_table.h"
#include "tenant_table.h"
#include "vmm_table.h"

namespace gpool::server {
namespace {

template <typename H>
H fake(uintptr_t v) {
  return reinterpret_cast<H>(v);
}

TEST(StreamTableTest, ReservedIdsAndForgedHandles) {
  StreamTable t;
  CUstream s = fake<CUstream>(0x100);
  EXPECT_EQ(t.stream(0, s), CUDA_SUCCESS);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(t.stream(1, s), CUDA_SUCCESS);
  EXPECT_EQ(s, CU_STREAM_LEGACY);
  EXPECT_EQ(t.stream(2, s), CUDA_SUCCESS);
  EXPECT_EQ(s, CU_STREAM_PER_THREAD);
  EXPECT_EQ(t.stream(3, s), CUDA_ERROR_INVALID_HANDLE);  // never created
  for (uint64_t id : {0, 1, 2}) EXPECT_FALSE(t.streams.add(id, fake<CUstream>(0x200), 0));

  ASSERT_TRUE(t.streams.add(7, fake<CUstream>(0x700), 1));
  EXPECT_FALSE(t.streams.add(7, fake<CUstream>(0x701), 0));  // an id in use: nothing changes
  EXPECT_EQ(t.stream(7, s), CUDA_SUCCESS);
  EXPECT_EQ(s, fake<CUstream>(0x700));
  EXPECT_EQ(t.streams.device_of(s), std::optional<size_t>(1));
  CUevent e = nullptr;
  EXPECT_EQ(t.event(7, e), CUDA_ERROR_INVALID_HANDLE);  // a stream id is no event id
  EXPECT_EQ(t.streams.erase(8), nullptr);
  EXPECT_EQ(t.streams.erase(7), fake<CUstream>(0x700));
  EXPECT_EQ(t.stream(7, s), CUDA_ERROR_INVALID_HANDLE);  // stale
  EXPECT_FALSE(t.streams.device_of(fake<CUstream>(0x700)).has_value());
}

TEST(StreamTableTest, DropDeviceKeepsOtherDevices) {
  StreamTable t;
  ASSERT_TRUE(t.streams.add(3, fake<CUstream>(0x30), 0));
  ASSERT_TRUE(t.streams.add(4, fake<CUstream>(0x40), 1));
  ASSERT_TRUE(t.events.add(3, fake<CUevent>(0x31), 1));
  ASSERT_TRUE(t.events.add(5, fake<CUevent>(0x50), 0));
  t.drop_device(1);
  CUstream s = nullptr;
  CUevent e = nullptr;
  EXPECT_EQ(t.stream(3, s), CUDA_SUCCESS);
  EXPECT_EQ(t.stream(4, s), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(t.event(3, e), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(t.event(5, e), CUDA_SUCCESS);
  EXPECT_TRUE(t.streams.id_free(4));  // its id may be used again
}

Tenant with_quota(const std::string& name, uint64_t quota) {
  Tenant t = make_tenant(name, name + "-token", false);
  t.memory_quota = quota;
  return t;
}

class ChargedTableTest : public ::testing::Test {
 protected:
  uint64_t tenant_held(int device) { return tenants_.slot(tenant_).dev[device].bytes_held.load(); }
  TenantTable tenants_;
  int tenant_ = tenants_.upsert(with_quota("carol", 1 << 20));
  SessionSlot slot_;
  Quota quota_{&tenants_, tenant_, slot_};
};

using VmmTableTest = ChargedTableTest;

TEST_F(VmmTableTest, ReservationChecks) {
  VmmTable v(quota_);
  v.add_reservation(0x10000, 0x4000);
  EXPECT_TRUE(v.is_reservation(0x10000, 0x4000));
  EXPECT_FALSE(v.is_reservation(0x10000, 0x2000));  // not the whole of it
  EXPECT_TRUE(v.in_reservation(0x13fff));
  EXPECT_FALSE(v.in_reservation(0x14000));
  EXPECT_FALSE(v.in_reservation(0xffff));
  EXPECT_TRUE(v.fits_reservation(0x12000, 0x2000));
  EXPECT_FALSE(v.fits_reservation(0x12000, 0x2001));
  EXPECT_FALSE(v.fits_reservation(0x12000, 0));
  EXPECT_FALSE(v.fits_reservation(0x12000, UINT64_MAX));
  v.add_mapping(0x12000, 0x1000, 0x77);
  EXPECT_FALSE(v.erase_reservation(0x10000, 0x4000));  // still mapped inside
  EXPECT_TRUE(v.mapped_in(0x10000, 0x4000));
  EXPECT_FALSE(v.mapped_in(0x10000, 0x2000));
  ASSERT_TRUE(v.unmap(0x12000, 0x1000));
  EXPECT_TRUE(v.erase_reservation(0x10000, 0x4000));
  EXPECT_FALSE(v.in_reservation(0x10000));
}

TEST_F(VmmTableTest, PhysicalMemoryReturnsWhenReleasedAndUnmappedInEitherOrder) {
  VmmTable v(quota_);
  for (uint64_t handle : {0xa1u, 0xa2u}) {
    ASSERT_TRUE(quota_.charge(0, 0x2000));
    v.add_handle(handle, 0x2000, 0);
  }
  EXPECT_EQ(tenant_held(0), 0x4000u);
  EXPECT_EQ(quota_.held(), 0x4000u);
  v.add_mapping(0x20000, 0x2000, 0xa1);
  v.add_mapping(0x30000, 0x2000, 0xa2);
  // Released first, unmapped second.
  EXPECT_TRUE(v.release(0xa1));
  EXPECT_FALSE(v.handle_live(0xa1));
  EXPECT_FALSE(v.release(0xa1));  // twice: refused
  EXPECT_EQ(tenant_held(0), 0x4000u);  // still mapped: still held
  ASSERT_TRUE(v.unmap(0x20000, 0x2000));
  EXPECT_EQ(tenant_held(0), 0x2000u);
  // Unmapped first, released second.
  ASSERT_TRUE(v.unmap(0x30000, 0x2000));
  EXPECT_EQ(tenant_held(0), 0x2000u);
  EXPECT_TRUE(v.release(0xa2));
  EXPECT_EQ(tenant_held(0), 0u);
  EXPECT_EQ(quota_.held(), 0u);
  EXPECT_FALSE(v.release(0xdead));  // forged
}

TEST_F(VmmTableTest, AccessibleOnlyAcrossReadWriteMappingsBackToBack) {
  VmmTable v(quota_);
  v.add_mapping(0x1000, 0x1000, 1);
  v.add_mapping(0x2000, 0x1000, 2);
  v.add_mapping(0x4000, 0x1000, 3);  // a gap before it
  EXPECT_FALSE(v.accessible(0x1000, 1));  // mapped but no access set yet
  EXPECT_FALSE(v.set_access(0x1000, 0x1800, true));  // not whole mappings: nothing changes
  EXPECT_FALSE(v.accessible(0x1000, 1));
  EXPECT_TRUE(v.set_access(0x1000, 0x2000, true));
  EXPECT_TRUE(v.set_access(0x4000, 0x1000, true));
  EXPECT_TRUE(v.accessible(0x1800, 0x1000));   // across the two back-to-back mappings
  EXPECT_TRUE(v.accessible(0x1000, 0x2000));
  EXPECT_FALSE(v.accessible(0x1000, 0x2001));  // into the gap
  EXPECT_FALSE(v.accessible(0x2800, 0x2000));  // over the gap to the third
  EXPECT_FALSE(v.accessible(0x1000, UINT64_MAX));
  EXPECT_FALSE(v.whole_mappings(0x1000, 0));
  EXPECT_FALSE(v.unmap(0x1000, 0x1800));
  EXPECT_TRUE(v.whole_mappings(0x1000, 0x2000));
}

TEST(GraphTableTest, IdsOfOneKindAreNotIdsOfAnother) {
  GraphTable t;
  const uint64_t g = t.graph_id(fake<CUgraph>(0x10));
  EXPECT_EQ(t.graph_id(fake<CUgraph>(0x10)), g);  // the same handle keeps its id
  const uint64_t n = t.node_id(fake<CUgraphNode>(0x20));
  EXPECT_EQ(t.node_id(fake<CUgraphNode>(0x20)), n);
  const uint64_t e = t.add_exec(fake<CUgraphExec>(0x30));
  EXPECT_NE(g, n);
  EXPECT_EQ(t.graph(g), fake<CUgraph>(0x10));
  EXPECT_EQ(t.node(g), nullptr);
  EXPECT_EQ(t.exec(g), nullptr);
  EXPECT_EQ(t.graph(n), nullptr);
  EXPECT_EQ(t.graph(e), nullptr);
  EXPECT_EQ(t.exec(e), fake<CUgraphExec>(0x30));
  EXPECT_EQ(t.graph(g ^ 1), nullptr);  // forged
  EXPECT_EQ(t.graph(0), nullptr);

  t.erase_graph(g, {fake<CUgraphNode>(0x20)});
  EXPECT_EQ(t.graph(g), nullptr);
  EXPECT_EQ(t.node(n), nullptr);  // its nodes went with it
  EXPECT_NE(t.graph_id(fake<CUgraph>(0x10)), g);  // a new graph at the same address: a new id
  t.erase_exec(e);
  EXPECT_EQ(t.exec(e), nullptr);
}

TEST(GraphTableTest, CapturingGraphs) {
  GraphTable t;
  const CUgraph g = fake<CUgraph>(0x40);
  const uint64_t id = t.graph_id(g);
  t.mark_capturing(g);
  EXPECT_TRUE(t.capturing(g));
  t.end_capture(g);
  EXPECT_FALSE(t.capturing(g));
  t.forget_graph(g);
  EXPECT_EQ(t.graph(id), nullptr);
}

using ArrayTableTest = ChargedTableTest;

TEST_F(ArrayTableTest, ChargesReturnOnceAndLevelsGoWithTheirMipmap) {
  ArrayTable t(quota_);
  ASSERT_TRUE(quota_.charge(0, 1000));
  const uint64_t a = t.add_array(fake<CUarray>(0x100), 1000, 0);
  ASSERT_TRUE(quota_.charge(0, 3000));
  const uint64_t m = t.add_mipmap(fake<CUmipmappedArray>(0x200), 3000, 0, 2);
  const uint64_t level = t.add_level(fake<CUarray>(0x300), m);
  EXPECT_EQ(tenant_held(0), 4000u);
  ASSERT_NE(t.find_array(level), nullptr);
  EXPECT_EQ(t.find_array(level)->mipmap, m);
  EXPECT_FALSE(t.erase_array(level));  // a level alone: refused
  EXPECT_FALSE(t.erase_array(0xbad));  // forged
  EXPECT_EQ(t.find_mipmap(a), nullptr);  // an array is no mipmapped array
  EXPECT_TRUE(t.erase_array(a));
  EXPECT_FALSE(t.erase_array(a));
  EXPECT_EQ(tenant_held(0), 3000u);
  EXPECT_TRUE(t.erase_mipmap(m));
  EXPECT_EQ(t.find_array(level), nullptr);
  EXPECT_EQ(tenant_held(0), 0u);
  EXPECT_FALSE(t.erase_mipmap(m));
}

TEST_F(ArrayTableTest, DropDeviceReturnsThatDevicesChargesAndEveryObject) {
  ArrayTable t(quota_);
  ASSERT_TRUE(quota_.charge(0, 100));
  ASSERT_TRUE(quota_.charge(1, 200));
  const uint64_t a0 = t.add_array(fake<CUarray>(0x10), 100, 0);
  const uint64_t a1 = t.add_array(fake<CUarray>(0x20), 200, 1);
  t.add_tex(0x55);
  t.add_surf(0x66);
  EXPECT_FALSE(t.has_tex(0x66));
  t.drop_device(1);
  EXPECT_NE(t.find_array(a0), nullptr);
  EXPECT_EQ(t.find_array(a1), nullptr);
  EXPECT_EQ(tenant_held(1), 0u);
  EXPECT_EQ(tenant_held(0), 100u);
  EXPECT_FALSE(t.has_tex(0x55));
  EXPECT_FALSE(t.has_surf(0x66));
}

using ModuleTableTest = ChargedTableTest;

TEST_F(ModuleTableTest, IdsChargesAndDeviceReset) {
  ModuleTable t(quota_);
  EXPECT_FALSE(t.add_module(2, fake<CUmodule>(0x10), 0));  // reserved id
  ASSERT_TRUE(t.add_module(3, fake<CUmodule>(0x10), 0));
  EXPECT_FALSE(t.add_library(3, fake<CUlibrary>(0x11), 0));  // modules and libraries share ids
  ASSERT_TRUE(t.add_library(4, fake<CUlibrary>(0x11), 0));
  EXPECT_EQ(t.module(4), nullptr);  // a library id is no module id
  EXPECT_EQ(t.library(3), nullptr);
  EXPECT_EQ(t.module_device(99, 7), 7u);
  ASSERT_TRUE(quota_.charge(0, 64));
  t.own_charge(3, 0, 64);
  ASSERT_TRUE(quota_.charge(0, 32));
  t.own_charge(4, 0, 32);
  EXPECT_EQ(quota_.held(), 96u);

  ModuleTable::Function f;
  f.fn = fake<CUfunction>(0x20);
  f.device = 0;
  ASSERT_TRUE(t.add_function(5, f));
  EXPECT_FALSE(t.add_function(5, f));
  ModuleTable::Function k;
  k.fn = fake<CUfunction>(0x30);
  k.kernel = fake<CUkernel>(0x31);
  ASSERT_TRUE(t.add_function(6, k));
  uint64_t id = 0;
  ASSERT_NE(t.function_by_handle(nullptr, fake<CUkernel>(0x31), &id), nullptr);
  EXPECT_EQ(id, 6u);
  EXPECT_EQ(t.function_by_handle(fake<CUfunction>(0x99), nullptr, &id), nullptr);

  // A reset of device 0: the module, its function and its charge go; the library and its
  // kernel stay, the kernel's function is looked up again.
  t.drop_device(0);
  EXPECT_EQ(t.module(3), nullptr);
  EXPECT_EQ(t.function(5), nullptr);
  EXPECT_NE(t.library(4), nullptr);
  EXPECT_EQ(tenant_held(0), 32u);
  int refetched = 0;
  t.refetch(0, [&](ModuleTable::Function& fn) {
    ++refetched;
    fn.fn = fake<CUfunction>(0x40);
    return true;
  });
  EXPECT_EQ(refetched, 1);
  ASSERT_NE(t.function(6), nullptr);
  EXPECT_EQ(t.function(6)->fn, fake<CUfunction>(0x40));
  t.refetch(0, [](ModuleTable::Function&) { return false; });
  EXPECT_EQ(t.function(6), nullptr);

  EXPECT_FALSE(t.erase_module(3));  // already gone: its charge is not returned twice
  EXPECT_TRUE(t.erase_library(4));
  EXPECT_EQ(tenant_held(0), 0u);
  EXPECT_EQ(quota_.held(), 0u);
}

TEST(PoolTableTest, DefaultAndCreatedIds) {
  PoolTable t;
  EXPECT_EQ(t.find(1), nullptr);  // a default pool enters on first use
  EXPECT_TRUE(PoolTable::is_default_id(1));
  EXPECT_FALSE(PoolTable::is_default_id(0));
  EXPECT_FALSE(t.add_created(PoolTable::kMaxDefaultIds, fake<CUmemoryPool>(0x10), 0));
  PoolTable::Pool* d = t.add_default(0, fake<CUmemoryPool>(0x20));
  ASSERT_EQ(t.find(1), d);
  EXPECT_FALSE(t.erase_created(1));  // default pools are not destroyed
  const uint64_t id = PoolTable::kMaxDefaultIds + 1;
  ASSERT_TRUE(t.add_created(id, fake<CUmemoryPool>(0x30), 0));
  EXPECT_FALSE(t.add_created(id, fake<CUmemoryPool>(0x31), 0));
  EXPECT_TRUE(t.find(id)->created);
  EXPECT_TRUE(t.erase_created(id));
  EXPECT_EQ(t.find(id), nullptr);
  EXPECT_FALSE(t.erase_created(id));
}

}  // namespace
}  // namespace gpool::server
