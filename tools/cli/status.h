// `gpool status`: asks a gpool-server for its sessions over an admin session.
//
// Connects to `url`, says Hello with `token` (a tenant marked admin in the server's config),
// sends one ServerStatus call and returns the JSON document of the Reply
// ({"backend":..., "sessions":[{"id","tenant","peer","pid","bytes_held","allocations","calls",
// "age_s"}...], "bytes_held": total}).
// Errors: returns false with `error` saying what failed (unreachable server, refused token,
// a non-admin token, a malformed answer). Thread safety: independent calls are independent.
#pragma once

#include <string>

namespace gpool::tools {

bool fetch_status(const std::string& url, const std::string& token, std::string& json,
                  std::string& error);

}  // namespace gpool::tools
