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

// Out of line part of global_span_ok: asks GlobalMemory and records a hit.
bool global_span_check(BlockContext& b, uint64_t lo, uint64_t end);

// True when every byte of [lo, end) is accessible global memory (lo < end).
// Answers from the worker's span cache when it can, else asks GlobalMemory
// once and remembers the answer for the rest of the launch.
inline bool global_span_cached(const BlockContext& b, uint64_t lo, uint64_t end) {
  const GlobalSpans& c = *b.spans;
  for (int i = 0; i < GlobalSpans::kEntries; ++i)
    if (lo >= c.lo[i] && end <= c.end[i]) return true;
  return false;
}
inline bool global_span_ok(BlockContext& b, uint64_t lo, uint64_t end) {
  return global_span_cached(b, lo, end) || global_span_check(b, lo, end);
}

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
