// etcd, spoken through its v3 JSON gateway (POST /v3/kv/put, /v3/kv/range, /v3/lease/grant,
// /v3/lease/keepalive, /v3/lease/revoke; keys and values base64), over http_client.h.
//
// A pool is named by a URL:  etcd://HOST[:PORT][,HOST[:PORT]...]/POOL  (port 2379 by default;
// several endpoints are members of one etcd cluster, tried in turn). Servers of pool POOL
// publish one key each under pool_prefix(POOL) = "/gpool/pools/POOL/servers/".
//
// Errors: every call returns false with `error` naming the endpoint and what failed: the
// connection (after the timeout), an HTTP error status with etcd's own message, or an answer
// that is not the JSON expected. Nothing is retried here except the next endpoint of the list
// (after a connection failure or a 5xx answer).
// Thread safety: an Etcd object is used by one thread at a time (it remembers which endpoint
// answered last); the free functions are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpool::registry {

struct PoolUrl {
  std::vector<std::pair<std::string, int>> endpoints;  // host, port
  std::string pool;
};

inline constexpr int kDefaultEtcdPort = 2379;

// True when `url` starts with "etcd://".
bool is_pool_url(std::string_view url);
// Parses etcd://HOST[:PORT][,...]/POOL. POOL: 1 to 63 of [A-Za-z0-9._-]. False with `error`
// saying what is wrong and the expected form.
bool parse_pool_url(std::string_view url, PoolUrl& out, std::string& error);
// "/gpool/pools/POOL/servers/".
std::string pool_prefix(const std::string& pool);

struct KeyValue {
  std::string key, value;
  int64_t lease = 0;
};

class Etcd {
 public:
  Etcd(std::vector<std::pair<std::string, int>> endpoints, std::chrono::milliseconds timeout);

  bool put(const std::string& key, const std::string& value, int64_t lease, std::string& error);
  // Every key starting with `prefix`, in key order (a serializable read: served by whichever
  // member answers, possibly a little behind the leader).
  bool range_prefix(const std::string& prefix, std::vector<KeyValue>& out, std::string& error);
  // A new lease of `ttl_s` seconds; its id in `id`.
  bool lease_grant(int64_t ttl_s, int64_t& id, std::string& error);
  // One keepalive. `alive` false (and true returned) when etcd no longer knows the lease (it
  // expired): the caller must grant a new one and put its keys again.
  bool lease_keepalive(int64_t id, bool& alive, std::string& error);
  bool lease_revoke(int64_t id, std::string& error);

 private:
  // POSTs `body` to `path` on the endpoints, starting with the last one that answered; the
  // parsed JSON answer of a 2xx status in `out`.
  bool call(const std::string& path, const std::string& body, std::string& out, std::string& error);

  std::vector<std::pair<std::string, int>> endpoints_;
  std::chrono::milliseconds timeout_;
  size_t current_ = 0;
};

}  // namespace gpool::registry
