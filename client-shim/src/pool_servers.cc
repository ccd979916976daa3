#include "pool_servers.h"

#include <chrono>

#include "gpool/common/log.h"
#include "gpool/registry/etcd.h"
#include "gpool/registry/server_record.h"

namespace gpool::client {

bool resolve_servers(const std::vector<std::string>& servers, ServerList& out, std::string& error,
                     Failure* failure) {
  auto fail = [&](Failure f, std::string why) {
    if (failure != nullptr) *failure = f;
    error = std::move(why);
    return false;
  };
  out = ServerList{};
  bool any_pool = false;
  for (const std::string& s : servers) any_pool = any_pool || registry::is_pool_url(s);
  if (!any_pool) {
    out.urls = servers;
    return true;
  }
  if (servers.size() != 1) {
    return fail(Failure::kOther, "GPOOL_SERVER: an etcd:// pool must be the only entry");
  }
  const std::string& url = servers[0];
  registry::PoolUrl pool;
  std::string why;
  if (!registry::parse_pool_url(url, pool, why)) return fail(Failure::kOther, "GPOOL_SERVER " + why);
  registry::Etcd etcd(pool.endpoints, std::chrono::milliseconds(3000));
  std::vector<registry::KeyValue> kvs;
  if (!etcd.range_prefix(registry::pool_prefix(pool.pool), kvs, why)) {
    return fail(Failure::kUnreachable, "cannot read the gpool pool " + url + ": " + why);
  }
  out.pooled = true;
  for (const registry::KeyValue& kv : kvs) {
    registry::ServerRecord r;
    if (!registry::from_json(kv.value, r, why)) {
      log::logger("client").warn("pool {}: ignoring the malformed record {}: {}", url, kv.key, why);
      continue;
    }
    out.urls.push_back(r.url);
  }
  if (failure != nullptr) *failure = Failure::kNone;
  return true;
}

}  // namespace gpool::client
