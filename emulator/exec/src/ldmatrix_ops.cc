// ldmatrix / stmatrix (.m8n8, .x1/.x2/.x4, optional .trans, .b16): move
// 8x8 matrices of 16-bit elements between shared memory and the per-lane
// fragment layout of mma.sync (PTX ISA "Warp-level matrix load instruction:
// ldmatrix"). Lanes 8j..8j+7 give the addresses of the eight 16-byte rows of
// matrix j; lane l then holds row l/4, elements 2(l%4) and 2(l%4)+1 of each
// matrix in one 32-bit register (with .trans: column l/4, rows 2(l%4) and
// 2(l%4)+1).
//
// Operand layouts (LInstr): ldmatrix: d[0..num) registers, s[0] = row
// address, offset; stmatrix: s[0] = row address, s[1..num] registers;
// aux = state space, aux2 = 1 for .trans. The whole warp must execute them.
//
// Owner: the tensor family. Thread safety: handlers touch only their warp.
#include "block.h"
#include "lower_context.h"
#include "mem_access.h"

#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

bool converged(const LInstr& in, WarpState& w, LaneMask active) {
  if (active == kFullMask) return true;
  w.fault(LaunchStatus::IllegalInstruction,
          fmt::format("'{}' needs all 32 lanes of the warp converged (active lanes {:#010x}): {}", in.opname,
                      active, describe_site(in, w, std::countr_zero(active))));
  return false;
}

// Element (r, c) of matrix j as lane l's register sees it.
inline void lane_elems(int l, bool trans, uint32_t* r0, uint32_t* c0, uint32_t* r1, uint32_t* c1) {
  const uint32_t a = static_cast<uint32_t>(l) / 4, b = (static_cast<uint32_t>(l) % 4) * 2;
  if (!trans) *r0 = a, *c0 = b, *r1 = a, *c1 = b + 1;
  else *r0 = b, *c0 = a, *r1 = b + 1, *c1 = a;
}

template <bool kStore>
void h_matrix(const LInstr& in, WarpState& w, LaneMask active) {
  if (!converged(in, w, active)) return;
  const uint32_t num = kStore ? in.ns - 1u : in.nd;
  const bool trans = in.aux2 != 0;
  const LaneMask rows = num == 4 ? kFullMask : (LaneMask{1} << (8 * num)) - 1;
  uint64_t addr[kWarpSize];
  uint8_t* ptrs[kWarpSize];
  lane_addresses(in, w, active, addr);
  if (!resolve_lanes(in, w, rows, static_cast<ptx::Space>(in.aux), addr, 16, 16, kStore, ptrs)) return;
  uint16_t m[4][8][8];
  if constexpr (!kStore) {
    for (uint32_t j = 0; j < num; ++j)
      for (uint32_t r = 0; r < 8; ++r) std::memcpy(m[j][r], ptrs[j * 8 + r], 16);
    for (uint32_t j = 0; j < num; ++j) {
      uint64_t* d = w.reg(in.d[j].index);
      for (int l = 0; l < kWarpSize; ++l) {
        uint32_t r0, c0, r1, c1;
        lane_elems(l, trans, &r0, &c0, &r1, &c1);
        d[l] = uint64_t{m[j][r0][c0]} | (uint64_t{m[j][r1][c1]} << 16);
      }
    }
  } else {
    for (uint32_t j = 0; j < num; ++j)
      for (int l = 0; l < kWarpSize; ++l) {
        const uint64_t v = w.get(in.s[1 + j], l);
        uint32_t r0, c0, r1, c1;
        lane_elems(l, trans, &r0, &c0, &r1, &c1);
        m[j][r0][c0] = static_cast<uint16_t>(v);
        m[j][r1][c1] = static_cast<uint16_t>(v >> 16);
      }
    for (uint32_t j = 0; j < num; ++j)
      for (uint32_t r = 0; r < 8; ++r) std::memcpy(ptrs[j * 8 + r], m[j][r], 16);
  }
}

bool lower_matrix(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, bool store) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string name = full_opcode(in);
  ptx::Space space = ptx::Space::Generic;
  uint32_t num = 0;
  bool sync = false, aligned = false, shape = false, type = false, trans = false;
  for (const auto& m : in.modifiers) {
    if (m == "sync") sync = true;
    else if (m == "aligned") aligned = true;
    else if (m == "m8n8") shape = true;
    else if (m == "x1") num = 1;
    else if (m == "x2") num = 2;
    else if (m == "x4") num = 4;
    else if (m == "trans") trans = true;
    else if (m == "shared" || m == "shared::cta") space = ptx::Space::Shared;
    else if (m == "b16") type = true;
    else return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", name, m));
  }
  if (!sync || !aligned || !shape || !type || !num)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (only .sync.aligned.m8n8.x1/.x2/.x4 .b16)", name));
  if (in.operands.size() != 2) return ctx.fail(in, fmt::format("operand count of '{}'", name));
  const ptx::Operand& regs = store ? in.operands[1] : in.operands[0];
  const ptx::Operand& addr = store ? in.operands[0] : in.operands[1];
  std::vector<const ptx::Operand*> elems;
  if (regs.kind == ptx::Operand::Kind::Vector) {
    for (const auto& e : regs.elems) elems.push_back(&e);
  } else {
    elems.push_back(&regs);
  }
  if (elems.size() != num)
    return ctx.fail(in, fmt::format("'{}' takes {} register(s), {} given", name, num, elems.size()));
  MemRef mr;
  if (!c.address(addr, space, &out.s[0], &mr))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", name));
  for (uint32_t j = 0; j < num; ++j) {
    const bool ok = store ? c.src(*elems[j], ptx::Type::B32, &out.s[1 + j]) : c.dst_reg(*elems[j], ptx::Type::B32, &out.d[j]);
    if (!ok) return ctx.fail(in, fmt::format("register operand of '{}'", name));
  }
  out.nd = static_cast<uint8_t>(store ? 0 : num);
  out.ns = static_cast<uint8_t>(store ? 1 + num : 1);
  out.offset = mr.offset;
  out.aux = static_cast<uint32_t>(mr.space);
  out.aux2 = trans ? 1 : 0;
  out.fn = store ? h_matrix<true> : h_matrix<false>;
  return true;
}

bool lower_ldmatrix(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_matrix(in, ctx, out, false);
}
bool lower_stmatrix(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_matrix(in, ctx, out, true);
}

}  // namespace

void register_ldmatrix_ops(OpTable& t) {
  t.add("ldmatrix", lower_ldmatrix);
  t.add("stmatrix", lower_stmatrix);
}

}  // namespace gpool::emu::exec
