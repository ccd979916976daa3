#include "pool_placement.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <unistd.h>

#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "gpool/registry/etcd.h"
#include "gpool/registry/placement.h"
#include "contexts.h"
#include "ids.h"
#include "session.h"

namespace gpool::shim {
namespace {

spdlog::logger& logger() { return log::logger("shim"); }

// The pool's records; false with the reason logged.
bool read_pool(registry::Etcd& etcd, const registry::PoolUrl& pool, const std::string& url,
               std::vector<registry::ServerRecord>& out) {
  std::vector<registry::KeyValue> kvs;
  std::string error;
  if (!etcd.range_prefix(registry::pool_prefix(pool.pool), kvs, error)) {
    logger().error("cannot read the gpool pool {}: {}; cuInit fails (is etcd running there?)", url, error);
    return false;
  }
  out.clear();
  for (const registry::KeyValue& kv : kvs) {
    registry::ServerRecord r;
    if (!registry::from_json(kv.value, r, error)) {
      logger().warn("pool {}: ignoring the malformed record {}: {}", url, kv.key, error);
      continue;
    }
    out.push_back(std::move(r));
  }
  return true;
}

}  // namespace

CUresult place_in_pool(const std::string& url, const std::string& token,
                       std::vector<std::unique_ptr<Session>>& sessions, std::vector<size_t>& take,
                       const transport::TlsOptions& tls) {
  sessions.clear();
  take.clear();
  registry::PoolUrl pool;
  std::string error;
  if (!registry::parse_pool_url(url, pool, error)) {
    logger().error("GPOOL_SERVER {}; cuInit fails", error);
    return CUDA_ERROR_INVALID_VALUE;
  }
  size_t want = 0;  // 0: every device of the best server
  if (env::get("GPOOL_DEVICES")) {
    const int64_t n = env::get_int("GPOOL_DEVICES", -1);
    if (n < 1 || n > static_cast<int64_t>(kMaxDevices)) {
      logger().error("GPOOL_DEVICES must be a number of devices 1..{}; cuInit fails", kMaxDevices);
      return CUDA_ERROR_INVALID_VALUE;
    }
    want = static_cast<size_t>(n);
  }
  const auto budget = std::chrono::milliseconds(std::max<int64_t>(0, env::get_int("GPOOL_BUSY_WAIT_MS", 10000)));
  const auto give_up = std::chrono::steady_clock::now() + budget;
  auto backoff = std::chrono::milliseconds(200);
  registry::Etcd etcd(pool.endpoints, std::chrono::milliseconds(3000));
  // Equal servers are taken in an order of this process's own, so that programs starting
  // together do not all pick the same one.
  const uint64_t tie_seed =
      (static_cast<uint64_t>(::getpid()) << 32) ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ 1;
  std::set<std::string> used;
  size_t got = 0;
  auto fail = [&](CUresult st) {
    for (auto& s : sessions) s->shutdown();
    sessions.clear();
    take.clear();
    return st;
  };
  for (int round = 0;; ++round) {
    std::vector<registry::ServerRecord> records;
    if (!read_pool(etcd, pool, url, records)) return fail(CUDA_ERROR_NO_DEVICE);
    if (records.empty()) {
      logger().error("the gpool pool {} has no servers (none registered, or all left); cuInit fails "
                     "with CUDA_ERROR_NO_DEVICE", url);
      return fail(CUDA_ERROR_NO_DEVICE);
    }
    const size_t total = registry::total_devices(records);
    if (want > total) {
      logger().error("GPOOL_DEVICES={} asks for more devices than the pool {} has ({} on {} server(s)); "
                     "cuInit fails with CUDA_ERROR_NO_DEVICE", want, url, total, records.size());
      return fail(CUDA_ERROR_NO_DEVICE);
    }
    size_t full = 0, down = 0, busy = 0, refused = 0;
    for (const registry::ServerRecord& r : records) full += r.full() && !used.count(r.url) ? 1 : 0;
    for (size_t i : registry::rank_servers(records, tie_seed)) {
      const registry::ServerRecord& r = records[i];
      if (used.count(r.url) != 0) continue;
      if (sessions.size() >= kMaxSessions) break;
      auto s = std::make_unique<Session>(r.url, token, static_cast<uint32_t>(sessions.size()), tls);
      s->set_busy_final();
      const CUresult st = s->init();
      if (st != CUDA_SUCCESS) {
        if (s->refused_busy()) {
          ++busy;
        } else if (st == CUDA_ERROR_NOT_PERMITTED) {
          ++refused;
        } else {
          ++down;
          logger().warn("pool {}: skipping server {} (it is registered but did not take the session)",
                        url, r.url);
        }
        continue;
      }
      used.insert(r.url);
      const size_t n = want == 0 ? s->devices().size() : std::min(s->devices().size(), want - got);
      got += n;
      logger().info("pool {}: placed on gpool server {} ({} of its {} device(s), {} free of the "
                    "largest per its record, load {:.2f})", url, r.url, n, s->devices().size(),
                    r.best_free(), r.load);
      take.push_back(n);
      sessions.push_back(std::move(s));
      if (want == 0 || got >= want) return CUDA_SUCCESS;
    }
    if (refused > 0 && busy == 0 && full == 0 && down == 0 && sessions.empty()) {
      logger().error("pool {}: every server refused the token (GPOOL_TOKEN); cuInit fails", url);
      return fail(CUDA_ERROR_NOT_PERMITTED);
    }
    if (std::chrono::steady_clock::now() + backoff > give_up) {
      logger().error("pool {}: could not get {} device(s) (have {}; servers full {}, busy {}, down {}); "
                     "gave up after {} ms (GPOOL_BUSY_WAIT_MS)", url, want == 0 ? 1 : want, got,
                     full, busy, down, budget.count());
      return fail(CUDA_ERROR_DEVICE_UNAVAILABLE);
    }
    if (round == 0) {
      logger().warn("pool {}: no server can take the session now (full {}, busy {}, down {}); "
                    "waiting up to {} ms for one (GPOOL_BUSY_WAIT_MS)", url, full, busy, down,
                    budget.count());
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace gpool::shim
