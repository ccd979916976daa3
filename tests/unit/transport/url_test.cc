#include "gpool/transport/url.h"

#include <gtest/gtest.h>

namespace gpool::transport {
namespace {

TEST(Url, ParsesHostsAndPorts) {
  Url u;
  ASSERT_TRUE(parse_url("tcp://127.0.0.1:7000", u).ok());
  EXPECT_EQ(u.scheme, "tcp");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 7000);
  EXPECT_EQ(u.to_string(), "tcp://127.0.0.1:7000");
  ASSERT_TRUE(parse_url("ucx://gpu-node-3.example:65535", u).ok());
  EXPECT_EQ(u.scheme, "ucx");
  EXPECT_EQ(u.host, "gpu-node-3.example");
  EXPECT_EQ(u.port, 65535);
  ASSERT_TRUE(parse_url("tcp://[::1]:0", u).ok());
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 0);
  EXPECT_EQ(u.to_string(), "tcp://[::1]:0");
}

TEST(Url, RejectionsSayWhatIsWrong) {
  Url u;
  struct {
    const char* url;
    const char* why;
  } cases[] = {
      {"127.0.0.1:80", "missing '://'"},     {"://h:1", "empty scheme"},
      {"tcp://h", "missing ':port'"},        {"tcp://:1", "empty host"},
      {"tcp://h:", "empty port"},            {"tcp://h:1x", "not a number"},
      {"tcp://h:65536", "above 65535"},      {"tcp://fe80::1:80", "in brackets"},
      {"tcp://[::1", "without ']'"},         {"Tcp://h:1", "lowercase"},
      {"tcp://user@h:1", "not allowed"},
  };
  for (const auto& c : cases) {
    Status s = parse_url(c.url, u);
    EXPECT_EQ(s.code, Code::kInvalidArgument) << c.url;
    EXPECT_NE(s.text.find(c.why), std::string::npos) << c.url << ": " << s.text;
  }
}

}  // namespace
}  // namespace gpool::transport
