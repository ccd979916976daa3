// The PTX linker: several parsed modules (translation units built with
// -rdc=true, or the inputs of a cuLink* session) -> one module, as nvlink
// resolves them.
//
// Rules:
//  - A `.visible` definition (function or variable) is global: two of the same
//    name are an error ("multiple definition"), unless all but one are `.weak`
//    (the first non-weak wins, else the first weak one).
//  - An `.extern` declaration (or a body-less prototype) is dropped when some
//    unit defines the name; unresolved ones are kept once (vprintf, malloc and
//    the other routines the executor provides), so a missing definition is
//    reported by Program::build like any other unknown callee.
//  - A definition without `.visible` is local to its unit: when its name is
//    also used by another unit it is renamed "<name>$gpool_u<unit>" in that
//    unit (references, call targets and initializer relocations included).
//    The first unit to use a name keeps it.
//  - The result's .version and .target are the highest of the inputs'
//    (a higher target is refused by the loader's arch selection beforehand).
//
// Thread safety: link() is reentrant and keeps no state.
#pragma once

#include "gpool/emu/ptx/ast.h"

#include <string>
#include <vector>

namespace gpool::emu::ptx {

// Links `units` (consumed) into *out. On failure returns false with *error
// naming the symbol and the units involved ("unit 0", "unit 1", ... in order).
bool link(std::vector<Module> units, Module* out, std::string* error);

}  // namespace gpool::emu::ptx
