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
#include <vector>

namespace gpool::tools {

bool render_status(const std::string& json, std::string& out, std::string& error);

// "12.0 MiB": bytes in the largest binary unit below 1024 of it (also used by `gpool smi`).
std::string format_bytes(double bytes);
// Left-aligned columns, two spaces apart, one line per row.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace gpool::tools
