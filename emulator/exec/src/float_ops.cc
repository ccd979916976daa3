// float op family: registers its PTX opcodes with the executor's OpTable.
// Owner: exec-float helper. See engine.h for the lowering/handler contract.
#include "engine.h"

namespace gpool::emu::exec {

void register_float_ops(OpTable& t) { (void)t; }

}  // namespace gpool::emu::exec
