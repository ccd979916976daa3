// Checked address translation for every state space (see mem_access.h).
#include "mem_access.h"

#include <algorithm>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

const char* space_name(ptx::Space s) {
  switch (s) {
    case ptx::Space::Global: return "global";
    case ptx::Space::Const: return "const";
    case ptx::Space::Shared: return "shared";
    case ptx::Space::Local: return "local";
    case ptx::Space::Param: return "param";
    default: return "generic";
  }
}

void fault_addr(const LInstr& in, WarpState& w, int lane, LaunchStatus st, ptx::Space space, uint64_t addr,
                uint32_t bytes, bool write, const char* extra = "") {
  w.fault(st, fmt::format("{} {} {} of {} bytes at address 0x{:x}{} at {}",
                          st == LaunchStatus::MisalignedAddress ? "misaligned" : "illegal", space_name(space),
                          write ? "write" : "read", bytes, addr, extra, describe_site(in, w, lane)));
}

// A lane's pointer in a block-, thread- or launch-private space, or nullptr.
inline uint8_t* private_ptr(WarpState& w, int lane, ptx::Space space, uint64_t off, uint32_t bytes, bool write) {
  BlockContext& b = *w.block;
  switch (space) {
    case ptx::Space::Shared:
      if (off > b.shared_bytes || bytes > b.shared_bytes - off) return nullptr;
      return b.shared + off;
    case ptx::Space::Local:
      if (off > w.local_stride || bytes > w.local_stride - off) return nullptr;
      return w.local + static_cast<size_t>(lane) * w.local_stride + off;
    case ptx::Space::Param:
      if (write || off > b.launch->param_bytes || bytes > b.launch->param_bytes - off) return nullptr;
      return const_cast<uint8_t*>(b.launch->params) + off;
    default:
      return nullptr;
  }
}

// A newly confirmed span grows by probing beyond each end in steps of
// 256 B, 4 KiB, 64 KiB and 1 MiB, stopping at the first refusal (a larger
// probe contains the smaller one, so it would be refused too). Warps
// streaming through an array then ask GlobalMemory about once per MiB
// instead of once per access; a small allocation costs one refused probe
// per end.
constexpr uint64_t kMinGrow = 256, kMaxGrow = uint64_t{1} << 20;

uint64_t grow_up(const GlobalMemory& m, uint64_t end) {
  uint64_t best = end;
  for (uint64_t g = kMinGrow; g <= kMaxGrow; g <<= 4) {
    if (end + g < end || end + g > kWindowBase || !m.accessible(end, g)) break;
    best = end + g;
  }
  return best;
}

uint64_t grow_down(const GlobalMemory& m, uint64_t lo) {
  uint64_t best = lo;
  for (uint64_t g = kMinGrow; g <= kMaxGrow; g <<= 4) {
    if (lo < g || !m.accessible(lo - g, g)) break;
    best = lo - g;
  }
  return best;
}

}  // namespace

bool global_span_check(BlockContext& b, uint64_t lo, uint64_t end) {
  const GlobalMemory& m = *b.launch->memory;
  if (!m.accessible(lo, end - lo)) return false;
  GlobalSpans& c = *b.spans;
  int i = 0;
  while (i < GlobalSpans::kEntries && (c.lo[i] == c.end[i] || lo > c.end[i] || end < c.lo[i])) ++i;
  bool up = true, down = true;
  if (i < GlobalSpans::kEntries) {  // overlapping or adjacent: keep the union, grow where it grew
    up = end > c.end[i];
    down = lo < c.lo[i];
    c.lo[i] = std::min(c.lo[i], lo);
    c.end[i] = std::max(c.end[i], end);
  } else {
    i = c.next;
    c.next = (c.next + 1) % GlobalSpans::kEntries;
    c.lo[i] = lo;
    c.end[i] = end;
  }
  if (up) c.end[i] = grow_up(m, c.end[i]);
  if (down) c.lo[i] = grow_down(m, c.lo[i]);
  for (int j = 0; j < GlobalSpans::kEntries; ++j) {  // absorb entries the grown span now meets
    if (j == i || c.lo[j] == c.end[j] || c.lo[j] > c.end[i] || c.end[j] < c.lo[i]) continue;
    c.lo[i] = std::min(c.lo[i], c.lo[j]);
    c.end[i] = std::max(c.end[i], c.end[j]);
    c.lo[j] = c.end[j] = 0;
  }
  return true;
}

// An address in the .shared state space (not a generic one) is 32 bits wide, as in the hardware's
// shared-memory instructions: base + offset wraps modulo 2^32. cuSOLVER's steqr kernels walk a
// 32-bit pointer down past the window's start (0 - 4) and then store at [r + 4], which is offset 0.
inline uint64_t explicit_offset(ptx::Space space, uint64_t addr) {
  return space == ptx::Space::Shared ? static_cast<uint32_t>(addr) : addr;
}

uint8_t* resolve_one(const LInstr& in, WarpState& w, int lane, ptx::Space space, uint64_t addr, uint32_t bytes,
                     bool write, bool quiet) {
  ptx::Space s = space;
  uint64_t off = explicit_offset(space, addr);
  if (s == ptx::Space::Generic) {
    s = generic_space(addr);
    if (s != ptx::Space::Global) off = addr & 0x0000ffffffffffffull;
  }
  if (s == ptx::Space::Const) s = ptx::Space::Global;
  uint8_t* p = nullptr;
  if (s == ptx::Space::Global) {
    if (addr + bytes > addr && global_span_ok(*w.block, addr, addr + bytes))
      p = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(addr));
  } else {
    p = private_ptr(w, lane, s, off, bytes, write);
  }
  if (!p && !quiet) fault_addr(in, w, lane, LaunchStatus::IllegalAddress, space, addr, bytes, write);
  return p;
}

bool resolve_lanes(const LInstr& in, WarpState& w, LaneMask act, ptx::Space space, const uint64_t* addr,
                   uint32_t bytes, uint32_t align, bool write, uint8_t** ptrs) {
  uint64_t misalign = 0;
  for (int l = 0; l < kWarpSize; ++l) misalign |= (act >> l & 1) ? (addr[l] & (align - 1)) : 0;
  if (misalign) {
    for (int l = 0; l < kWarpSize; ++l)
      if ((act >> l & 1) && (addr[l] & (align - 1))) {
        fault_addr(in, w, l, LaunchStatus::MisalignedAddress, space, addr[l], bytes, write);
        return false;
      }
  }
  ptx::Space s = space == ptx::Space::Const ? ptx::Space::Global : space;
  if (s == ptx::Space::Generic) {
    bool all_global = true;
    for (int l = 0; l < kWarpSize; ++l) all_global &= !(act >> l & 1) || addr[l] < kWindowBase;
    if (all_global) s = ptx::Space::Global;
  }
  if (s == ptx::Space::Global) {
    uint64_t lo = ~0ull, hi = 0;
    for (int l = 0; l < kWarpSize; ++l) {
      if (!(act >> l & 1)) continue;
      lo = std::min(lo, addr[l]);
      hi = std::max(hi, addr[l]);
    }
    bool ok = hi + bytes > hi && global_span_ok(*w.block, lo, hi + bytes);
    if (!ok) {
      for (int l = 0; l < kWarpSize; ++l)
        if ((act >> l & 1) && !resolve_one(in, w, l, space, addr[l], bytes, write, false)) return false;
    }
    for (int l = 0; l < kWarpSize; ++l) ptrs[l] = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(addr[l]));
    return true;
  }
  if (s == ptx::Space::Generic) {
    for (int l = 0; l < kWarpSize; ++l) {
      if (!(act >> l & 1)) continue;
      ptrs[l] = resolve_one(in, w, l, space, addr[l], bytes, write, false);
      if (!ptrs[l]) return false;
    }
    return true;
  }
  for (int l = 0; l < kWarpSize; ++l) {
    if (!(act >> l & 1)) continue;
    ptrs[l] = private_ptr(w, l, s, explicit_offset(s, addr[l]), bytes, write);
    if (!ptrs[l]) {
      fault_addr(in, w, l, LaunchStatus::IllegalAddress, space, addr[l], bytes, write,
                 s == ptx::Space::Shared   ? fmt::format(" (block has {} bytes of shared memory)",
                                                         w.block->shared_bytes).c_str()
                 : s == ptx::Space::Local ? " (outside the thread's local memory)"
                                          : "");
      return false;
    }
  }
  return true;
}

}  // namespace gpool::emu::exec
