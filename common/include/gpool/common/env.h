// Reading GPOOL_* environment variables.
//
// Every variable gpool reads is declared once in a table (see env.cc's
// callers, and docs/operations.md for the full list). A malformed value is
// logged with the variable's name, the value and the expected form, and the
// default is used instead: configuration mistakes never crash a CUDA program.
//
// Thread safety: all functions may be called from any thread. They read the
// environment each time; callers cache what they need at start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gpool::env {

// The raw value of `name`, or nullopt when unset or empty.
std::optional<std::string> get(std::string_view name);

// An unsigned integer with an optional size suffix (k, m, g, t; powers of 1024),
// e.g. "16g". Returns `fallback` (and logs once) when unset or malformed.
uint64_t get_size(std::string_view name, uint64_t fallback);

// A signed integer. Returns `fallback` (and logs once) when unset or malformed.
int64_t get_int(std::string_view name, int64_t fallback);

// 1/0, true/false, yes/no, on/off. Returns `fallback` when unset or malformed.
bool get_bool(std::string_view name, bool fallback);

// Parses a size like get_size does; nullopt on malformed input. Exposed for tests
// and for TOML values.
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace gpool::env
