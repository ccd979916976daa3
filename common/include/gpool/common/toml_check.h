// Strict reading of TOML configuration tables, shared by gpool-server's config and the shim's
// GPOOL_CONFIG: every key must be one the reader knows, and a near miss gets a suggestion.
//
//   std::string error;
//   if (!toml_check::known_keys(table, {"server", "servers", "token"}, path, "", error)) ...
//   // error: "config /etc/x.toml line 3: unknown key 'sever'; did you mean 'server'?"
//
// Thread safety: pure functions. Errors: false with `error` naming the file, the line, the key
// (with the table it is in, `where`) and, when one is close, the known key it was probably
// meant to be.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace gpool::toml_check {

// Levenshtein distance (insert, delete, substitute; and an adjacent swap counts as one).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate within distance 2 (and below half the key's length) closest to `key`, or "".
std::string suggest(std::string_view key, std::initializer_list<std::string_view> candidates);

// "config PATH line N: " for `node` (its source line; "config PATH: " when unknown).
std::string at(const std::string& path, const toml::node& node);

// Checks `text` before it is given to toml++: a byte outside ASCII is allowed only inside a
// string or a comment (as TOML 1.0 says). toml++ 3.3 (Debian bookworm) reaches
// __builtin_unreachable() (undefined behaviour) on some such characters elsewhere, e.g. an "é"
// after a value (found by fuzz_config); this keeps them from it. False with `error` naming the
// file and line.
bool ascii_outside_strings(std::string_view text, const std::string& path, std::string& error);

// Reads the whole file `path` into `text`; false with `error` ("config PATH: cannot open it:
// <errno text>") when it cannot be opened.
bool read_file(const std::string& path, std::string& text, std::string& error);

// Checks that every key of `table` is in `known`. `where` names the table in messages
// ("" for the top level, e.g. "tenant alice: ").
bool known_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                const std::string& path, const std::string& where, std::string& error);

}  // namespace gpool::toml_check
