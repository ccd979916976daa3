// Configuration: server URL lists, token and the GPOOL_CONFIG file (config.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config.h"

namespace gpool::shim {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"GPOOL_CONFIG", "GPOOL_SERVER", "GPOOL_TOKEN", "GPOOL_TOKEN_FILE", "GPOOL_TLS_CA",
                          "GPOOL_TLS_FINGERPRINT", "GPOOL_TLS_CERT", "GPOOL_TLS_KEY"}) {
      ::unsetenv(v);
    }
  }
  void TearDown() override { SetUp(); }
  std::string write_file(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("gpool_shim_config_" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path_) << text;
    return path_.string();
  }
  std::filesystem::path path_;
};

TEST_F(ConfigTest, ServerListSplitsOnCommasAndDropsBlanks) {
  EXPECT_EQ(parse_server_list("tcp://a:1, tcp://b:2,,\ttcp://c:3 "),
            (std::vector<std::string>{"tcp://a:1", "tcp://b:2", "tcp://c:3"}));
  EXPECT_EQ(parse_server_list("tcp://only:7"), (std::vector<std::string>{"tcp://only:7"}));
  EXPECT_TRUE(parse_server_list("").empty());
  EXPECT_TRUE(parse_server_list(" , ,").empty());
  // One etcd:// pool with several endpoints is one entry; a URL with a scheme after it is not.
  EXPECT_EQ(parse_server_list("etcd://h1:2379, h2:2379,h3/pool"),
            (std::vector<std::string>{"etcd://h1:2379,h2:2379,h3/pool"}));
  EXPECT_EQ(parse_server_list("etcd://h1:2379/p,tcp://b:2"),
            (std::vector<std::string>{"etcd://h1:2379/p", "tcp://b:2"}));
  EXPECT_EQ(parse_server_list("a:1,b:2"), (std::vector<std::string>{"a:1", "b:2"}));
}

TEST_F(ConfigTest, DefaultsToOneLocalServer) {
  const Config c = load_config();
  EXPECT_EQ(c.servers, (std::vector<std::string>{kDefaultServer}));
  EXPECT_TRUE(c.token.empty());
}

TEST_F(ConfigTest, EnvironmentListsSeveralServersAndAToken) {
  ::setenv("GPOOL_SERVER", "tcp://10.0.0.1:7070,tcp://10.0.0.2:7071", 1);
  ::setenv("GPOOL_TOKEN", "s3cret", 1);
  const Config c = load_config();
  EXPECT_EQ(c.servers, (std::vector<std::string>{"tcp://10.0.0.1:7070", "tcp://10.0.0.2:7071"}));
  EXPECT_EQ(c.token, "s3cret");
}

TEST_F(ConfigTest, AListWithoutUrlsKeepsTheDefault) {
  ::setenv("GPOOL_SERVER", " , ", 1);
  EXPECT_EQ(load_config().servers, (std::vector<std::string>{kDefaultServer}));
}

TEST_F(ConfigTest, FileGivesTlsSettingsAndTheEnvironmentOverridesThem) {
  ::setenv("GPOOL_CONFIG", write_file("server = \"tls://h:1\"\ntls_ca = \"/ca.pem\"\n"
                                      "tls_fingerprint = \"ab\"\ntls_cert = \"/c.pem\"\ntls_key = \"/c.key\"\n").c_str(), 1);
  Config c = load_config();
  ASSERT_TRUE(c.error.empty()) << c.error;
  EXPECT_EQ(c.tls.ca_file, "/ca.pem");
  EXPECT_EQ(c.tls.fingerprint, "ab");
  EXPECT_EQ(c.tls.cert_file, "/c.pem");
  EXPECT_EQ(c.tls.key_file, "/c.key");
  ::setenv("GPOOL_TLS_CA", "/env-ca.pem", 1);
  EXPECT_EQ(load_config().tls.ca_file, "/env-ca.pem");
  ::setenv("GPOOL_CONFIG", write_file("tls_ca = 3\n").c_str(), 1);
  EXPECT_NE(load_config().error.find("tls_ca must be a non-empty string"), std::string::npos);
  ::setenv("GPOOL_CONFIG", write_file("tls_cq = \"x\"\n").c_str(), 1);
  EXPECT_NE(load_config().error.find("did you mean 'tls_ca'?"), std::string::npos) << load_config().error;
}

TEST_F(ConfigTest, TokenFileFromTheFileOrTheEnvironment) {
  const std::string tf = write_file("") + ".token";
  std::ofstream(tf) << "from-file\n";
  ::setenv("GPOOL_CONFIG", write_file("token_file = \"" + tf + "\"\n").c_str(), 1);
  Config c = load_config();
  ASSERT_TRUE(c.error.empty()) << c.error;
  EXPECT_EQ(c.token, "from-file");
  ::setenv("GPOOL_TOKEN", "from-env", 1);  // GPOOL_TOKEN wins
  EXPECT_EQ(load_config().token, "from-env");
  ::unsetenv("GPOOL_TOKEN");
  ::unsetenv("GPOOL_CONFIG");
  ::setenv("GPOOL_TOKEN_FILE", (tf + ".missing").c_str(), 1);
  c = load_config();
  EXPECT_NE(c.error.find("GPOOL_TOKEN_FILE"), std::string::npos) << c.error;
  EXPECT_NE(c.error.find(".missing"), std::string::npos) << c.error;
  ::setenv("GPOOL_CONFIG", write_file("token = \"a\"\ntoken_file = \"" + tf + "\"\n").c_str(), 1);
  ::unsetenv("GPOOL_TOKEN_FILE");
  EXPECT_NE(load_config().error.find("both token and token_file"), std::string::npos);
  std::filesystem::remove(tf);
}

TEST_F(ConfigTest, FileGivesServersArrayAndToken) {
  ::setenv("GPOOL_CONFIG", write_file("servers = [\"tcp://x:1\", \"tcp://y:2\"]\ntoken = \"ft\"\n").c_str(), 1);
  Config c = load_config();
  EXPECT_EQ(c.servers, (std::vector<std::string>{"tcp://x:1", "tcp://y:2"}));
  EXPECT_EQ(c.token, "ft");
  // The environment overrides the file, item by item.
  ::setenv("GPOOL_SERVER", "tcp://z:3", 1);
  c = load_config();
  EXPECT_EQ(c.servers, (std::vector<std::string>{"tcp://z:3"}));
  EXPECT_EQ(c.token, "ft");
  std::filesystem::remove(path_);
}

TEST_F(ConfigTest, FileServerStringMayHoldAList) {
  ::setenv("GPOOL_CONFIG", write_file("server = \"tcp://x:1, tcp://y:2\"\n").c_str(), 1);
  EXPECT_EQ(load_config().servers, (std::vector<std::string>{"tcp://x:1", "tcp://y:2"}));
  std::filesystem::remove(path_);
}

TEST_F(ConfigTest, BrokenFileIsAnError) {
  ::setenv("GPOOL_CONFIG", write_file("server = [unclosed\n").c_str(), 1);
  const Config c = load_config();
  EXPECT_NE(c.error.find("GPOOL_CONFIG config " + path_.string() + " line 1"), std::string::npos) << c.error;
  std::filesystem::remove(path_);
}

TEST_F(ConfigTest, MisspeltSeverKeyIsAnErrorNamingIt) {
  // The finding: `sever` was ignored and the shim ran against the default server.
  ::setenv("GPOOL_CONFIG", write_file("token = \"t\"\nsever = \"tcp://x:1\"\n").c_str(), 1);
  const Config c = load_config();
  EXPECT_NE(c.error.find("line 2: unknown key 'sever'; did you mean 'server'?"), std::string::npos) << c.error;
  std::filesystem::remove(path_);
}

TEST_F(ConfigTest, WrongTypesAndEmptyListsAreErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"server = 7070\n", "server must be a string"},
      {"servers = \"tcp://x:1\"\n", "servers must be an array of URL strings"},
      {"servers = [\"tcp://x:1\", 2]\n", "servers must be an array of URL strings"},
      {"token = 5\n", "token must be a string"},
      {"server = \" , \"\n", "server names no server URL"},
      {"server = \"tcp://x:1\"\nservers = [\"tcp://y:2\"]\n", "both server and servers"},
  };
  for (const auto& [body, mention] : cases) {
    ::setenv("GPOOL_CONFIG", write_file(body).c_str(), 1);
    const Config c = load_config();
    EXPECT_NE(c.error.find(mention), std::string::npos) << body << " -> " << c.error;
  }
  std::filesystem::remove(path_);
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  ::setenv("GPOOL_CONFIG", "/nonexistent/gpool/client.toml", 1);
  EXPECT_NE(load_config().error.find("/nonexistent/gpool/client.toml"), std::string::npos);
}

}  // namespace
}  // namespace gpool::shim
