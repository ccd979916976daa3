// cudaGraphSetConditional(handle, value) from device code, and the table of
// conditional handle cells it writes (include/gpool/emu/exec/graph_cond.h).
//
// nvcc emits the call as an extern function of the device runtime,
//   call.uni cudaGraphSetConditional, (param0 /* .b64 handle */, param1 /* .b32 value */);
// in PTX of every target (with or without -rdc), so it is lowered here as a
// builtin: h_graph_set_conditional with s[0], s[1] = Imm local offsets of the
// two arguments. Every active lane stores its value in lane order (concurrent
// calls are undefined behaviour in CUDA; here the highest lane wins). A handle
// that names no cell faults the launch (CUDA_ERROR_LAUNCH_FAILED) and names it.
#include "gpool/emu/exec/graph_cond.h"

#include "block.h"
#include "lower_context.h"
#include "ops.h"

#include <bit>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <unordered_map>

namespace gpool::emu::exec {
namespace {

struct CellTable {
  std::mutex mu;
  std::unordered_map<uint64_t, uint32_t> cells;
  uint64_t next = 0x0c0d000000000001ull;  // recognisable in logs, never 0
};

CellTable& table() {
  static CellTable* t = new CellTable();  // leaked: usable during exit
  return *t;
}

template <class T>
T arg_at(const WarpState& w, int lane, uint64_t off) {
  T v{};
  if (off + sizeof(T) <= w.local_stride) std::memcpy(&v, w.local + static_cast<size_t>(lane) * w.local_stride + off, sizeof(T));
  return v;
}

void h_graph_set_conditional(const LInstr& in, WarpState& w, LaneMask act) {
  for (LaneMask m = act; m; m &= m - 1) {
    const int l = std::countr_zero(m);
    const uint64_t h = arg_at<uint64_t>(w, l, in.s[0].imm);
    const uint32_t v = arg_at<uint32_t>(w, l, in.s[1].imm);
    if (cond_cell_set(h, v)) continue;
    w.fault(LaunchStatus::Trap,
            fmt::format("cudaGraphSetConditional({:#x}, {}) with a handle that cuGraphConditionalHandleCreate did not "
                        "return (or whose graph is gone) at {}",
                        h, v, describe_site(in, w, l)));
    return;
  }
}

}  // namespace

uint64_t cond_cell_create(uint32_t value) {
  CellTable& t = table();
  std::lock_guard lock(t.mu);
  const uint64_t h = t.next++;
  t.cells[h] = value;
  return h;
}

void cond_cell_destroy(uint64_t handle) {
  CellTable& t = table();
  std::lock_guard lock(t.mu);
  t.cells.erase(handle);
}

bool cond_cell_set(uint64_t handle, uint32_t value) {
  CellTable& t = table();
  std::lock_guard lock(t.mu);
  auto it = t.cells.find(handle);
  if (it == t.cells.end()) return false;
  it->second = value;
  return true;
}

bool cond_cell_get(uint64_t handle, uint32_t* value) {
  CellTable& t = table();
  std::lock_guard lock(t.mu);
  auto it = t.cells.find(handle);
  if (it == t.cells.end()) return false;
  *value = it->second;
  return true;
}

bool LowerCtx::lower_graph_set_conditional(const ptx::Instruction& in, Scope& scope) {
  const auto& rets = in.operands[0];
  const auto& args = in.operands[2];
  if (args.elems.size() != 2 || !rets.elems.empty())
    return fail(in, fmt::format("call to 'cudaGraphSetConditional' with {} arguments", args.elems.size()));
  LInstr li;
  li.line = static_cast<uint32_t>(in.line);
  li.opname = prog_.intern("cudaGraphSetConditional");
  li.fn = h_graph_set_conditional;
  ptx::VarDecl pdecl;
  for (size_t i = 0; i < 2; ++i) {
    pdecl.type = i == 0 ? ptx::Type::B64 : ptx::Type::B32;
    uint64_t off;
    ptx::Type t;
    if (!arg_to_local(in, args.elems[i], &pdecl, scope, &off, &t)) return false;
    li.s[i].kind = LOperand::Kind::Imm;
    li.s[i].imm = off;
  }
  li.ns = 2;
  if (uint32_t guard; !call_guard_pred(in, &guard)) {
    return false;
  } else if (guard != UINT32_MAX) {
    li.guard = static_cast<int32_t>(guard);
    li.guard_neg = in.guard_negated;
  }
  emit(li);
  return true;
}

}  // namespace gpool::emu::exec
