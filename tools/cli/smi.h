// `gpool smi`: an nvidia-smi-like view of what the caller's token may use on the servers it
// names: each device (name, UUID, PCI address, memory held / quota, utilisation) and the
// tenant's sessions on it, asked with a status-only Hello (no session is opened, max_sessions
// is not counted). Devices are numbered as the client shim numbers its full list: server 0's
// first (CUDA_VISIBLE_DEVICES is not applied, as nvidia-smi does not apply it). `servers` may be
// one etcd://HOST:PORT/POOL: every server registered in the pool, in URL order, as the NVML shim
// lists them (client-shim/src/pool_servers.h); a registered server that does not answer or
// refuses the token is skipped with a message on stderr (all refusing: exit 1).
// `json`: one JSON document instead of the tables.
// Errors: returns 1 with a message on stderr naming the server that failed (unreachable,
// refused token, malformed answer), or etcd that cannot be read, or a bad pool URL; 0 otherwise.
// Thread safety: main thread only.
#pragma once

#include <string>
#include <vector>

namespace gpool::tools {

int run_smi(const std::vector<std::string>& servers, const std::string& token, bool json);

}  // namespace gpool::tools
