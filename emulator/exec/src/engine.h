// Internal to the executor: the lowered instruction form, the warp state the
// handlers operate on, and the table that maps PTX opcodes to lowerers.
//
// Shared by the core (control flow, memory, integer ops, launch: core_*.cc,
// mem_*.cc, int_ops.cc, ...) and the floating-point and warp-level op files
// (float_ops.cc, cvt_ops.cc, warp_ops.cc). Changes here should be additive;
// whoever changes a field updates every user in the same commit.
//
// Execution model: a warp executes one lowered instruction for all its active
// lanes at once (SIMT, lock step). Registers are stored lane-major per slot:
// regs[slot * 32 + lane], each a 64-bit cell holding the value's raw bits
// zero-extended (f32 bits in the low 32 bits, f16 in the low 16). Predicates
// are 32-bit lane masks. Divergence is handled by the core's min-PC scheduler;
// handlers only ever see the active mask.
//
// Thread safety: a WarpState is touched by exactly one interpreter thread at a
// time. Handlers must not keep state outside the warp/block they are given.
#pragma once

#include "gpool/emu/exec/program.h"
#include "gpool/emu/ptx/ast.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gpool::emu::exec {

constexpr int kWarpSize = 32;
using LaneMask = uint32_t;
constexpr LaneMask kFullMask = 0xffffffffu;

struct WarpState;
struct LInstr;

// A handler executes one lowered instruction for the lanes in `active`.
using Handler = void (*)(const LInstr& in, WarpState& w, LaneMask active);

struct LOperand {
  enum class Kind : uint8_t { None, Reg, Imm, Pred };
  Kind kind = Kind::None;
  bool negate = false;  // Pred: use the complement
  uint32_t index = 0;   // Reg: register slot; Pred: predicate index
  uint64_t imm = 0;     // Imm: raw bits, already converted to the operand's type
};

struct LInstr {
  Handler fn = nullptr;
  int32_t guard = -1;        // predicate index, -1 = unguarded
  bool guard_neg = false;
  uint8_t nd = 0, ns = 0;    // operand counts
  LOperand d[4];             // destinations (vector ld: up to 4)
  LOperand s[5];             // sources
  ptx::Type type = ptx::Type::None;   // primary type (dst type for cvt)
  ptx::Type type2 = ptx::Type::None;  // secondary type (src type for cvt/setp-with-two-types)
  uint32_t aux = 0;          // handler-specific: comparison op, rounding mode, state space, ...
  uint32_t aux2 = 0;         // handler-specific
  int64_t offset = 0;        // address offset of memory operands
  uint32_t target = 0;       // branch target (instruction index)
  uint32_t line = 0;         // PTX source line, for error messages
  const char* opname = "";   // full opcode text for error messages (owned by the program)
};

// What the block and launch provide to a warp (filled in by the core).
struct BlockContext;

struct WarpState {
  uint64_t* regs = nullptr;   // [num_slots * 32]
  LaneMask* preds = nullptr;  // [num_preds]
  uint32_t warp_id = 0;       // within the block
  LaneMask valid = 0;         // lanes that exist (partial last warp)
  BlockContext* block = nullptr;

  uint64_t* reg(uint32_t slot) { return regs + static_cast<size_t>(slot) * kWarpSize; }
  const uint64_t* reg(uint32_t slot) const { return regs + static_cast<size_t>(slot) * kWarpSize; }

  // Value of a source operand for one lane (register or immediate).
  uint64_t get(const LOperand& o, int lane) const {
    return o.kind == LOperand::Kind::Imm ? o.imm : regs[static_cast<size_t>(o.index) * kWarpSize + lane];
  }
  LaneMask pred(const LOperand& o) const { return o.negate ? ~preds[o.index] : preds[o.index]; }
  // Records a fault for this warp; the core stops the launch and reports it.
  // `message` should say what and where (see core's describe_site()); the
  // core adds the kernel name.
  void fault(LaunchStatus status, std::string message);

  // ---- Core scheduler state (scheduler.cc, ops_control.cc). Other families
  // read `active` through their handler argument and must not write these.
  // Parking places besides the block barriers 0..15 (Group::barrier values).
  static constexpr int32_t kDeferred = 1000;  // set aside so other lanes of the warp can run
  static constexpr int32_t kWarpSync = 1001;  // waiting at bar.warp.sync for Group::sync_mask
  // Taken backward branches a warp runs before it yields (see yield_warp in block.h).
  static constexpr uint32_t kSpinBudget = 1024;
  // Yields in a row of one diverged lane group before it is set aside.
  static constexpr uint32_t kDeferAfterYields = 4;
  struct Group {
    uint32_t pc = 0;
    LaneMask mask = 0;
    LaneMask sync_mask = 0;  // kWarpSync: the lanes bar.warp.sync waits for
    int32_t barrier = -1;  // >= 0: parked at this barrier id (or kDeferred, kWarpSync) until released
    int32_t red_slot = -1; // bar.red destination register slot (-1 none)
    uint8_t red_kind = 0;  // 0 none, 1 popc, 2 and, 3 or
  };
  uint32_t pc = 0;            // index of the next instruction of the current group
  uint32_t break_pc = 0;      // the run loop calls the scheduler when pc >= break_pc
  LaneMask active = 0;        // lanes of the current group
  LaneMask exited = 0;        // lanes that ran exit/ret
  LaneMask carry = 0;         // per-lane condition code carry (add.cc, addc, ...)
  bool stop = false;          // leave the run loop (fault, barrier, warp done)
  bool done = false;          // every lane exited
  bool yielded = false;       // left the run loop to let other warps run (the block resumes it)
  uint32_t spin_budget = kSpinBudget;  // taken backward branches left before the next yield
  uint32_t spin_yields = 0;   // yields in a row of the group spin_mask (see yield_warp)
  LaneMask spin_mask = 0;
  int npending = 0;           // groups waiting to run, besides the current one
  Group pending[kWarpSize];
  uint8_t* local = nullptr;   // this warp's lanes' .local memory: lane l at local + l * local_stride
  uint32_t local_stride = 0;  // bytes of .local per thread
  uint8_t* stack = nullptr;   // real calls' stacks: lane l at stack + l * stack_stride
  uint32_t stack_stride = 0;  // bytes of call stack per thread
  uint64_t thread_instructions = 0;  // active lanes summed over executed instructions
};

// Resolution services the lowering pass offers to lowerers.
class LowerContext {
 public:
  virtual ~LowerContext() = default;
  // Source operand of type `t`: a register (slot) or an immediate converted to t's bits.
  virtual bool src(const ptx::Operand& op, ptx::Type t, LOperand* out) = 0;
  // Destination register of type `t` (a Sink "_" yields Kind::None).
  virtual bool dst(const ptx::Operand& op, ptx::Type t, LOperand* out) = 0;
  // Predicate operand (register or negated register).
  virtual bool pred(const ptx::Operand& op, LOperand* out) = 0;
  // Records an error: "unsupported <what> in <function> at line N".
  virtual bool fail(const ptx::Instruction& in, std::string message) = 0;
  // Stores operands that do not fit LInstr's d[]/s[] (warp-wide matrix ops
  // name up to 32 registers) in the kernel's operand pool and returns the
  // index of the first; a handler reads them as
  // w.block->launch->k->operand_pool[index + i] (block.h, lowered.h).
  // UINT32_MAX when this context has no pool (the lowerer must then fail).
  virtual uint32_t add_operands(const std::vector<LOperand>& ops) {
    (void)ops;
    return UINT32_MAX;
  }
};

// Lowers one PTX instruction into `out` (fn and operands). Returns false after
// calling ctx.fail() when the instruction or a modifier is not supported.
using Lowerer = bool (*)(const ptx::Instruction& in, LowerContext& ctx, LInstr& out);

// Opcode -> lowerer. Filled once per Program::build by the register_* functions.
class OpTable {
 public:
  void add(std::string opcode, Lowerer l) { table_[std::move(opcode)] = l; }
  Lowerer find(const std::string& opcode) const {
    auto it = table_.find(opcode);
    return it == table_.end() ? nullptr : it->second;
  }
  std::vector<std::string> opcodes() const {
    std::vector<std::string> v;
    for (auto& [k, _] : table_) v.push_back(k);
    for (auto& [k, _] : float_table_)
      if (!table_.count(k)) v.push_back(k);
    return v;
  }

  // Float-typed forms of opcodes the integer and float families share (add,
  // sub, mul, div, mad, fma, min, max, abs, neg): the float family registers
  // them here so registration order does not matter. The lowering pass looks
  // instructions up with find(const ptx::Instruction&), which picks the float
  // lowerer when the instruction's last type modifier is f16, f16x2, bf16,
  // bf16x2, f32 or f64 and one is registered, else the plain one.
  void add_float(std::string opcode, Lowerer l) { float_table_[std::move(opcode)] = l; }
  Lowerer find(const ptx::Instruction& in) const {
    if (!float_table_.empty()) {
      auto it = float_table_.find(in.opcode);
      if (it != float_table_.end() && is_float_typed(in)) return it->second;
    }
    if (Lowerer l = find(in.opcode)) return l;
    auto it = float_table_.find(in.opcode);  // float-only opcode used with a non-float type
    return it == float_table_.end() ? nullptr : it->second;
  }
  static bool is_float_typed(const ptx::Instruction& in) {
    for (auto m = in.modifiers.rbegin(); m != in.modifiers.rend(); ++m) {
      auto t = ptx::type_from_name(*m);
      if (!t) continue;
      switch (*t) {
        case ptx::Type::F16: case ptx::Type::F16x2: case ptx::Type::BF16:
        case ptx::Type::BF16x2: case ptx::Type::F32: case ptx::Type::F64:
          return true;
        default:
          return false;
      }
    }
    return false;
  }

 private:
  std::map<std::string, Lowerer> table_;
  std::map<std::string, Lowerer> float_table_;
};

// Each op family registers its opcodes. Core: control flow, memory, integer,
// bitwise, special registers, barriers, atomics. Float: f16/bf16/f32/f64
// arithmetic, approximate functions, setp/selp on floats, cvt, testp.
// Warp: shfl, vote, match, activemask, redux.
void register_core_ops(OpTable& t);
void register_float_ops(OpTable& t);
void register_cvt_ops(OpTable& t);
void register_warp_ops(OpTable& t);
// Tensor-core and async-copy families (tensor_ops.cc, ldmatrix_ops.cc,
// async_ops.cc): wmma, mma, ldmatrix, stmatrix, cp.async, mbarrier,
// griddepcontrol.
void register_tensor_ops(OpTable& t);
void register_ldmatrix_ops(OpTable& t);  // called by register_tensor_ops
void register_async_ops(OpTable& t);
// Texture and surface instructions (tex_ops.cc): tex, tld4, txq, suld, sust, suq.
void register_tex_ops(OpTable& t);

// Comparisons on floating-point types. The core owns the `setp`, `set`,
// `selp` and `slct` lowerers (integer, bit and predicate forms, and selp/slct
// on any type, which are pure bit selects); for `setp` and `set` whose
// comparison type (the last type modifier) is f16/f16x2/bf16/bf16x2/f32/f64
// it forwards the whole instruction to this function, defined by the float
// family in float_ops.cc. Same contract as a Lowerer: fill `out` (fn, d, s,
// guard is set by the core afterwards) or call ctx.fail() and return false.
// The setp destination(s) arrive as LOperand::Kind::Pred via ctx.pred();
// `setp.cmp.bool` combination ops (and/or/xor with a predicate source) are
// the float family's to decode the same way the core does for integers:
// modifiers {cmp, [boolop], type}, operands {d[, d2], a, b[, c]}.
// Defined in float_compare.cc. A strong reference: a weak one let the linker
// leave float_compare.o out of libcuda.so.1 (static archive), and every
// float setp then failed to build.
bool lower_float_compare(const ptx::Instruction& in, LowerContext& ctx, LInstr& out);

}  // namespace gpool::emu::exec
