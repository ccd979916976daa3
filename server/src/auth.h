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

}  // namespace gpool::server
