// Real calls: recursive and indirect device-function calls (lower.cc decides
// which calls are real; the others are inlined).
//
// Per thread: a call stack (WarpState::stack, LoweredKernel::stack_bytes
// bytes) and its depth in register slot LoweredKernel::sp_slot. A call pushes
// the return pc (8 bytes) and jumps; the callee's first instruction (h_enter)
// pushes its CallFrame and copies the arguments from the argument area into
// its parameters; its ret (h_ret) copies its results into the result area,
// pops the frame and returns. Lanes of a warp may call different functions
// (function pointers) or return to different pcs (different depths): they
// split into groups the scheduler runs and merges like any divergence.
//
// Local variables of a recursive function live at fixed .local offsets that
// each activation saves and restores, so a pointer to one activation's local
// variable must not be used by a deeper activation of the same function
// (docs/emulator.md).
#include "block.h"
#include "ops.h"

#include <bit>
#include <cstring>
#include <fmt/format.h>

namespace gpool::emu::exec {

void push_group(WarpState& w, uint32_t pc, LaneMask mask);  // scheduler.cc

namespace {

uint8_t* lane_local(WarpState& w, int l) { return w.local + static_cast<size_t>(l) * w.local_stride; }
uint8_t* lane_stack(WarpState& w, int l) { return w.stack + static_cast<size_t>(l) * w.stack_stride; }

void overflow(const LInstr& in, WarpState& w, int lane) {
  w.fault(LaunchStatus::IllegalAddress,
          fmt::format("call stack overflow ({} bytes per thread: recursion too deep) at {}", w.stack_stride,
                      describe_site(in, w, lane)));
}

// Pushes the return pc for each lane of `act`. False after a fault.
bool push_return(const LInstr& in, WarpState& w, LaneMask act, uint32_t sp_slot) {
  uint64_t* sp = w.reg(sp_slot);
  const uint64_t ret = w.pc;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    if (sp[l] + 8 > w.stack_stride) {
      overflow(in, w, l);
      return false;
    }
    std::memcpy(lane_stack(w, l) + sp[l], &ret, 8);
    sp[l] += 8;
  }
  return true;
}

// Moves the lanes of `act` to per-lane pcs: the group of the first pc goes on,
// the others wait in the scheduler.
void split_to(WarpState& w, LaneMask act, const uint32_t* pcs) {
  LaneMask left = act;
  bool first = true;
  LaneMask stay = w.active & ~act;
  if (stay) push_group(w, w.pc, stay);
  while (left) {
    uint32_t pc = pcs[std::countr_zero(left)];
    LaneMask same = 0;
    for (LaneMask m = left; m; m &= m - 1) {
      int l = std::countr_zero(m);
      if (pcs[l] == pc) same |= 1u << l;
    }
    left &= ~same;
    if (first) {
      w.pc = pc;
      w.active = same;
      first = false;
    } else {
      push_group(w, pc, same);
    }
  }
  w.break_pc = 0;
}

}  // namespace

void h_call(const LInstr& in, WarpState& w, LaneMask act) {
  const LoweredKernel& k = *w.block->launch->k;
  if (!push_return(in, w, act, k.sp_slot)) return;
  if (act == w.active) {
    w.pc = in.target;
    return;
  }
  uint32_t pcs[kWarpSize];
  for (auto& p : pcs) p = in.target;
  split_to(w, act, pcs);
}

void h_call_indirect(const LInstr& in, WarpState& w, LaneMask act) {
  const LoweredKernel& k = *w.block->launch->k;
  uint32_t pcs[kWarpSize] = {};
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t f = w.get(in.s[0], l);
    uint64_t index = f - kFunctionWindow;
    if ((f & kFunctionWindow) != kFunctionWindow || index >= k.fn_entry.size() || k.fn_entry[index] == UINT32_MAX) {
      w.fault(LaunchStatus::IllegalInstruction,
              fmt::format("indirect call through {:#x}, which is not the address of a device function of this "
                          "module, at {}",
                          f, describe_site(in, w, l)));
      return;
    }
    pcs[l] = k.fn_entry[index];
  }
  if (!push_return(in, w, act, k.sp_slot)) return;
  split_to(w, act, pcs);
}

void h_enter(const LInstr& in, WarpState& w, LaneMask act) {
  const LoweredKernel& k = *w.block->launch->k;
  const CallFrame& f = k.frames[in.aux];
  uint64_t* sp = w.reg(k.sp_slot);
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    if (sp[l] + f.bytes > w.stack_stride) {
      overflow(in, w, l);
      return;
    }
    uint8_t* p = lane_stack(w, l) + sp[l];
    for (uint32_t s = f.slot_lo; s < f.slot_hi; ++s, p += 8) std::memcpy(p, &w.reg(s)[l], 8);
    for (uint32_t q = f.pred_lo; q < f.pred_hi; q += 64, p += 8) {
      uint64_t bits = 0;
      for (uint32_t j = q; j < f.pred_hi && j < q + 64; ++j) bits |= uint64_t{(w.preds[j] >> l) & 1u} << (j - q);
      std::memcpy(p, &bits, 8);
    }
    uint8_t* loc = lane_local(w, l);
    std::memcpy(p, loc + f.local_lo, f.local_hi - f.local_lo);
    sp[l] += f.bytes;
    std::memcpy(loc + f.param_off, loc + k.arg_area, f.param_bytes);
  }
}

void h_ret(const LInstr& in, WarpState& w, LaneMask act) {
  const LoweredKernel& k = *w.block->launch->k;
  const CallFrame& f = k.frames[in.aux];
  uint64_t* sp = w.reg(k.sp_slot);
  uint32_t pcs[kWarpSize] = {};
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    if (sp[l] < f.bytes + 8) {
      w.fault(LaunchStatus::IllegalInstruction,
              fmt::format("return without a matching call at {}", describe_site(in, w, l)));
      return;
    }
    uint8_t* loc = lane_local(w, l);
    std::memcpy(loc + k.ret_area, loc + f.ret_off, f.ret_bytes);
    sp[l] -= f.bytes;
    const uint8_t* p = lane_stack(w, l) + sp[l];
    for (uint32_t s = f.slot_lo; s < f.slot_hi; ++s, p += 8) std::memcpy(&w.reg(s)[l], p, 8);
    for (uint32_t q = f.pred_lo; q < f.pred_hi; q += 64, p += 8) {
      uint64_t bits;
      std::memcpy(&bits, p, 8);
      for (uint32_t j = q; j < f.pred_hi && j < q + 64; ++j) {
        LaneMask bit = 1u << l;
        w.preds[j] = (bits >> (j - q) & 1) ? (w.preds[j] | bit) : (w.preds[j] & ~bit);
      }
    }
    std::memcpy(loc + f.local_lo, p, f.local_hi - f.local_lo);
    sp[l] -= 8;
    uint64_t ret;
    std::memcpy(&ret, lane_stack(w, l) + sp[l], 8);
    pcs[l] = static_cast<uint32_t>(ret);
  }
  split_to(w, act, pcs);
}

void h_local_copy(const LInstr& in, WarpState& w, LaneMask act) {
  for (LaneMask m = act; m; m &= m - 1) {
    uint8_t* loc = lane_local(w, std::countr_zero(m));
    std::memmove(loc + in.aux, loc + in.s[0].imm, in.aux2);
  }
}

}  // namespace gpool::emu::exec
