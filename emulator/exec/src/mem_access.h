// Checked memory access for handlers: turns the addresses of a warp's active
// lanes in one state space into host pointers, or records the fault
// (IllegalAddress / MisalignedAddress, naming the site, lane and address)
// and returns false. Global spans are checked once per warp with
// GlobalMemory::accessible and per lane only when that is refused.
//
// Owner: exec core. Used by ld/st (ops_mem.cc), atomics, printf.
#pragma once

#include "block.h"

#include <cstring>

namespace gpool::emu::exec {

// Resolves every active lane's [addr[l], addr[l] + bytes) in `space`.
// `align` is the required alignment (a power of two; 1 for none).
bool resolve_lanes(const LInstr& in, WarpState& w, LaneMask act, ptx::Space space, const uint64_t* addr,
                   uint32_t bytes, uint32_t align, bool write, uint8_t** ptrs);

// One lane, one access (printf argument reads, string reads). Does not fault
// when `quiet`; returns nullptr then.
uint8_t* resolve_one(const LInstr& in, WarpState& w, int lane, ptx::Space space, uint64_t addr, uint32_t bytes,
                     bool write, bool quiet);

// The state space of a generic address.
inline ptx::Space generic_space(uint64_t addr) {
  if (addr < kWindowBase) return ptx::Space::Global;
  uint64_t tag = addr & 0xffff000000000000ull;
  if (tag == kSharedWindow) return ptx::Space::Shared;
  if (tag == kLocalWindow) return ptx::Space::Local;
  return ptx::Space::Param;
}

// base + offset for every active lane.
inline void lane_addresses(const LInstr& in, const WarpState& w, LaneMask act, uint64_t* addr) {
  uint64_t off = static_cast<uint64_t>(in.offset);
  if (in.s[0].kind == LOperand::Kind::Imm) {
    for (int l = 0; l < kWarpSize; ++l) addr[l] = in.s[0].imm + off;
  } else {
    const uint64_t* r = w.reg(in.s[0].index);
    for (int l = 0; l < kWarpSize; ++l) addr[l] = r[l] + off;
  }
  (void)act;
}

}  // namespace gpool::emu::exec
