// `gpool status` without --json: the status document (status.h) as aligned text tables:
// the pool line, one row per tenant (sessions, calls, bytes moved, errors, quota refusals),
// one row per tenant and device (memory held, quota, device time), one row per session.
//
// Holds a minimal JSON reader of its own (objects, arrays, strings, numbers, booleans, null),
// enough for the server's status document.
// Errors: returns false with `error` when `json` is not a status document.
// Thread safety: pure function.
#pragma once

#include <string>

namespace gpool::tools {

bool render_status(const std::string& json, std::string& out, std::string& error);

}  // namespace gpool::tools
