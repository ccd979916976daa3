// Token authentication: SHA-256 of the token compared with every tenant's stored hash.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>

#include "auth.h"
#include "config.h"
#include "gpool/remote/call_codec.h"
#include "test_files.h"

namespace gpool::server {
namespace {

TEST(AuthTest, Sha256KnownVector) {
  // FIPS 180-2 test vector: SHA-256("abc").
  const auto h = remote::sha256(remote::as_bytes(std::string("abc")));
  const uint8_t want[] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                          0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                          0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_EQ(0, std::memcmp(h.data(), want, 32));
}

TEST(AuthTest, FindsTheTenantWhoseTokenMatches) {
  std::vector<Tenant> tenants = {make_tenant("a", "token-a", false),
                                 make_tenant("b", "token-b", false),
                                 make_tenant("ops", "token-ops", true)};
  const Tenant* t = authenticate(tenants, "token-b");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "b");
  t = authenticate(tenants, "token-ops");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->admin);
  for (const char* wrong : {"", "token-", "token-bb", "TOKEN-A", "token-a\n"}) {
    EXPECT_EQ(authenticate(tenants, wrong), nullptr) << wrong;
  }
  EXPECT_EQ(authenticate({}, "token-a"), nullptr);
}

TEST(AuthTest, StoredHashFromConfigMatchesThePlainToken) {
  // What an operator stores: printf %s s3cret | sha256sum (hex, upper case accepted too).
  const auto real = remote::sha256(remote::as_bytes(std::string("s3cret")));
  std::string hex;
  for (uint8_t b : real) hex += fmt::format("{:02X}", b);
  testing::TempToml f("[[tenant]]\nname = \"hashed\"\ntoken_sha256 = \"" + hex + "\"\n");
  Config cfg;
  std::string error;
  ASSERT_TRUE(load_config(f.path(), cfg, error)) << error;
  ASSERT_NE(authenticate(cfg.tenants, "s3cret"), nullptr);
  EXPECT_EQ(authenticate(cfg.tenants, "s3cret!"), nullptr);
  EXPECT_EQ(authenticate(cfg.tenants, hex), nullptr) << "the hash itself is not a token";
}

TEST(AuthTest, FirstOfDuplicateHashesWins) {
  std::vector<Tenant> tenants = {make_tenant("first", "same", false),
                                 make_tenant("second", "same", false)};
  const Tenant* t = authenticate(tenants, "same");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name, "first");
}

}  // namespace
}  // namespace gpool::server
