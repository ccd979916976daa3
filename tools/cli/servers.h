// `gpool servers`: the servers of a pool in etcd (GPOOL_SERVER=etcd://HOST:PORT/POOL or
// --pool), as registered by each gpool-server (registry/server_record.h).
//
// Text: one row per server, in the order the shim would try them (registry/placement.h; full
// servers last, marked "full"): URL, host, version, sessions/max, load, devices, and the
// largest free memory of one device. --json: the records as a JSON array, in the same order.
// Errors: returns false with `error` for a bad pool URL or when etcd cannot be read.
// Thread safety: one call at a time per thread; no shared state.
#pragma once

#include <string>

namespace gpool::tools {

bool list_servers(const std::string& pool_url, bool json, std::string& out, std::string& error);

}  // namespace gpool::tools
