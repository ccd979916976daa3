// Live reload of the tenant list: SIGHUP makes the supervisor re-read its config file and apply
// the tenants (tokens, memory quotas, compute weights, priorities, max_sessions, devices)
// without dropping a session.
//
//   - A tenant still listed gets its new values at once in the tenant table (a lower quota
//     refuses further allocations; what is held stays held); its new devices apply to new
//     sessions.
//   - A new tenant can connect at once.
//   - A removed tenant gets no new session (its token is no longer known); its live sessions
//     run on and keep their accounting until they end.
//   - Tenants added on the command line (--token, --admin-token, --token-file) are kept.
//   - tls_cert, tls_key, tls_client_ca and tls_require_client_cert are taken too: the tls://
//     listeners load the certificate files again (also when only the files changed), for new
//     connections; a certificate that does not load leaves the old one in use (logged).
//   - Other keys (listen, backend, max_sessions, warm_workers, metrics_listen, ...) need a
//     restart; a change to them is logged and otherwise ignored.
//   - A file that does not parse changes nothing; the error is logged with file, key, reason.
//
// Thread safety: request_reload() is async-signal-safe (it sets a flag); everything else is
// called by the supervisor's loop only.
#pragma once

#include <string>

#include "config.h"
#include "tenant_table.h"

namespace gpool::server {

// Async-signal-safe: asks the supervisor loop to reload (the SIGHUP handler calls it).
void request_reload();
// True once per request_reload() (clears the request).
bool take_reload_request();
// A signal handler for SIGHUP that calls request_reload().
void on_reload_signal(int);

// Re-reads config.path and applies its tenants to `config` and `tenants` as described above.
// Returns false with `error` (and changes nothing) when the file cannot be read or is invalid,
// or when config.path is empty (the server was started without --config).
bool reload_tenants(Config& config, TenantTable& tenants, std::string& error);

}  // namespace gpool::server
