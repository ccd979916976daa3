#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "gpool/registry/etcd.h"
#include "gpool/registry/json.h"
#include "gpool/registry/placement.h"
#include "gpool/registry/server_record.h"

namespace gpool::registry {
namespace {

TEST(Json, ParsesEtcdRangeAnswer) {
  const std::string text =
      R"({"header":{"revision":"7"},"kvs":[{"key":"Zm9v","value":"YmFy","lease":"4111120473446733575"}],"count":"1"})";
  Json j;
  std::string error;
  ASSERT_TRUE(Json::parse(text, j, error)) << error;
  const Json* kvs = j.get("kvs");
  ASSERT_NE(kvs, nullptr);
  ASSERT_EQ(kvs->items().size(), 1u);
  EXPECT_EQ(kvs->items()[0].get("key")->str(), "Zm9v");
  // int64 values sent as strings keep every digit.
  EXPECT_EQ(kvs->items()[0].get("lease")->as_int(), 4111120473446733575LL);
  EXPECT_EQ(j.get("header")->get("revision")->as_int(), 7);
  EXPECT_EQ(j.get("missing"), nullptr);
}

TEST(Json, ValuesAndEscapes) {
  Json j;
  std::string error;
  ASSERT_TRUE(Json::parse(R"( {"a":[1,-2.5e1,true,false,null],"s":"q\"\\\/\n\u00e9\ud83d\ude00"} )", j, error)) << error;
  const auto& a = j.get("a")->items();
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].as_int(), 1);
  EXPECT_DOUBLE_EQ(a[1].as_double(), -25.0);
  EXPECT_TRUE(a[2].as_bool());
  EXPECT_FALSE(a[3].as_bool(true));
  EXPECT_EQ(a[4].type(), Json::Type::null);
  EXPECT_EQ(j.get("s")->str(), "q\"\\/\n\xc3\xa9\xf0\x9f\x98\x80");
  // quote() and parse() round-trip control characters.
  Json back;
  ASSERT_TRUE(Json::parse(quote(std::string("x\x01y\"\t", 5)), back, error));
  EXPECT_EQ(back.str(), std::string("x\x01y\"\t", 5));
}

TEST(Json, RejectsMalformed) {
  Json j;
  std::string error;
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "tru", "\"abc", "{} x", "-", "\"\\x\"",
                          "\"a\nb\""}) {
    EXPECT_FALSE(Json::parse(bad, j, error)) << bad;
    EXPECT_NE(error.find("malformed JSON"), std::string::npos) << bad << ": " << error;
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(Json::parse(deep, j, error));
  EXPECT_NE(error.find("nested too deeply"), std::string::npos);
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},   {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : v) {
    EXPECT_EQ(base64_encode(plain), coded);
    std::string back;
    ASSERT_TRUE(base64_decode(coded, back)) << coded;
    EXPECT_EQ(back, plain);
  }
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  std::string back;
  ASSERT_TRUE(base64_decode(base64_encode(binary), back));
  EXPECT_EQ(back, binary);
  for (const char* bad : {"Zg=", "Zm9*", "Z===", "=Zm9", "Zg==Zg=="}) EXPECT_FALSE(base64_decode(bad, back)) << bad;
}

TEST(PoolUrl, Parses) {
  PoolUrl p;
  std::string error;
  ASSERT_TRUE(parse_pool_url("etcd://10.0.0.2:2380/prod", p, error)) << error;
  ASSERT_EQ(p.endpoints.size(), 1u);
  EXPECT_EQ(p.endpoints[0].first, "10.0.0.2");
  EXPECT_EQ(p.endpoints[0].second, 2380);
  EXPECT_EQ(p.pool, "prod");
  ASSERT_TRUE(parse_pool_url("etcd://a,b:1,[::1]:3/x-y_z.1", p, error)) << error;
  ASSERT_EQ(p.endpoints.size(), 3u);
  EXPECT_EQ(p.endpoints[0], (std::pair<std::string, int>{"a", kDefaultEtcdPort}));
  EXPECT_EQ(p.endpoints[1], (std::pair<std::string, int>{"b", 1}));
  EXPECT_EQ(p.endpoints[2], (std::pair<std::string, int>{"::1", 3}));
  EXPECT_EQ(pool_prefix("prod"), "/gpool/pools/prod/servers/");
  EXPECT_TRUE(is_pool_url("etcd://h/p"));
  EXPECT_FALSE(is_pool_url("tcp://h:1"));
}

TEST(PoolUrl, RejectsWithTheExpectedForm) {
  PoolUrl p;
  p.pool = "unchanged";
  std::string error;
  for (const char* bad : {"tcp://h:1/p", "etcd://h:1", "etcd://h:1/", "etcd:///p", "etcd://h:0/p",
                          "etcd://h:65536/p", "etcd://h:x/p", "etcd://h,/p", "etcd://h/a/b", "etcd://h:/p",
                          "etcd://[::1/p"}) {
    EXPECT_FALSE(parse_pool_url(bad, p, error)) << bad;
    EXPECT_NE(error.find("etcd://HOST[:PORT]"), std::string::npos) << error;
  }
  EXPECT_EQ(p.pool, "unchanged");
}

ServerRecord record(const std::string& url, std::vector<uint64_t> free, uint32_t sessions = 0,
                    uint32_t max = 8) {
  ServerRecord r;
  r.url = url;
  r.host = "h";
  r.version = "0.1.0";
  r.sessions = sessions;
  r.max_sessions = max;
  r.load = static_cast<double>(sessions) / max;
  for (uint64_t f : free) r.devices.push_back({"dev", "GPU-00", f * 2, f});
  return r;
}

TEST(ServerRecord, RoundTrips) {
  ServerRecord r = record("tcp://10.0.0.5:7070", {1ull << 40, 5});
  r.host = "node \"3\"";
  r.updated = 1765000000;
  r.sessions = 3;
  ServerRecord back;
  std::string error;
  ASSERT_TRUE(from_json(to_json(r), back, error)) << error;
  EXPECT_EQ(back.url, r.url);
  EXPECT_EQ(back.host, r.host);
  EXPECT_EQ(back.version, r.version);
  EXPECT_EQ(back.sessions, 3u);
  EXPECT_EQ(back.max_sessions, 8u);
  EXPECT_EQ(back.updated, 1765000000);
  ASSERT_EQ(back.devices.size(), 2u);
  EXPECT_EQ(back.devices[0].memory_free, 1ull << 40);
  EXPECT_EQ(back.devices[0].memory_total, 1ull << 41);
  EXPECT_EQ(back.best_free(), 1ull << 40);
  // Members a reader does not know are ignored; a record without url is refused.
  ASSERT_TRUE(from_json(R"({"url":"tcp://x:1","future":{"a":1}})", back, error));
  EXPECT_FALSE(from_json(R"({"host":"x"})", back, error));
  EXPECT_NE(error.find("url"), std::string::npos);
  EXPECT_FALSE(from_json("[1]", back, error));
}

TEST(Placement, TiesSpreadBySeedOthersKeepTheirOrder) {
  std::vector<ServerRecord> s;
  for (int i = 0; i < 8; ++i) s.push_back(record("tcp://n" + std::to_string(i) + ":1", {100}));
  s.push_back(record("tcp://big:1", {500}));
  // Seed 0: URL order among the equal ones; the bigger server first whatever the seed.
  std::vector<size_t> order = rank_servers(s);
  ASSERT_EQ(order.size(), 9u);
  EXPECT_EQ(order[0], 8u);
  for (size_t i = 1; i < order.size(); ++i) EXPECT_EQ(order[i], i - 1);
  std::set<size_t> firsts;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    order = rank_servers(s, seed);
    EXPECT_EQ(order[0], 8u);
    firsts.insert(order[1]);
    std::vector<size_t> sorted(order.begin() + 1, order.end());
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7}));  // a permutation
    EXPECT_EQ(rank_servers(s, seed), order);                          // deterministic per seed
  }
  EXPECT_GE(firsts.size(), 6u) << "64 seeds should pick most of the 8 equal servers first";
}

TEST(Placement, MostFreeFirstFullAndEmptyLeftOut) {
  std::vector<ServerRecord> s = {
      record("tcp://a:1", {100}),
      record("tcp://b:1", {300, 50}),
      record("tcp://c:1", {900}, 8, 8),  // full: not tried
      record("tcp://d:1", {}),           // no devices
      record("tcp://e:1", {300}, 4, 8),  // as free as b, more loaded
  };
  const std::vector<size_t> order = rank_servers(s);
  EXPECT_EQ(order, (std::vector<size_t>{1, 4, 0}));
  EXPECT_EQ(total_devices(s), 5u);
  EXPECT_TRUE(s[2].full());
  EXPECT_FALSE(s[0].full());
  ServerRecord unlimited = record("tcp://u:1", {1}, 5, 0);  // max_sessions unknown: never full
  EXPECT_FALSE(unlimited.full());
}

}  // namespace
}  // namespace gpool::registry
