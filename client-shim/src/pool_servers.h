// The servers a status-only client (the NVML shim, `gpool smi`) asks, from a GPOOL_SERVER list:
// plain URLs as they are, or, for GPOOL_SERVER=etcd://HOST:PORT[,...]/POOL (which, as for the
// CUDA shim, must be the only entry), every server registered in that pool in etcd
// (registry/etcd.h, registry/server_record.h), in the pool's key order, which is the order of
// their advertised URLs (each server's key is the pool prefix + its URL).
//
// Why every server and not the CUDA shim's placement: placement picks, at each program's cuInit,
// the best server(s) by their load then, with ties broken in a per-process random order
// (client-shim/src/pool_placement.h), so another process cannot know which devices a program got,
// and a monitor wants the whole pool. Devices are then numbered server by server in this order;
// their UUIDs are the servers' own and name the same device for NVML and for CUDA
// (docs/architecture.md, "NVML shim").
//
// Errors: false with `error` and `failure`: a malformed pool URL, or an etcd:// entry beside
// others (kOther); etcd cannot be read (kUnreachable). An empty pool is not an error (no
// servers). A record that is not a server record is skipped with a warning (logger "client").
// Thread safety: independent calls are independent (each opens its own etcd connection).
#pragma once

#include <string>
#include <vector>

#include "status_client.h"

namespace gpool::client {

struct ServerList {
  std::vector<std::string> urls;  // the servers to ask, in order
  bool pooled = false;            // they came from an etcd:// pool
};

bool resolve_servers(const std::vector<std::string>& servers, ServerList& out, std::string& error,
                     Failure* failure = nullptr);

}  // namespace gpool::client
