// Where the shim places a program in a pool (GPOOL_SERVER=etcd://..., docs/architecture.md).
//
// rank_servers() orders the pool's records for trying: servers that, as last published, can
// admit a session and have devices come first, most free capacity first (the largest free
// memory of one device, then the lower load; ties in both are broken by `tie_seed`: 0 keeps URL
// order (stable, for listings), any other value a pseudo-random order derived from it, so that
// clients starting together spread over equal servers instead of all taking the first); full
// servers (sessions >= max_sessions) and servers without devices are left out. The shim connects
// in this order, skipping one that is down or refuses the session as busy, until it holds the
// devices it wants (GPOOL_DEVICES).
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gpool/registry/server_record.h"

namespace gpool::registry {

// Indices into `servers`, best first; full or device-less servers are not listed.
std::vector<size_t> rank_servers(std::span<const ServerRecord> servers, uint64_t tie_seed = 0);

// Devices all of `servers` offer together (full ones included).
size_t total_devices(std::span<const ServerRecord> servers);

}  // namespace gpool::registry
