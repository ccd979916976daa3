// The device runtime's heap builtins that nvcc calls as extern functions:
// malloc(size) (also behind operator new) and free(ptr) (operator delete).
// Both go to the launch's DeviceHeap (program.h), one per context in the
// runtime. Operands: s[0] = Imm local offset of the 64-bit argument; malloc
// stores its result at local offset aux when aux2 = 1.
#include "block.h"
#include "ops.h"

#include <bit>
#include <cstring>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

uint64_t arg_u64(const WarpState& w, int lane, uint64_t off) {
  uint64_t v = 0;
  if (off + 8 <= w.local_stride) std::memcpy(&v, w.local + static_cast<size_t>(lane) * w.local_stride + off, 8);
  return v;
}

}  // namespace

void h_malloc(const LInstr& in, WarpState& w, LaneMask act) {
  DeviceHeap* heap = w.block->launch->heap;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t p = heap->allocate(arg_u64(w, l, in.s[0].imm));
    if (in.aux2 && in.aux + 8 <= w.local_stride)
      std::memcpy(w.local + static_cast<size_t>(l) * w.local_stride + in.aux, &p, 8);
  }
}

void h_free(const LInstr& in, WarpState& w, LaneMask act) {
  DeviceHeap* heap = w.block->launch->heap;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t p = arg_u64(w, l, in.s[0].imm);
    if (p == 0 || heap->release(p)) continue;
    w.fault(LaunchStatus::IllegalAddress,
            fmt::format("free({:#x}) of a pointer that malloc did not return or that was already freed at {}", p,
                        describe_site(in, w, l)));
    return;
  }
}

}  // namespace gpool::emu::exec
