// The fixture of the shim's unit tests: points GPOOL_SERVER at FakeServers, runs cuInit through
// the shim's entry point, and forgets the shim's process-wide state afterwards (each test starts
// from an unattached shim).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_server.h"
#include "gpool/driver_abi/backend.h"

namespace gpool::shim::test {

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Sets GPOOL_SERVER to the servers' URLs (in order) and GPOOL_TOKEN, then calls cuInit.
  static CUresult attach(const std::vector<const FakeServer*>& servers, const std::string& token = "");
  // Makes the primary context of `dev` current on this thread (retained).
  static void use_device(int dev);
};

}  // namespace gpool::shim::test
