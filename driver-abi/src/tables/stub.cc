// The filler for export-table slots nobody has seen called (section 1 of the facts): returns 0.
// Declared without parameters; under the SysV AMD64 ABI a caller may pass any arguments.
#include "tables.h"

namespace gpool::abi::tables {

uintptr_t stub_return_zero() { return 0; }

}  // namespace gpool::abi::tables
