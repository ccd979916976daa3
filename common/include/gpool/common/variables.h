// The table of every configuration variable gpool reads: its name, the TOML key that sets the
// same thing (if any), its default and what it does, grouped by the component that reads it.
//
// This table is the one place a variable is declared. `gpool info` prints it with the values in
// effect, docs/operations.md's "Environment variables" section is generated from it
// (scripts/gen-variables.sh, checked by the ctest docs.variables_current), and env::get() logs
// an error for a GPOOL_* name that is not in it (tests/unit/common checks every GPOOL_* literal
// in the sources is). Adding a variable: add a row here, then run scripts/gen-variables.sh.
//
// Thread safety: the table is immutable static data; any thread may read it.
#pragma once

#include <span>
#include <string_view>

namespace gpool::vars {

struct Variable {
  std::string_view name;      // environment variable, e.g. "GPOOL_SERVER"
  std::string_view section;   // who reads it, e.g. "Client shim and the gpool tool"
  std::string_view toml_key;  // key of the TOML file that sets the same thing ("" = none)
  std::string_view fallback;  // the default, as a person reads it
  std::string_view help;      // one paragraph, Markdown inline code allowed
};

// Every variable, in documentation order (sections in order of first appearance).
std::span<const Variable> all();

// The row of `name`, or nullptr when it is not declared.
const Variable* find(std::string_view name);

}  // namespace gpool::vars
