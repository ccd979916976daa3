// Where the shim places a program in a pool (GPOOL_SERVER=etcd://..., docs/architecture.md).
//
// rank_servers() orders the pool's records for trying: servers that, as last published, can
// admit a session and have devices come first, most free capacity first (the largest free
// memory of one device, then the lower load, then the URL so that the order is stable); full
// servers (sessions >= max_sessions) and servers without devices are left out. The shim connects
// in this order, skipping one that is down or refuses the session as busy, until it holds the
// devices it wants (GPOOL_DEVICES).
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "gpool/registry/server_record.h"

namespace gpool::registry {

// Indices into `servers`, best first; full or device-less servers are not listed.
std::vector<size_t> rank_servers(std::span<const ServerRecord> servers);

// Devices all of `servers` offer together (full ones included).
size_t total_devices(std::span<const ServerRecord> servers);

}  // namespace gpool::registry
