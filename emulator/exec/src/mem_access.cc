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

}  // namespace

bool global_span_check(BlockContext& b, uint64_t lo, uint64_t end) {
  if (!b.launch->memory->accessible(lo, end - lo)) return false;
  GlobalSpans& c = *b.spans;
  for (int i = 0; i < GlobalSpans::kEntries; ++i) {
    if (c.lo[i] == c.end[i] || lo > c.end[i] || end < c.lo[i]) continue;
    c.lo[i] = std::min(c.lo[i], lo);  // overlapping or adjacent: keep the union
    c.end[i] = std::max(c.end[i], end);
    return true;
  }
  c.lo[c.next] = lo;
  c.end[c.next] = end;
  c.next = (c.next + 1) % GlobalSpans::kEntries;
  return true;
}

uint8_t* resolve_one(const LInstr& in, WarpState& w, int lane, ptx::Space space, uint64_t addr, uint32_t bytes,
                     bool write, bool quiet) {
  ptx::Space s = space;
  uint64_t off = addr;
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
    ptrs[l] = private_ptr(w, l, s, addr[l], bytes, write);
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
