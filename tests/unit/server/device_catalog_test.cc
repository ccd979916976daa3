// The device catalog the status answer describes devices from (device_catalog.h): published by a
// process that attached the backend (here: the emulator, dlopened like a worker does), first
// writer wins; devices_json's per-tenant view (allowed devices renumbered, the tenant's bytes and
// quota; an admin's sums); the utilisation sampler's busy share from metered device time.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "device_catalog.h"
#include "tenant_table.h"
#include "worker.h"

namespace gpool::server {
namespace {

Tenant tenant(const std::string& name, uint64_t quota) {
  Tenant t = make_tenant(name, name + "-token", false);
  t.memory_quota = quota;
  return t;
}

TEST(DeviceCatalog, PublishedOnceFromAnAttachedBackend) {
  ::setenv("GPOOL_EMU_DEVICES", "2", 1);
  Attachment a;
  attach_backend(GPOOL_TEST_EMULATOR_LIB, a);
  ASSERT_TRUE(a.ok) << a.error;
  DeviceCatalog catalog;
  publish_devices(catalog, a);
  ASSERT_EQ(catalog.state.load(), 2u);
  ASSERT_EQ(catalog.count, 2u);
  EXPECT_GE(catalog.driver_version, 12000);
  EXPECT_NE(std::string(catalog.devices[0].name), "");
  EXPECT_GT(catalog.devices[0].total_bytes, 0u);
  EXPECT_NE(std::memcmp(catalog.devices[0].uuid, catalog.devices[1].uuid, 16), 0);
  EXPECT_GE(catalog.devices[0].cc_major, 7);
  // A second writer changes nothing.
  std::strcpy(catalog.devices[0].name, "kept");
  publish_devices(catalog, a);
  EXPECT_STREQ(catalog.devices[0].name, "kept");
}

TEST(DeviceCatalog, JsonIsTheViewersOwn) {
  DeviceCatalog catalog;
  EXPECT_EQ(devices_json(catalog, {}, TenantTable(), -1, UtilisationSampler()), "[]");  // nothing published
  catalog.count = 2;
  std::strcpy(catalog.devices[0].name, "zero");
  std::strcpy(catalog.devices[1].name, "one");
  catalog.devices[0].total_bytes = catalog.devices[1].total_bytes = 1000;
  catalog.devices[1].pci_bus = 0x19;
  catalog.state.store(2);
  TenantTable tenants;
  const int a = tenants.upsert(tenant("alpha", 100));
  const int b = tenants.upsert(tenant("bravo", 0));
  ASSERT_TRUE(tenants.try_charge(a, 1, 40));
  ASSERT_TRUE(tenants.try_charge(b, 1, 7));
  UtilisationSampler util;
  // bravo may use physical device 1 only: it is its device 0, with its own bytes and no quota.
  const std::string bravo = devices_json(catalog, {1}, tenants, b, util);
  EXPECT_NE(bravo.find("\"index\":0,\"physical\":1,\"name\":\"one\""), std::string::npos) << bravo;
  EXPECT_NE(bravo.find("\"quota_bytes\":0,\"bytes_held\":7"), std::string::npos) << bravo;
  EXPECT_EQ(bravo.find("zero"), std::string::npos) << bravo;
  EXPECT_EQ(bravo.find("utilization_percent"), std::string::npos) << bravo;  // not measured
  const std::string alpha = devices_json(catalog, {}, tenants, a, util);
  EXPECT_NE(alpha.find("\"index\":1,\"physical\":1,\"name\":\"one\",\"uuid\":\"GPU-00000000-0000-0000-0000-000000000000\","
                       "\"pci_domain\":0,\"pci_bus\":25"), std::string::npos) << alpha;
  EXPECT_NE(alpha.find("\"quota_bytes\":100,\"bytes_held\":40"), std::string::npos) << alpha;
  // An admin's view: every tenant's bytes, no quota.
  const std::string admin = devices_json(catalog, {}, tenants, -1, util);
  EXPECT_NE(admin.find("\"quota_bytes\":0,\"bytes_held\":47"), std::string::npos) << admin;
  // A tenant without accounting (the table was full) sees no one's bytes.
  const std::string unaccounted = devices_json(catalog, {}, tenants, kAdminView - 1, util);
  EXPECT_EQ(unaccounted.find("\"bytes_held\":47"), std::string::npos) << unaccounted;
  EXPECT_NE(unaccounted.find("\"quota_bytes\":0,\"bytes_held\":0"), std::string::npos) << unaccounted;
    EXPECT_EQ(visible_physical(catalog, {1, 5}), std::vector<int>{1});  // 5 does not exist
}

TEST(DeviceCatalog, UtilisationIsTheBusyShareOfTheLastPeriod) {
  TenantTable tenants;
  const int a = tenants.upsert(tenant("alpha", 0));
  const int b = tenants.upsert(tenant("bravo", 0));
  UtilisationSampler util;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  util.tick(tenants, false, t0);
  EXPECT_EQ(util.percent(0), -1);  // scheduler off: nothing measured
  util.tick(tenants, true, t0);
  EXPECT_EQ(util.percent(0), -1);  // no whole period yet
  tenants.slot(a).dev[0].device_time_ns += 300'000'000;
  tenants.slot(b).dev[0].device_time_ns += 200'000'000;
  tenants.slot(b).dev[1].device_time_ns += 1'000'000'000;
  util.tick(tenants, true, t0 + std::chrono::milliseconds(500));  // within the period: no sample
  EXPECT_EQ(util.percent(0), -1);
  util.tick(tenants, true, t0 + std::chrono::seconds(1));
  EXPECT_EQ(util.percent(0), 50);   // 0.5 s of 1 s, two tenants together
  EXPECT_EQ(util.percent(1), 100);
  EXPECT_EQ(util.percent(2), 0);
  util.tick(tenants, true, t0 + std::chrono::seconds(2));  // idle period
  EXPECT_EQ(util.percent(0), 0);
  EXPECT_EQ(util.percent(99), -1);
}

}  // namespace
}  // namespace gpool::server
