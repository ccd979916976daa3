// What a gpool-server publishes about itself in etcd (one key per server, under a lease; see
// etcd.h for the key layout and docs/architecture.md, "A pool of servers on etcd").
//
// The value is a JSON object, readable with `etcdctl get --prefix /gpool/pools/POOL/`:
//   {"url":"tcp://10.0.0.5:7070","host":"gpu-node-3","version":"0.1.0","sessions":2,
//    "max_sessions":64,"load":0.03,"updated":1765000000,
//    "devices":[{"name":"...","uuid":"GPU-...","memory_total":N,"memory_free":N}, ...]}
// `load` is sessions / max_sessions (0..1); memory_free is the device's memory less what every
// tenant holds on it. Readers ignore members they do not know (newer servers may add some).
//
// Errors: from_json() returns false with `error` for text that is not such an object or lacks
// `url`. Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::registry {

struct DeviceRecord {
  std::string name;
  std::string uuid;
  uint64_t memory_total = 0;
  uint64_t memory_free = 0;
};

struct ServerRecord {
  std::string url;      // what clients connect to (the server's advertise_url)
  std::string host;     // the server's host name, for people
  std::string version;  // gpool version
  uint32_t sessions = 0;
  uint32_t max_sessions = 0;
  double load = 0;      // sessions / max_sessions
  int64_t updated = 0;  // unix seconds of the last change
  std::vector<DeviceRecord> devices;

  // No session can be admitted: sessions >= max_sessions (as last published).
  bool full() const { return max_sessions > 0 && sessions >= max_sessions; }
  // The largest memory_free of its devices (0 without devices).
  uint64_t best_free() const;
};

std::string to_json(const ServerRecord& r);
bool from_json(std::string_view text, ServerRecord& out, std::string& error);

// The JSON array `gpool servers --json` prints: the records in the order given.
std::string to_json(const std::vector<ServerRecord>& records);

}  // namespace gpool::registry
