// Tenant authentication: the Hello's token is hashed (SHA-256) and compared in constant time
// with every tenant's stored hash; the token itself is never stored or logged.
//
// Thread safety: pure function over an immutable tenant list.
#pragma once

#include <string_view>
#include <vector>

#include "config.h"

namespace gpool::server {

// The tenant whose token hash matches `token`, or nullptr. Takes the same time whichever
// tenant (if any) matches.
const Tenant* authenticate(const std::vector<Tenant>& tenants, std::string_view token);

// A Hello's credentials together: its token (may be empty) and the SHA-256 of the verified TLS
// client certificate the connection presented (empty: none). The rules (docs/security.md):
//   - a certificate listed as a tenant's client_cert_sha256 identifies that tenant; a token
//     sent beside it must be that same tenant's;
//   - a tenant with client_cert_sha256 is only ever admitted with that certificate (its token
//     alone is not enough);
//   - otherwise the token decides, as authenticate() above.
// Returns the tenant, or nullptr with `why` (for the log and the Refusal; it names no secret).
const Tenant* authenticate(const std::vector<Tenant>& tenants, std::string_view token,
                           std::string_view cert_sha256, std::string& why);

}  // namespace gpool::server
