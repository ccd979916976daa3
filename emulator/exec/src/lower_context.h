// The concrete lowering context: register allocation, variable layout,
// symbol resolution and call inlining for one kernel (lower.cc,
// lower_operands.cc). Core lowerers downcast LowerContext to LowerCtx to
// resolve memory operands and branch targets; other families only use the
// LowerContext interface.
//
// Thread safety: one LowerCtx per kernel being built, used by one thread.
#pragma once

#include "engine.h"
#include "lowered.h"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace gpool::emu::exec {

// Size of the reserved shared-memory region a kernel gets when it reads %reserved_smem_offset_*
// (as CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK reports on 8.0+ GPUs).
inline constexpr uint64_t kReservedSmemBytes = 1024;

// Where a named variable lives once laid out.
struct VarBinding {
  enum class Where : uint8_t { Global, Shared, DynShared, Local, KernelParam, Function };
  Where where = Where::Global;
  uint64_t offset = 0;   // Shared/Local/KernelParam: byte offset; Function: index
  uint32_t global = 0;   // Global: index into ProgramImpl::globals_
  uint64_t size = 0;
};

// A resolved memory operand's space and constant offset. space is one of
// Global (also .const), Shared, Local, Param (the kernel parameter buffer)
// or Generic.
struct MemRef {
  ptx::Space space = ptx::Space::Generic;
  int64_t offset = 0;
};

struct RegEntry {
  bool is_pred = false;
  ptx::Type type = ptx::Type::None;
  uint32_t index = 0;
};
struct RegDecl {
  bool is_pred = false;
  ptx::Type type = ptx::Type::None;
  uint32_t count = 0;  // 0: a single name
};

// One inlined instance of a function body.
struct Scope {
  const ptx::Function* fn = nullptr;
  Scope* parent = nullptr;  // the caller (for recursion checks)
  std::unordered_map<std::string, RegEntry> regs;
  std::unordered_map<std::string, RegDecl> reg_decls;
  std::unordered_map<std::string, VarBinding> vars;
  std::unordered_map<std::string, uint32_t> labels;
  std::vector<std::pair<uint32_t, std::string>> fixups;  // (instr, label); "" = end of instance
  int32_t frame = -1;  // the body of a real-call function: its LoweredKernel::frames index
};

class LowerCtx final : public LowerContext {
 public:
  LowerCtx(ProgramImpl& prog, const ptx::Module& module, const OpTable& table, uint32_t kernel_index,
           LoweredKernel& k, std::string* error);

  bool src(const ptx::Operand& op, ptx::Type t, LOperand* out) override;
  bool dst(const ptx::Operand& op, ptx::Type t, LOperand* out) override;
  bool pred(const ptx::Operand& op, LOperand* out) override;
  bool fail(const ptx::Instruction& in, std::string message) override;
  uint32_t add_operands(const std::vector<LOperand>& ops) override;

  // ---- core-only services
  // Records `op` (a Label) as the branch target of the instruction being lowered.
  bool label(const ptx::Operand& op);
  // Records that the instruction being lowered ends the current function
  // instance (ret inside an inlined device function).
  void target_instance_end();
  bool in_kernel_body() const { return scope_ && scope_->parent == nullptr && scope_->frame < 0; }
  // The CallFrame index when lowering the body of a real-call function, else -1.
  int32_t real_frame() const { return scope_ ? scope_->frame : -1; }
  // The module needs real calls (recursion or indirect calls): set up the
  // call stack. Call before lower_kernel.
  void enable_real_calls() { real_calls_ = true; }
  // Module function `index` may be called indirectly: give it an entry.
  void address_taken(uint32_t index) {
    if (real_calls_ && !module_.functions[index].is_entry) queue_function(index);
  }
  // Resolves [reg+off], [sym+off], [imm] for an access in `space` (as
  // written). `base` must point into the LInstr being lowered (global
  // addresses are patched in place by bind_global).
  bool address(const ptx::Operand& op, ptx::Space space, LOperand* base, MemRef* out);
  // Value of a symbol used as an operand (the address of a variable, in the
  // variable's own state space).
  bool symbol_value(const ptx::Operand& op, LOperand* out, bool generic);
  // Destination register, with a Sink mapped to the discard slot 0.
  bool dst_reg(const ptx::Operand& op, ptx::Type t, LOperand* out);
  uint32_t new_slot() { return k_.num_slots++; }
  // Declared size in bytes of register operand `op` (0: not a declared register).
  uint32_t reg_bytes(const ptx::Operand& op);

  // Lowers the whole kernel. False (with *error set) on failure.
  bool lower_kernel(const ptx::Function& f, KernelInfo* info);

 private:
  bool lower_instance(const ptx::Function& f, Scope& scope);
  bool declare(const ptx::VarDecl& d, Scope& scope);
  bool lower_instr(const ptx::Instruction& in, Scope& scope);
  bool lower_call(const ptx::Instruction& in, Scope& scope);
  bool lower_builtin(const ptx::Instruction& in, const std::string& name, Scope& scope);
  // cudaGraphSetConditional(handle, value) (graph_cond_ops.cc).
  bool lower_graph_set_conditional(const ptx::Instruction& in, Scope& scope);
  // A call through the call stack: to `fn`, or through the function pointer
  // in the callee register when fn is null.
  bool lower_real_call(const ptx::Instruction& in, Scope& scope, const ptx::Function* fn);
  // A guarded call is skipped by the lanes whose guard fails: emits the branch over the call
  // (patched by the caller once the call's end is known) and sets *skip_index to its index,
  // UINT32_MAX without a guard. False (failed) when the guard is not a predicate.
  bool emit_call_guard(const ptx::Instruction& in, uint32_t* skip_index);
  // The predicate register of a call's guard (`@p call ...`), for a builtin lowered as one
  // guarded instruction; *index UINT32_MAX without a guard. False (failed) when it is not a predicate.
  bool call_guard_pred(const ptx::Instruction& in, uint32_t* index);
  bool lower_real_function(uint32_t index);
  void queue_function(uint32_t index);
  void emit_local_copy(uint32_t line, uint64_t from, uint64_t to, uint64_t bytes);
  // Local offset holding argument `arg` (a param symbol is aliased, a value
  // is stored into a fresh local slot by an emitted st.local).
  bool arg_to_local(const ptx::Instruction& in, const ptx::Operand& arg, const ptx::VarDecl* decl,
                    Scope& scope, uint64_t* offset, ptx::Type* type);
  uint64_t alloc_local(uint64_t size, uint32_t align);
  uint64_t alloc_shared(uint64_t size, uint32_t align);
  // The value of %reserved_smem_offset_{begin,end,cap,0,1}: offsets into the block's reserved
  // shared-memory region, which the first use places after the kernel's static shared
  // variables (kReservedSmemBytes). False for any other name.
  bool reserved_smem(const std::string& name, uint64_t* value);
  const VarBinding* find_var(const std::string& name) const;
  bool reg(const ptx::Operand& op, RegEntry* out);
  void patch_here(const LOperand* op, uint32_t global, int64_t addend);
  void emit(LInstr li);

  ProgramImpl& prog_;
  const ptx::Module& module_;
  const OpTable& table_;
  uint32_t kernel_index_;
  LoweredKernel& k_;
  std::string* error_;
  Scope* scope_ = nullptr;
  LInstr* cur_ = nullptr;  // the instruction being lowered (becomes k_.code[cur_index_])
  uint32_t cur_index_ = 0;
  bool cur_target_end_ = false;
  std::string cur_label_;
  bool cur_has_label_ = false;
  std::unordered_map<std::string, VarBinding> module_vars_;
  std::unordered_map<Sreg, uint32_t> sreg_slots_;
  std::vector<std::pair<uint32_t, uint32_t>> dyn_patches_;  // (instr, byte offset) + dyn shared offset
  std::unordered_set<uint32_t> globals_used_;
  uint64_t local_top_ = 0;
  uint64_t shared_top_ = 0;
  uint64_t reserved_smem_ = UINT64_MAX;  // offset of the reserved region, once used
  bool uses_heap_ = false;  // calls malloc or free, or launches kernels (parameter buffers)
  bool uses_device_launch_ = false;  // calls the CDP2 launch or stream/event functions
  bool real_calls_ = false;
  std::unordered_map<uint32_t, uint32_t> fn_entries_;           // module function -> entry pc
  std::vector<uint32_t> fn_queue_;                               // waiting to be lowered
  std::vector<std::pair<uint32_t, uint32_t>> call_fixups_;      // (h_call instr, module function)
};

// True when `module` has recursive or indirect device-function calls, which
// need the call stack (lower.cc).
bool needs_real_calls(const ptx::Module& module);

// Converts an immediate operand to the raw bits of type `t`. False when the
// literal cannot be used as that type.
bool imm_bits(const ptx::Operand& op, ptx::Type t, uint64_t* out);
bool is_float_type(ptx::Type t);
bool is_signed_type(ptx::Type t);
// The last type modifier of `in` (None when it has none) and the first one.
ptx::Type last_type(const ptx::Instruction& in);
ptx::Type first_type(const ptx::Instruction& in);
bool has_mod(const ptx::Instruction& in, const char* m);
// "ld.global.v4.f32" for error messages.
std::string full_opcode(const ptx::Instruction& in);

}  // namespace gpool::emu::exec
