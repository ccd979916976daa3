// The admin calls of the `gpool` tool: `gpool status` and `gpool reload` over an admin session.
//
// Each call connects to `url`, says Hello with `token`, sends one call and returns the inline
// text of the Reply (the calls themselves live in the client library, client-shim/src/
// status_client.h, shared with the NVML shim and `gpool smi`):
//   fetch_status     ServerStatus (Hello.status_only, any tenant's token): the status JSON
//                    document ({"backend", "devices": [...], "sessions": [...], "bytes_held",
//                    "tenants": [...], "pool", "metrics"}; docs/operations.md). An admin token sees every tenant;
//                    another token its own sessions and tenant row ("tenant": its name).
//   (request_reload needs an admin tenant's token.)
//   request_reload   ServerReload: the server re-reads its config file's tenants (as SIGHUP
//                    does) and answers a one-line summary.
// Errors: return false with `error` saying what failed (unreachable server, refused token, a
// non-admin token, a malformed answer, or for a reload the server's reason it changed nothing).
// Thread safety: independent calls are independent.
#pragma once

#include <string>

namespace gpool::tools {

bool fetch_status(const std::string& url, const std::string& token, std::string& json,
                  std::string& error);

bool request_reload(const std::string& url, const std::string& token, std::string& summary,
                    std::string& error);

}  // namespace gpool::tools
