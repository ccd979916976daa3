// Logging for every gpool component, through spdlog.
//
// Each component asks for its own named logger ("emulator", "abi", "shim", ...).
// All loggers write to stderr with the prefix "gpool <component>" so that the
// output of an unmodified application stays recognisable.
//
// The level comes from GPOOL_LOG_LEVEL (trace, debug, info, warn, error, off;
// default warn) and is read once, at the first call.
//
// Thread safety: logger() may be called from any thread, at any time after
// static initialisation; the returned logger is thread safe and lives for the
// rest of the process (it is never destroyed, so it can be used from atexit
// handlers and library destructors).
//
// Style (see docs/operations.md): lowercase messages, "what failed: why; what to do".
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace gpool::log {

// Returns the process-wide logger for `component`. Never returns null.
spdlog::logger& logger(std::string_view component);

// Sends the output of every logger, existing and later ones, to file descriptor `fd` instead of
// stderr (the fd stays owned by the caller and must stay open). Used by a process that
// redirects fd 2 for other purposes (the server's session workers capture device printf there)
// but whose own logs belong elsewhere. REQUIRES: no other thread is logging during the call.
void set_output_fd(int fd);

}  // namespace gpool::log
