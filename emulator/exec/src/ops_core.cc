// register_core_ops: every op family the core owns (see ops.h).
#include "ops.h"

namespace gpool::emu::exec {

void register_core_ops(OpTable& t) {
  register_control_ops(t);
  register_mov_ops(t);
  register_mem_ops(t);
  register_int_ops(t);
  register_bit_ops(t);
  register_compare_ops(t);
  register_barrier_ops(t);
  register_atomic_ops(t);
}

}  // namespace gpool::emu::exec
