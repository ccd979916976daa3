// TLS and token-file settings of the server config (issue 13, part 2): tls_* keys, a tenant's
// client_cert_sha256 and token_file, and the credential rules of authenticate() with a client
// certificate (docs/security.md, "Credentials").
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "auth.h"
#include "config.h"
#include "test_files.h"

namespace gpool::server {
namespace {

using testing::TempToml;

const std::string kFp(64, 'a');
const std::string kFp2(64, 'b');

bool load(const std::string& body, Config& cfg, std::string& error) {
  TempToml f(body);
  return load_config(f.path(), cfg, error);
}

std::string load_error(const std::string& body) {
  Config cfg;
  std::string error;
  EXPECT_FALSE(load(body, cfg, error)) << body;
  return error;
}

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

TEST(TlsConfigTest, TlsKeysAndCertificateTenantsLoad) {
  Config cfg;
  std::string error;
  std::string fp_colons;
  for (size_t i = 0; i < 64; i += 2) fp_colons += (i ? ":" : "") + std::string("AA");
  ASSERT_TRUE(load("listen = \"tls://127.0.0.1:0\"\ntls_cert = \"/c.pem\"\ntls_key = \"/c.key\"\n"
                   "tls_client_ca = \"/ca.pem\"\ntls_require_client_cert = false\n"
                   "[[tenant]]\nname = \"a\"\nclient_cert_sha256 = \"" + fp_colons + "\"\n"
                   "[[tenant]]\nname = \"b\"\ntoken = \"tb\"\nclient_cert_sha256 = \"" + kFp2 + "\"\n",
                   cfg, error)) << error;
  EXPECT_EQ(cfg.tls_cert, "/c.pem");
  EXPECT_EQ(cfg.tls_key, "/c.key");
  EXPECT_EQ(cfg.tls_client_ca, "/ca.pem");
  EXPECT_FALSE(cfg.tls_require_client_cert);
  ASSERT_EQ(cfg.tenants.size(), 2u);
  EXPECT_EQ(cfg.tenants[0].client_cert_sha256, kFp);  // upper case with colons, normalized
  EXPECT_FALSE(cfg.tenants[0].has_token);
  EXPECT_TRUE(cfg.tenants[1].has_token);
}

TEST(TlsConfigTest, MistakesNameTheKey) {
  EXPECT_TRUE(has(load_error("tls_cert = \"/c.pem\"\n"), "tls_cert and tls_key go together"));
  EXPECT_TRUE(has(load_error("tls_require_client_cert = \"yes\"\n"), "tls_require_client_cert must be true or false"));
  EXPECT_TRUE(has(load_error("tls_crt = \"x\"\n"), "did you mean 'tls_cert'?"));
  const std::string bad_fp = load_error("tls_client_ca = \"/ca\"\n[[tenant]]\nname = \"a\"\nclient_cert_sha256 = \"xyz\"\n");
  EXPECT_TRUE(has(bad_fp, "line 4")) << bad_fp;
  EXPECT_TRUE(has(bad_fp, "client_cert_sha256 must be a string of 64 hex digits")) << bad_fp;
  const std::string no_ca = load_error("[[tenant]]\nname = \"a\"\nclient_cert_sha256 = \"" + kFp + "\"\n");
  EXPECT_TRUE(has(no_ca, "no tls_client_ca")) << no_ca;
  const std::string twice = load_error("tls_client_ca = \"/ca\"\n[[tenant]]\nname = \"a\"\nclient_cert_sha256 = \"" +
                                       kFp + "\"\n[[tenant]]\nname = \"b\"\nclient_cert_sha256 = \"" + kFp + "\"\n");
  EXPECT_TRUE(has(twice, "the same client_cert_sha256")) << twice;
  const std::string none = load_error("[[tenant]]\nname = \"a\"\n");
  EXPECT_TRUE(has(none, "no credential")) << none;
  const std::string two = load_error("[[tenant]]\nname = \"a\"\ntoken = \"x\"\ntoken_file = \"/f\"\n");
  EXPECT_TRUE(has(two, "has both token and token_file")) << two;
  EXPECT_TRUE(has(two, "line 4")) << two;
}

TEST(TlsConfigTest, TokenFileIsReadHashedAndCheckedForDuplicates) {
  TempToml dir("");
  const std::string tf = dir.path() + ".token";
  std::ofstream(tf) << "secret-a\n";
  ::chmod(tf.c_str(), 0600);
  Config cfg;
  std::string error;
  ASSERT_TRUE(load("[[tenant]]\nname = \"a\"\ntoken_file = \"" + tf + "\"\n", cfg, error)) << error;
  ASSERT_EQ(cfg.tenants.size(), 1u);
  EXPECT_EQ(authenticate(cfg.tenants, "secret-a"), &cfg.tenants[0]);
  const std::string dup = load_error("[[tenant]]\nname = \"a\"\ntoken_file = \"" + tf +
                                     "\"\n[[tenant]]\nname = \"b\"\ntoken = \"secret-a\"\n");
  EXPECT_TRUE(has(dup, "the same token")) << dup;
  const std::string missing = load_error("[[tenant]]\nname = \"a\"\ntoken_file = \"" + tf + ".gone\"\n");
  EXPECT_TRUE(has(missing, "line 3")) << missing;
  EXPECT_TRUE(has(missing, ".gone")) << missing;
  std::ofstream(tf, std::ios::trunc) << "";
  EXPECT_TRUE(has(load_error("[[tenant]]\nname = \"a\"\ntoken_file = \"" + tf + "\"\n"), "is empty"));
  std::ofstream(tf, std::ios::trunc) << "one\ntwo\n";
  EXPECT_TRUE(has(load_error("[[tenant]]\nname = \"a\"\ntoken_file = \"" + tf + "\"\n"), "more than one line"));
  std::remove(tf.c_str());
}

TEST(TlsConfigTest, EnvironmentOverridesTheCertificatePaths) {
  Config cfg;
  cfg.tls_cert = "/file.pem";
  ::setenv("GPOOL_SERVER_TLS_CERT", "/env.pem", 1);
  apply_tls_env(cfg);
  ::unsetenv("GPOOL_SERVER_TLS_CERT");
  EXPECT_EQ(cfg.tls_cert, "/env.pem");
}

std::vector<Tenant> cert_tenants() {
  Tenant only_cert;
  only_cert.name = "cert";
  only_cert.has_token = false;
  only_cert.client_cert_sha256 = kFp;
  Tenant both = make_tenant("both", "tok-both", false);
  both.client_cert_sha256 = kFp2;
  return {make_tenant("plain", "tok-plain", false), only_cert, both};
}

TEST(TlsAuthTest, CertificateIdentifiesItsTenant) {
  const auto tenants = cert_tenants();
  std::string why;
  const Tenant* t = authenticate(tenants, "", kFp, why);
  ASSERT_NE(t, nullptr) << why;
  EXPECT_EQ(t->name, "cert");
  t = authenticate(tenants, "tok-both", kFp2, why);
  ASSERT_NE(t, nullptr) << why;
  EXPECT_EQ(t->name, "both");
  t = authenticate(tenants, "tok-plain", "", why);
  ASSERT_NE(t, nullptr) << why;
  EXPECT_EQ(t->name, "plain");
  // A verified certificate that is no tenant's does not stop a token tenant.
  t = authenticate(tenants, "tok-plain", std::string(64, 'c'), why);
  ASSERT_NE(t, nullptr) << why;
  EXPECT_EQ(t->name, "plain");
}

TEST(TlsAuthTest, MismatchesAreRefused) {
  const auto tenants = cert_tenants();
  std::string why;
  EXPECT_EQ(authenticate(tenants, "tok-plain", kFp, why), nullptr);
  EXPECT_TRUE(has(why, "does not belong")) << why;
  EXPECT_EQ(authenticate(tenants, "tok-both", "", why), nullptr);
  EXPECT_TRUE(has(why, "client certificate")) << why;
  EXPECT_EQ(authenticate(tenants, "", std::string(64, 'c'), why), nullptr);
  EXPECT_TRUE(has(why, "no tenant's")) << why;
  EXPECT_EQ(authenticate(tenants, "", "", why), nullptr);
  EXPECT_EQ(authenticate(tenants, "nope", "", why), nullptr);
  EXPECT_EQ(why, "unknown token");
  // A certificate-only tenant has no token: not even the empty one or a zero hash gets in.
  EXPECT_EQ(authenticate(tenants, "", std::string(), why), nullptr);
}

}  // namespace
}  // namespace gpool::server
