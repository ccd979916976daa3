// The registrar: keeps this server's record in a pool in etcd (config `registry`,
// docs/architecture.md "A pool of servers on etcd"; the record is registry/server_record.h).
//
// A child process of the supervisor (which must never run a thread, it forks workers), started
// after the listeners are bound. It loads the backend driver once to learn the devices (name,
// UUID, memory), then loops every TTL/3:
//   - keeps the lease alive (a lease etcd forgot, e.g. after etcd was unreachable for longer
//     than the TTL, is replaced by a new one and the record put again);
//   - puts the record again when its figures changed: sessions open (SessionTable), memory free
//     per device (device memory less what every tenant holds, TenantTable), load.
// Stop: SIGTERM (the supervisor's clean stop) revokes the lease, so the server leaves the pool
// at once. Death: the registrar dies with the supervisor (PR_SET_PDEATHSIG SIGKILL) without
// revoking, so a crashed or killed server leaves the pool when its lease expires (after at most
// registry_ttl_s seconds).
// etcd unreachable: logged once when it starts failing and once when it answers again; the
// server keeps serving its direct clients meanwhile.
//
// Errors: start_registrar returns -1 with `error` for a bad registry URL or a failed fork.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "session_table.h"
#include "tenant_table.h"

namespace gpool::server {

struct RegistrarConfig {
  std::string registry;       // etcd://HOST:PORT[,...]/POOL
  std::string advertise_url;  // what clients connect to
  unsigned ttl_s = 10;
  std::string backend_path;   // the driver library to ask for the device list
  unsigned max_sessions = 64;
};

// Forks the registrar. `child_setup` runs first in the child (closes the supervisor's sockets).
pid_t start_registrar(const RegistrarConfig& cfg, const TenantTable* tenants, SessionTable* sessions,
                      const std::function<void()>& child_setup, std::string& error);

}  // namespace gpool::server
