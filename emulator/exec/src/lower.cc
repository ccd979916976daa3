// Lowering pass: ptx::Module -> ProgramImpl. Walks every kernel, lays out
// its parameters, shared and local memory, inlines device-function calls
// (recursive and indirect ones become real calls, see calls.cc) and converts
// each instruction through the OpTable into an LInstr.
#include "lower_context.h"
#include "ops.h"
#include "reg_demand.h"

#include <algorithm>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

uint32_t natural_align(const ptx::VarDecl& d) {
  if (d.align) return d.align;
  uint32_t a = ptx::type_size(d.type) * d.vector_width;
  return a ? a : 1;
}

uint64_t align_up(uint64_t v, uint64_t a) { return a ? (v + a - 1) / a * a : v; }

}  // namespace

LowerCtx::LowerCtx(ProgramImpl& prog, const ptx::Module& module, const OpTable& table,
                   uint32_t kernel_index, LoweredKernel& k, std::string* error)
    : prog_(prog), module_(module), table_(table), kernel_index_(kernel_index), k_(k), error_(error) {
  k_.num_slots = 1;  // slot 0 discards results written to "_"
  // Module-scope variables: globals were registered by build(); shared and
  // local ones get this kernel's layout.
  for (uint32_t i = 0; i < prog_.globals_.size(); ++i) {
    VarBinding b;
    b.where = VarBinding::Where::Global;
    b.global = i;
    b.size = prog_.globals_[i].size;
    module_vars_[prog_.globals_[i].name] = b;
  }
  for (auto& d : module.globals) {
    if (d.space == ptx::Space::Shared) {
      VarBinding b;
      b.size = d.byte_size();
      if (d.is_extern || b.size == 0) {
        b.where = VarBinding::Where::DynShared;
      } else {
        b.where = VarBinding::Where::Shared;
        b.offset = alloc_shared(b.size, natural_align(d));
      }
      module_vars_[d.name] = b;
    } else if (d.space == ptx::Space::Local) {
      VarBinding b;
      b.where = VarBinding::Where::Local;
      b.size = d.byte_size();
      b.offset = alloc_local(b.size, natural_align(d));
      module_vars_[d.name] = b;
    }
  }
  for (uint32_t i = 0; i < module.functions.size(); ++i) {
    VarBinding b;
    b.where = VarBinding::Where::Function;
    b.offset = i;
    module_vars_.emplace(module.functions[i].name, b);
  }
}

uint64_t LowerCtx::alloc_local(uint64_t size, uint32_t align) {
  local_top_ = align_up(local_top_, std::max<uint32_t>(align, 1));
  uint64_t off = local_top_;
  local_top_ += size;
  return off;
}

uint64_t LowerCtx::alloc_shared(uint64_t size, uint32_t align) {
  shared_top_ = align_up(shared_top_, std::max<uint32_t>(align, 1));
  uint64_t off = shared_top_;
  shared_top_ += size;
  return off;
}

bool LowerCtx::fail(const ptx::Instruction& in, std::string message) {
  if (error_ && error_->empty())
    *error_ = fmt::format("{} in {} at PTX line {}", message, scope_ && scope_->fn ? scope_->fn->name : "?",
                          in.line);
  return false;
}

const VarBinding* LowerCtx::find_var(const std::string& name) const {
  for (const Scope* s = scope_; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
    break;  // function scopes do not see their callers' variables
  }
  auto it = module_vars_.find(name);
  return it == module_vars_.end() ? nullptr : &it->second;
}

uint32_t LowerCtx::add_operands(const std::vector<LOperand>& ops) {
  auto first = static_cast<uint32_t>(k_.operand_pool.size());
  k_.operand_pool.insert(k_.operand_pool.end(), ops.begin(), ops.end());
  return first;
}

void LowerCtx::emit(LInstr li) { k_.code.push_back(li); }

bool LowerCtx::declare(const ptx::VarDecl& d, Scope& scope) {
  switch (d.space) {
    case ptx::Space::Reg: {
      RegDecl r;
      r.is_pred = d.type == ptx::Type::Pred;
      r.type = d.type;
      r.count = d.count;
      scope.reg_decls[d.name] = r;
      return true;
    }
    case ptx::Space::Local:
    case ptx::Space::Param: {  // call-sequence .param blocks live in local memory
      VarBinding b;
      b.where = VarBinding::Where::Local;
      b.size = d.byte_size();
      b.offset = alloc_local(std::max<uint64_t>(b.size, 1), natural_align(d));
      scope.vars[d.name] = b;
      return true;
    }
    case ptx::Space::Shared: {
      VarBinding b;
      b.size = d.byte_size();
      if (d.is_extern || b.size == 0) {
        b.where = VarBinding::Where::DynShared;
      } else {
        b.where = VarBinding::Where::Shared;
        b.offset = alloc_shared(b.size, natural_align(d));
      }
      scope.vars[d.name] = b;
      return true;
    }
    default: {
      ptx::Instruction fake;
      fake.line = d.line;
      return fail(fake, fmt::format("unsupported declaration of '{}' (state space not allowed in a function body)",
                                    d.name));
    }
  }
}

bool LowerCtx::lower_kernel(const ptx::Function& f, KernelInfo* info) {
  info->name = f.name;
  uint32_t off = 0;
  Scope scope;
  scope.fn = &f;
  for (auto& p : f.params) {
    uint32_t a = natural_align(p);
    off = static_cast<uint32_t>(align_up(off, a));
    ParamInfo pi;
    pi.offset = off;
    pi.size = static_cast<uint32_t>(p.byte_size());
    pi.align = a;
    pi.is_pointer = p.ptr_attr || (p.dims.empty() && p.vector_width == 1 &&
                                   (p.type == ptx::Type::U64 || p.type == ptx::Type::B64 ||
                                    p.type == ptx::Type::S64));
    info->params.push_back(pi);
    VarBinding b;
    b.where = VarBinding::Where::KernelParam;
    b.offset = off;
    b.size = pi.size;
    scope.vars[p.name] = b;
    off += pi.size;
  }
  info->param_bytes = off;
  for (int i = 0; i < 3; ++i) info->reqntid[i] = f.reqntid[i];
  uint64_t maxt = 1024;
  if (f.maxntid[0]) maxt = uint64_t{f.maxntid[0]} * std::max(f.maxntid[1], 1u) * std::max(f.maxntid[2], 1u);
  if (f.reqntid[0]) maxt = uint64_t{f.reqntid[0]} * std::max(f.reqntid[1], 1u) * std::max(f.reqntid[2], 1u);
  info->max_threads_per_block = static_cast<uint32_t>(std::min<uint64_t>(maxt, 1024));

  if (real_calls_) {
    k_.sp_slot = new_slot();
    k_.arg_area = alloc_local(kCallAreaBytes, 16);
    k_.ret_area = alloc_local(kCallAreaBytes, 16);
    k_.stack_bytes = kCallStackBytes;
    // Any function whose address the module takes (in an instruction of any
    // kernel, or in a module variable's initializer) may be called through a
    // pointer this kernel loads.
    auto taken = [&](const std::string& name) {
      auto it = module_vars_.find(name);
      if (it != module_vars_.end() && it->second.where == VarBinding::Where::Function &&
          !module_.functions[it->second.offset].is_entry)  // a kernel's address is only launched
        queue_function(static_cast<uint32_t>(it->second.offset));
    };
    for (auto& g : prog_.globals_)
      for (auto& r : g.relocs) taken(r.symbol);
    for (auto& fn : module_.functions)
      for (auto& st : fn.body) {
        if (st.kind != ptx::Statement::Kind::Instr) continue;
        const auto& ops = st.instr.operands;
        for (size_t i = 0; i < ops.size(); ++i) {
          if (st.instr.opcode == "call" && i == 1) continue;  // the callee of a direct call
          if (ops[i].kind == ptx::Operand::Kind::Symbol) taken(ops[i].name);
          for (auto& e : ops[i].elems)
            if (e.kind == ptx::Operand::Kind::Symbol) taken(e.name);
        }
      }
  }
  if (!lower_instance(f, scope)) return false;
  LInstr ex;
  ex.fn = h_exit;
  ex.opname = "exit";
  ex.line = static_cast<uint32_t>(f.line);
  emit(ex);
  // Real-call functions follow the kernel's body, each once.
  while (!fn_queue_.empty()) {
    uint32_t index = fn_queue_.back();
    fn_queue_.pop_back();
    if (!fn_entries_.count(index) && !lower_real_function(index)) return false;
  }
  for (auto [instr, index] : call_fixups_) k_.code[instr].target = fn_entries_.at(index);
  if (real_calls_) {
    k_.fn_entry.assign(module_.functions.size(), UINT32_MAX);
    for (auto [index, pc] : fn_entries_) k_.fn_entry[index] = pc;
  }

  k_.static_shared = static_cast<uint32_t>(shared_top_);
  k_.dyn_shared_offset = static_cast<uint32_t>(align_up(shared_top_, 16));
  for (auto [instr, byte] : dyn_patches_) {
    auto* op = reinterpret_cast<LOperand*>(reinterpret_cast<char*>(&k_.code[instr]) + byte);
    op->imm += k_.dyn_shared_offset;
  }
  k_.local_bytes = static_cast<uint32_t>(align_up(local_top_, 16));
  k_.globals_used.assign(globals_used_.begin(), globals_used_.end());
  std::sort(k_.globals_used.begin(), k_.globals_used.end());
  info->static_shared_bytes = k_.static_shared;
  info->local_bytes = k_.local_bytes;
  info->num_regs = estimate_kernel_registers(module_, f);
  info->uses_heap = uses_heap_;
  info->uses_device_launch = uses_device_launch_;
  return true;
}

bool LowerCtx::lower_instance(const ptx::Function& f, Scope& scope) {
  Scope* saved = scope_;
  scope_ = &scope;
  bool ok = true;
  for (auto& st : f.body)
    if (st.kind == ptx::Statement::Kind::Decl && !declare(st.decl, scope)) ok = false;
  for (size_t i = 0; ok && i < f.body.size(); ++i) {
    auto& st = f.body[i];
    if (st.kind == ptx::Statement::Kind::Label) {
      scope.labels[st.label] = static_cast<uint32_t>(k_.code.size());
    } else if (st.kind == ptx::Statement::Kind::Instr) {
      ok = lower_instr(st.instr, scope);
    }
  }
  uint32_t end = static_cast<uint32_t>(k_.code.size());
  for (auto& [idx, label] : scope.fixups) {
    if (!ok) break;
    if (label.empty()) {
      k_.code[idx].target = end;
      continue;
    }
    auto it = scope.labels.find(label);
    if (it == scope.labels.end()) {
      ptx::Instruction fake;
      fake.line = static_cast<int>(k_.code[idx].line);
      ok = fail(fake, fmt::format("branch to undefined label '{}'", label));
      break;
    }
    k_.code[idx].target = it->second;
  }
  scope_ = saved;
  return ok;
}

bool LowerCtx::label(const ptx::Operand& op) {
  if (op.kind != ptx::Operand::Kind::Label && op.kind != ptx::Operand::Kind::Symbol) return false;
  cur_label_ = op.name;
  cur_has_label_ = true;
  return true;
}

void LowerCtx::target_instance_end() {
  cur_label_.clear();
  cur_has_label_ = true;
}

bool LowerCtx::lower_instr(const ptx::Instruction& in, Scope& scope) {
  if (in.opcode == "call") return lower_call(in, scope);
  std::string name = full_opcode(in);
  Lowerer l = table_.find(in);
  if (!l) return fail(in, fmt::format("unsupported instruction '{}'", name));
  LInstr li;
  li.line = static_cast<uint32_t>(in.line);
  li.opname = prog_.intern(name);
  cur_ = &li;
  cur_index_ = static_cast<uint32_t>(k_.code.size());
  cur_has_label_ = false;
  bool ok = l(in, *this, li);
  cur_ = nullptr;
  if (!ok) {
    if (error_ && error_->empty()) fail(in, fmt::format("unsupported instruction '{}'", name));
    return false;
  }
  if (!li.fn) return fail(in, fmt::format("unsupported instruction '{}' (no handler)", name));
  if (in.guard) {
    ptx::Operand g;
    g.kind = ptx::Operand::Kind::Register;
    g.name = *in.guard;
    LOperand p;
    if (!pred(g, &p)) return fail(in, fmt::format("guard '{}' is not a predicate register", *in.guard));
    li.guard = static_cast<int32_t>(p.index);
    li.guard_neg = in.guard_negated;
  }
  if (cur_has_label_) scope.fixups.emplace_back(cur_index_, cur_label_);
  emit(li);
  return true;
}

bool LowerCtx::arg_to_local(const ptx::Instruction& in, const ptx::Operand& arg, const ptx::VarDecl* decl,
                            Scope& scope, uint64_t* offset, ptx::Type* type) {
  ptx::Type t = decl ? decl->type : ptx::Type::B64;
  if (arg.kind == ptx::Operand::Kind::Symbol) {
    const VarBinding* b = find_var(arg.name);
    if (!b || b->where != VarBinding::Where::Local)
      return fail(in, fmt::format("call argument '{}' is not a .param variable", arg.name));
    *offset = b->offset;
    *type = t;
    return true;
  }
  RegEntry r;
  if (arg.kind == ptx::Operand::Kind::Register && reg(arg, &r) && !decl) t = r.type;
  uint32_t size = ptx::type_size(t);
  if (!size) return fail(in, "call argument of unknown size");
  uint64_t off = alloc_local(size, size);
  LInstr st;
  st.line = static_cast<uint32_t>(in.line);
  st.opname = "st.param";
  st.fn = local_store_handler(t);
  st.aux = static_cast<uint32_t>(ptx::Space::Local);
  st.type = t;
  st.ns = 2;
  st.s[0].kind = LOperand::Kind::Imm;
  st.s[0].imm = off;
  cur_ = &st;
  cur_index_ = static_cast<uint32_t>(k_.code.size());
  bool ok = src(arg, t, &st.s[1]);
  cur_ = nullptr;
  if (!ok || !st.fn) return fail(in, "unsupported call argument");
  emit(st);
  (void)scope;
  *offset = off;
  *type = t;
  return true;
}

bool LowerCtx::lower_call(const ptx::Instruction& in, Scope& scope) {
  if (in.operands.size() < 3) return fail(in, "malformed call");
  const auto& rets = in.operands[0];
  const auto& callee = in.operands[1];
  const auto& args = in.operands[2];
  if (callee.kind != ptx::Operand::Kind::Symbol) {
    if (!real_calls_) return fail(in, "unsupported instruction 'call' (indirect calls through a register)");
    return lower_real_call(in, scope, nullptr);
  }
  if (callee.name == "vprintf" || callee.name == "__assertfail" || callee.name == "malloc" ||
      callee.name == "free" || callee.name.starts_with("__cudaCDP2"))
    return lower_builtin(in, callee.name, scope);
  if (callee.name == "cudaGraphSetConditional") return lower_graph_set_conditional(in, scope);
  const ptx::Function* fn = nullptr;
  for (auto& f : module_.functions)
    if (f.name == callee.name && !f.is_extern && !f.body.empty()) fn = &f;
  if (!fn && (callee.name == "cudaDeviceSynchronize" || callee.name.starts_with("__cudaCDP1") ||
              callee.name == "cudaGetParameterBuffer" || callee.name == "cudaLaunchDevice"))
    return fail(in, fmt::format("unsupported call to '{}': the CDP1 device runtime (device-side "
                                "cudaDeviceSynchronize) was removed in CUDA 12; rebuild for CDP2",
                                callee.name));
  if (!fn) return fail(in, fmt::format("unsupported call to external function '{}'", callee.name));
  if (args.elems.size() != fn->params.size() || rets.elems.size() > fn->returns.size())
    return fail(in, fmt::format("call to '{}' passes the wrong number of arguments", callee.name));
  // Inlining is the fast path; a function already being inlined (recursion)
  // is called for real.
  for (Scope* s = &scope; s; s = s->parent)
    if (s->fn == fn) {
      if (!real_calls_) return fail(in, fmt::format("unsupported recursive call to '{}'", callee.name));
      return lower_real_call(in, scope, fn);
    }

  // A guarded call is a call skipped by the lanes whose guard fails.
  uint32_t skip_index = UINT32_MAX;
  if (!emit_call_guard(in, &skip_index)) return false;

  Scope child;
  child.fn = fn;
  child.parent = &scope;
  for (size_t i = 0; i < fn->params.size(); ++i) {
    uint64_t off;
    ptx::Type t;
    if (!arg_to_local(in, args.elems[i], &fn->params[i], scope, &off, &t)) return false;
    VarBinding b;
    b.where = VarBinding::Where::Local;
    b.offset = off;
    b.size = fn->params[i].byte_size();
    child.vars[fn->params[i].name] = b;
  }
  std::vector<std::pair<const ptx::Operand*, std::pair<uint64_t, ptx::Type>>> reg_rets;
  for (size_t i = 0; i < fn->returns.size(); ++i) {
    VarBinding b;
    b.where = VarBinding::Where::Local;
    b.size = fn->returns[i].byte_size();
    const ptx::Operand* r = i < rets.elems.size() ? &rets.elems[i] : nullptr;
    if (r && r->kind == ptx::Operand::Kind::Symbol) {
      const VarBinding* cb = find_var(r->name);
      if (!cb || cb->where != VarBinding::Where::Local)
        return fail(in, fmt::format("call result '{}' is not a .param variable", r->name));
      b.offset = cb->offset;
    } else {
      b.offset = alloc_local(std::max<uint64_t>(b.size, 1), natural_align(fn->returns[i]));
      if (r && r->kind == ptx::Operand::Kind::Register) reg_rets.push_back({r, {b.offset, fn->returns[i].type}});
    }
    child.vars[fn->returns[i].name] = b;
  }
  if (!lower_instance(*fn, child)) return false;
  scope_ = &scope;
  for (auto& [op, where] : reg_rets) {
    LInstr ld;
    ld.line = static_cast<uint32_t>(in.line);
    ld.opname = "ld.param";
    ld.fn = local_load_handler(where.second);
    ld.aux = static_cast<uint32_t>(ptx::Space::Local);
    ld.type = where.second;
    ld.nd = 1;
    ld.ns = 1;
    ld.s[0].kind = LOperand::Kind::Imm;
    ld.s[0].imm = where.first;
    if (!dst_reg(*op, where.second, &ld.d[0]) || !ld.fn) return fail(in, "unsupported call result");
    emit(ld);
  }
  if (skip_index != UINT32_MAX) k_.code[skip_index].target = static_cast<uint32_t>(k_.code.size());
  return true;
}

void LowerCtx::queue_function(uint32_t index) {
  if (fn_entries_.count(index)) return;
  for (uint32_t q : fn_queue_)
    if (q == index) return;
  fn_queue_.push_back(index);
}

void LowerCtx::emit_local_copy(uint32_t line, uint64_t from, uint64_t to, uint64_t bytes) {
  LInstr c;
  c.fn = h_local_copy;
  c.opname = "call";
  c.line = line;
  c.s[0].kind = LOperand::Kind::Imm;
  c.s[0].imm = from;
  c.ns = 1;
  c.aux = static_cast<uint32_t>(to);
  c.aux2 = static_cast<uint32_t>(bytes);
  emit(c);
}

bool LowerCtx::call_guard_pred(const ptx::Instruction& in, uint32_t* index) {
  *index = UINT32_MAX;
  if (!in.guard) return true;
  ptx::Operand g;
  g.kind = ptx::Operand::Kind::Register;
  g.name = *in.guard;
  LOperand p;
  if (!pred(g, &p)) return fail(in, "call guard is not a predicate");
  *index = p.index;
  return true;
}

bool LowerCtx::emit_call_guard(const ptx::Instruction& in, uint32_t* skip_index) {
  *skip_index = UINT32_MAX;
  uint32_t guard = UINT32_MAX;
  if (!call_guard_pred(in, &guard)) return false;
  if (guard == UINT32_MAX) return true;
  LInstr br;
  br.fn = h_branch;
  br.opname = "call";
  br.line = static_cast<uint32_t>(in.line);
  br.guard = static_cast<int32_t>(guard);
  br.guard_neg = !in.guard_negated;
  *skip_index = static_cast<uint32_t>(k_.code.size());
  emit(br);
  return true;
}

bool LowerCtx::lower_real_call(const ptx::Instruction& in, Scope& scope, const ptx::Function* fn) {
  const auto& rets = in.operands[0];
  const auto& args = in.operands[2];
  const uint32_t line = static_cast<uint32_t>(in.line);
  uint32_t skip_index = UINT32_MAX;
  if (!emit_call_guard(in, &skip_index)) return false;
  // Arguments into the argument area, in call layout.
  uint64_t end = 0;
  for (size_t i = 0; i < args.elems.size(); ++i) {
    const auto& a = args.elems[i];
    uint64_t off = call_layout_next(end);
    if (a.kind == ptx::Operand::Kind::Symbol) {
      const VarBinding* b = find_var(a.name);
      if (!b || b->where != VarBinding::Where::Local)
        return fail(in, fmt::format("call argument '{}' is not a .param variable", a.name));
      uint64_t size = fn ? fn->params[i].byte_size() : b->size;
      end = off + size;
      if (end > kCallAreaBytes) break;
      emit_local_copy(line, b->offset, k_.arg_area + off, size);
      continue;
    }
    ptx::Type t = fn ? fn->params[i].type : ptx::Type::None;
    RegEntry r;
    if (t == ptx::Type::None && a.kind == ptx::Operand::Kind::Register && reg(a, &r)) t = r.type;
    uint32_t size = ptx::type_size(t);
    if (!size) return fail(in, "call argument of unknown size");
    end = off + size;
    if (end > kCallAreaBytes) break;
    LInstr st;
    st.line = line;
    st.opname = "st.param";
    st.fn = local_store_handler(t);
    st.aux = static_cast<uint32_t>(ptx::Space::Local);
    st.type = t;
    st.ns = 2;
    st.s[0].kind = LOperand::Kind::Imm;
    st.s[0].imm = k_.arg_area + off;
    cur_ = &st;
    cur_index_ = static_cast<uint32_t>(k_.code.size());
    bool ok = src(a, t, &st.s[1]);
    cur_ = nullptr;
    if (!ok || !st.fn) return fail(in, "unsupported call argument");
    emit(st);
  }
  if (end > kCallAreaBytes)
    return fail(in, fmt::format("unsupported call passing more than {} bytes of arguments", kCallAreaBytes));

  LInstr c;
  c.line = line;
  c.opname = "call";
  if (fn) {
    uint32_t index = static_cast<uint32_t>(fn - module_.functions.data());
    c.fn = h_call;
    call_fixups_.emplace_back(static_cast<uint32_t>(k_.code.size()), index);
    queue_function(index);
  } else {
    c.fn = h_call_indirect;
    cur_ = &c;
    cur_index_ = static_cast<uint32_t>(k_.code.size());
    bool ok = src(in.operands[1], ptx::Type::U64, &c.s[0]);
    cur_ = nullptr;
    if (!ok || c.s[0].kind != LOperand::Kind::Reg) return fail(in, "unsupported indirect call target");
    c.ns = 1;
  }
  emit(c);

  // Results out of the result area.
  end = 0;
  for (size_t i = 0; i < rets.elems.size(); ++i) {
    const auto& r = rets.elems[i];
    uint64_t off = call_layout_next(end);
    if (r.kind == ptx::Operand::Kind::Symbol) {
      const VarBinding* b = find_var(r.name);
      if (!b || b->where != VarBinding::Where::Local)
        return fail(in, fmt::format("call result '{}' is not a .param variable", r.name));
      uint64_t size = fn ? fn->returns[i].byte_size() : b->size;
      end = off + size;
      if (end > kCallAreaBytes) return fail(in, "unsupported call returning too many bytes");
      emit_local_copy(line, k_.ret_area + off, b->offset, size);
      continue;
    }
    ptx::Type t = fn ? fn->returns[i].type : ptx::Type::None;
    RegEntry re;
    if (t == ptx::Type::None && r.kind == ptx::Operand::Kind::Register && reg(r, &re)) t = re.type;
    uint32_t size = ptx::type_size(t);
    if (!size) return fail(in, "call result of unknown size");
    end = off + size;
    if (end > kCallAreaBytes) return fail(in, "unsupported call returning too many bytes");
    LInstr ld;
    ld.line = line;
    ld.opname = "ld.param";
    ld.fn = local_load_handler(t);
    ld.aux = static_cast<uint32_t>(ptx::Space::Local);
    ld.type = t;
    ld.nd = 1;
    ld.ns = 1;
    ld.s[0].kind = LOperand::Kind::Imm;
    ld.s[0].imm = k_.ret_area + off;
    if (!dst_reg(r, t, &ld.d[0]) || !ld.fn) return fail(in, "unsupported call result");
    emit(ld);
  }
  (void)scope;
  if (skip_index != UINT32_MAX) k_.code[skip_index].target = static_cast<uint32_t>(k_.code.size());
  return true;
}

bool LowerCtx::lower_real_function(uint32_t index) {
  const ptx::Function& fn = module_.functions[index];
  if (fn.is_extern || fn.body.empty() || fn.is_entry) {
    ptx::Instruction fake;
    fake.line = fn.line;
    return fail(fake, fmt::format("unsupported call to '{}' through a function pointer or recursion (no body)",
                                  fn.name));
  }
  CallFrame f;
  uint32_t fi = static_cast<uint32_t>(k_.frames.size());
  k_.frames.emplace_back();
  f.slot_lo = k_.num_slots;
  f.pred_lo = k_.num_preds;
  local_top_ = align_up(local_top_, 16);
  f.local_lo = local_top_;
  Scope sc;
  sc.fn = &fn;
  sc.frame = static_cast<int32_t>(fi);
  auto block = [&](const std::vector<ptx::VarDecl>& decls, uint64_t* off, uint64_t* bytes) {
    std::vector<uint64_t> at;
    uint64_t end = 0;
    for (auto& d : decls) {
      at.push_back(call_layout_next(end));
      end = at.back() + d.byte_size();
    }
    *bytes = end;
    *off = alloc_local(std::max<uint64_t>(end, 1), 16);
    for (size_t i = 0; i < decls.size(); ++i) {
      VarBinding b;
      b.where = VarBinding::Where::Local;
      b.offset = *off + at[i];
      b.size = decls[i].byte_size();
      sc.vars[decls[i].name] = b;
    }
    return end <= kCallAreaBytes;
  };
  bool fits = block(fn.params, &f.param_off, &f.param_bytes);
  fits = block(fn.returns, &f.ret_off, &f.ret_bytes) && fits;
  if (!fits) {
    ptx::Instruction fake;
    fake.line = fn.line;
    return fail(fake, fmt::format("unsupported real call to '{}': parameters or results over {} bytes", fn.name,
                                  kCallAreaBytes));
  }
  fn_entries_[index] = static_cast<uint32_t>(k_.code.size());
  LInstr en;
  en.fn = h_enter;
  en.aux = fi;
  en.opname = prog_.intern(fn.name);
  en.line = static_cast<uint32_t>(fn.line);
  emit(en);
  if (!lower_instance(fn, sc)) return false;
  LInstr rt;
  rt.fn = h_ret;
  rt.aux = fi;
  rt.opname = "ret";
  rt.line = static_cast<uint32_t>(fn.line);
  emit(rt);
  f.slot_hi = k_.num_slots;
  f.pred_hi = k_.num_preds;
  f.local_hi = local_top_;
  f.bytes = 8 * uint64_t{f.slot_hi - f.slot_lo} + 8 * ((uint64_t{f.pred_hi - f.pred_lo} + 63) / 64) +
            align_up(f.local_hi - f.local_lo, 8);
  k_.frames[fi] = f;
  return true;
}

bool needs_real_calls(const ptx::Module& module) {
  std::unordered_map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < module.functions.size(); ++i)
    if (!module.functions[i].body.empty()) index[module.functions[i].name] = i;
  std::vector<std::vector<uint32_t>> callees(module.functions.size());
  for (uint32_t i = 0; i < module.functions.size(); ++i)
    for (auto& st : module.functions[i].body) {
      if (st.kind != ptx::Statement::Kind::Instr || st.instr.opcode != "call" || st.instr.operands.size() < 2)
        continue;
      const auto& callee = st.instr.operands[1];
      if (callee.kind == ptx::Operand::Kind::Register) return true;  // indirect
      auto it = index.find(callee.name);
      if (it != index.end()) callees[i].push_back(it->second);
    }
  // A cycle in the direct call graph is recursion (iterative DFS, 3 colours).
  std::vector<uint8_t> colour(module.functions.size(), 0);
  for (uint32_t root = 0; root < module.functions.size(); ++root) {
    if (colour[root]) continue;
    std::vector<std::pair<uint32_t, size_t>> stack{{root, 0}};
    colour[root] = 1;
    while (!stack.empty()) {
      auto& [v, next] = stack.back();
      if (next == callees[v].size()) {
        colour[v] = 2;
        stack.pop_back();
        continue;
      }
      uint32_t u = callees[v][next++];
      if (colour[u] == 1) return true;
      if (colour[u] == 0) {
        colour[u] = 1;
        stack.emplace_back(u, 0);
      }
    }
  }
  return false;
}

namespace {

// The device runtime's functions nvcc calls as extern functions, and the
// handlers that implement them. Arguments are .param symbols (any size: the
// dim3 arguments of cudaGetParameterBufferV2 are 12-byte arrays) or values of
// the listed types; the result, when there is one, has type `ret`.
struct BuiltinSpec {
  const char* name;
  Handler fn;
  uint8_t nargs;
  ptx::Type args[5];
  ptx::Type ret;      // None: no result
  bool heap;          // needs LaunchEnv::heap
  bool device_launch; // dynamic parallelism
};

constexpr ptx::Type B32 = ptx::Type::B32, B64 = ptx::Type::B64, NONE = ptx::Type::None;

const BuiltinSpec kBuiltins[] = {
    {"vprintf", h_vprintf, 2, {B64, B64}, B32, false, false},
    {"__assertfail", h_assertfail, 5, {B64, B64, B32, B64, B64}, NONE, false, false},
    {"malloc", h_malloc, 1, {B64}, B64, true, false},
    {"free", h_free, 1, {B64}, NONE, true, false},
    {"__cudaCDP2GetParameterBufferV2", h_cdp_get_param_buffer, 4, {B64, NONE, NONE, B32}, B64, true, true},
    {"__cudaCDP2LaunchDeviceV2", h_cdp_launch, 2, {B64, B64}, B32, true, true},
    {"__cudaCDP2StreamCreateWithFlags", h_cdp_stream_create, 2, {B64, B32}, B32, true, true},
    {"__cudaCDP2StreamDestroy", h_cdp_stream_destroy, 1, {B64}, B32, true, true},
    {"__cudaCDP2EventCreateWithFlags", h_cdp_event_create, 2, {B64, B32}, B32, true, true},
    {"__cudaCDP2EventDestroy", h_cdp_event_destroy, 1, {B64}, B32, true, true},
    {"__cudaCDP2EventRecord", h_cdp_event_record, 2, {B64, B64}, B32, true, true},
    {"__cudaCDP2EventRecordWithFlags", h_cdp_event_record, 3, {B64, B64, B32}, B32, true, true},
    {"__cudaCDP2StreamWaitEvent", h_cdp_stream_wait_event, 3, {B64, B64, B32}, B32, true, true},
    // The _ptsz forms (nvcc --default-stream per-thread): stream 0 is then the
    // thread's own default stream, which the block-then-launch order also serialises.
    {"__cudaCDP2LaunchDeviceV2_ptsz", h_cdp_launch, 2, {B64, B64}, B32, true, true},
    {"__cudaCDP2EventRecord_ptsz", h_cdp_event_record, 2, {B64, B64}, B32, true, true},
    {"__cudaCDP2EventRecordWithFlags_ptsz", h_cdp_event_record, 3, {B64, B64, B32}, B32, true, true},
    {"__cudaCDP2StreamWaitEvent_ptsz", h_cdp_stream_wait_event, 3, {B64, B64, B32}, B32, true, true},
    {"__cudaCDP2MemcpyAsync", h_cdp_memcpy_async, 5, {B64, B64, B64, B32, B64}, B32, false, true},
    {"__cudaCDP2MemcpyAsync_ptsz", h_cdp_memcpy_async, 5, {B64, B64, B64, B32, B64}, B32, false, true},
    {"__cudaCDP2MemsetAsync", h_cdp_memset_async, 4, {B64, B32, B64, B64}, B32, false, true},
    {"__cudaCDP2MemsetAsync_ptsz", h_cdp_memset_async, 4, {B64, B32, B64, B64}, B32, false, true},
    {"__cudaCDP2Malloc", h_cdp_malloc, 2, {B64, B64}, B32, true, false},
    {"__cudaCDP2Free", h_cdp_free, 1, {B64}, B32, true, false},
    {"__cudaCDP2GetLastError", h_cdp_get_last_error, 0, {}, B32, false, false},
    {"__cudaCDP2PeekAtLastError", h_cdp_peek_last_error, 0, {}, B32, false, false},
    {"__cudaCDP2GetDevice", h_cdp_get_device, 1, {B64}, B32, false, false},
};

const BuiltinSpec* find_builtin(const std::string& name) {
  for (auto& b : kBuiltins)
    if (name == b.name) return &b;
  return nullptr;
}

}  // namespace

bool LowerCtx::lower_builtin(const ptx::Instruction& in, const std::string& name, Scope& scope) {
  const auto& rets = in.operands[0];
  const auto& args = in.operands[2];
  const BuiltinSpec* spec = find_builtin(name);
  if (!spec)
    return fail(in, fmt::format("unsupported call to device runtime function '{}' (dynamic parallelism on the "
                                "emulator supports kernel launches, streams, events, 1D cudaMemcpyAsync/cudaMemsetAsync, "
                                "cudaMalloc/cudaFree, cudaGetLastError and cudaGetDevice; see docs/emulator.md)",
                                name));
  const size_t want = spec->nargs;
  if (args.elems.size() != want) return fail(in, fmt::format("call to '{}' with {} arguments", name, args.elems.size()));
  if (spec->ret == NONE && !rets.elems.empty()) return fail(in, fmt::format("call to '{}' with a result", name));
  const ptx::Type ret_type = spec->ret == NONE ? B32 : spec->ret;
  const uint32_t ret_size = ptx::type_size(ret_type);
  LInstr li;
  li.line = static_cast<uint32_t>(in.line);
  li.opname = prog_.intern(name);
  li.fn = spec->fn;
  if (spec->heap) uses_heap_ = true;
  if (spec->device_launch) uses_device_launch_ = true;
  ptx::VarDecl pdecl;
  for (size_t i = 0; i < want; ++i) {
    if (spec->args[i] == NONE && args.elems[i].kind != ptx::Operand::Kind::Symbol)
      return fail(in, fmt::format("argument {} of '{}' is not a .param variable", i, name));
    pdecl.type = spec->args[i] == NONE ? B64 : spec->args[i];
    uint64_t off;
    ptx::Type t;
    if (!arg_to_local(in, args.elems[i], &pdecl, scope, &off, &t)) return false;
    li.s[i].kind = LOperand::Kind::Imm;
    li.s[i].imm = off;
  }
  li.ns = static_cast<uint8_t>(want);
  uint64_t ret_off = 0;
  const ptx::Operand* reg_ret = nullptr;
  if (!rets.elems.empty()) {
    const auto& r = rets.elems[0];
    if (r.kind == ptx::Operand::Kind::Symbol) {
      const VarBinding* b = find_var(r.name);
      if (!b || b->where != VarBinding::Where::Local)
        return fail(in, fmt::format("{} result is not a .param variable", name));
      ret_off = b->offset;
    } else {
      ret_off = alloc_local(ret_size, ret_size);
      reg_ret = &r;
    }
    li.aux = static_cast<uint32_t>(ret_off);
    li.aux2 = 1;
  }
  if (uint32_t guard; !call_guard_pred(in, &guard)) {
    return false;
  } else if (guard != UINT32_MAX) {
    li.guard = static_cast<int32_t>(guard);
    li.guard_neg = in.guard_negated;
  }
  emit(li);
  if (reg_ret) {
    LInstr ld;
    ld.line = li.line;
    ld.opname = "ld.param";
    ld.fn = local_load_handler(ret_type);
    ld.aux = static_cast<uint32_t>(ptx::Space::Local);
    ld.type = ret_type;
    ld.nd = ld.ns = 1;
    ld.s[0].kind = LOperand::Kind::Imm;
    ld.s[0].imm = ret_off;
    ld.guard = li.guard;
    ld.guard_neg = li.guard_neg;
    if (!dst_reg(*reg_ret, ret_type, &ld.d[0])) return fail(in, fmt::format("unsupported {} result", name));
    emit(ld);
  }
  return true;
}

// ---- Program::build

namespace {
std::atomic<uint64_t> g_kernels_lowered{0};
}  // namespace

uint64_t Program::kernels_lowered() { return g_kernels_lowered.load(std::memory_order_relaxed); }

void ProgramImpl::init(const ptx::Module& module) {
  for (auto& d : module.globals) {
    if (d.space != ptx::Space::Global && d.space != ptx::Space::Const) continue;
    GlobalVarInfo g;
    g.name = d.name;
    g.space = d.space;
    g.size = d.byte_size();
    g.align = d.align ? d.align : std::max<uint32_t>(1, ptx::type_size(d.type) * d.vector_width);
    g.init = d.init;
    g.init.resize(g.size, 0);
    g.relocs = d.relocs;
    g.is_extern = d.is_extern;
    g.is_managed = d.is_managed;
    globals_.push_back(std::move(g));
  }
  global_addr_.assign(globals_.size(), 0);
  bound_.assign(globals_.size(), 0);
  patches_.resize(globals_.size());

  table_ = std::make_unique<OpTable>();
  register_core_ops(*table_);
  register_float_ops(*table_);
  register_cvt_ops(*table_);
  register_warp_ops(*table_);
  register_tex_ops(*table_);
  register_tensor_ops(*table_);
  register_async_ops(*table_);
  real_calls_ = needs_real_calls(module);
  for (auto& f : module.functions) functions_.push_back(f.is_extern || f.body.empty() ? std::string() : f.name);
  fn_kernel_.assign(module.functions.size(), -1);
  for (uint32_t i = 0; i < module.functions.size(); ++i) {
    const auto& f = module.functions[i];
    if (!f.is_entry || f.is_extern) continue;
    fn_kernel_[i] = static_cast<int32_t>(infos_.size());
    kernel_fn_.push_back(i);
    KernelInfo info;
    info.name = f.name;
    infos_.push_back(std::move(info));
  }
  lowered_.resize(infos_.size());
  errors_.resize(infos_.size());
  state_ = std::make_unique<std::atomic<uint8_t>[]>(infos_.size());
}

bool ProgramImpl::lower_one(const ptx::Module& module, size_t index, std::string* error) {
  const ptx::Function& f = module.functions[kernel_fn_[index]];
  std::string err;
  LowerCtx ctx(*this, module, *table_, static_cast<uint32_t>(index), lowered_[index], &err);
  if (real_calls_) ctx.enable_real_calls();
  KernelInfo info;
  if (!ctx.lower_kernel(f, &info)) {
    if (err.empty()) err = "lowering of kernel '" + f.name + "' failed";
    lowered_[index] = LoweredKernel{};
    for (auto& list : patches_)
      std::erase_if(list, [&](const GlobalPatch& p) { return p.kernel == index; });
    errors_[index] = err;
    state_[index].store(kFailed, std::memory_order_release);
    if (error) *error = err;
    return false;
  }
  // Globals bound before this kernel was lowered: patch its references now.
  for (size_t gi = 0; gi < patches_.size(); ++gi) {
    if (!bound_[gi]) continue;
    for (auto& p : patches_[gi]) {
      if (p.kernel != index) continue;
      auto& li = lowered_[p.kernel].code[p.instr];
      auto* op = reinterpret_cast<LOperand*>(reinterpret_cast<char*>(&li) + p.byte_offset);
      op->imm = global_addr_[gi] + static_cast<uint64_t>(p.addend);
    }
  }
  // Every field but the name, which other threads may be reading (cuFuncGetName) meanwhile.
  KernelInfo& dst = infos_[index];
  dst.params = std::move(info.params);
  dst.param_bytes = info.param_bytes;
  dst.static_shared_bytes = info.static_shared_bytes;
  dst.local_bytes = info.local_bytes;
  dst.num_regs = info.num_regs;
  dst.max_threads_per_block = info.max_threads_per_block;
  for (int i = 0; i < 3; ++i) dst.reqntid[i] = info.reqntid[i];
  dst.uses_heap = info.uses_heap;
  dst.uses_device_launch = info.uses_device_launch;
  g_kernels_lowered.fetch_add(1, std::memory_order_relaxed);
  state_[index].store(kLowered, std::memory_order_release);
  return true;
}

bool ProgramImpl::prepare(size_t index, std::string* error) const {
  if (index >= infos_.size()) {
    if (error) *error = "no such kernel";
    return false;
  }
  if (state_[index].load(std::memory_order_acquire) == kLowered) return true;
  // Lowering fills this program's own tables; the program was created non-const (build*).
  auto& self = const_cast<ProgramImpl&>(*this);
  std::lock_guard lock(lower_mu_);
  const uint8_t st = state_[index].load(std::memory_order_acquire);
  if (st == kFailed) {
    if (error) *error = errors_[index];
    return false;
  }
  if (st == kLowered) return true;
  if (!module_) {
    if (error) *error = "kernel '" + infos_[index].name + "' was not lowered";
    return false;
  }
  if (!self.lower_one(*module_, index, error)) return false;
  if (infos_[index].uses_device_launch) {
    // Child grids are launched by function pointer from inside a running grid: lower them all
    // now. One that fails is reported by its own launch (run_grid).
    for (size_t i = 0; i < infos_.size(); ++i)
      if (state_[i].load(std::memory_order_acquire) == kNotLowered) self.lower_one(*module_, i, nullptr);
  }
  bool all = true;
  for (size_t i = 0; i < infos_.size() && all; ++i) all = state_[i].load(std::memory_order_acquire) != kNotLowered;
  if (all) self.module_.reset();  // every kernel is lowered or failed: the AST is no longer needed
  return true;
}

std::shared_ptr<Program> Program::build(const ptx::Module& module, std::string* error) {
  auto prog = std::make_shared<ProgramImpl>();
  prog->init(module);
  std::lock_guard lock(prog->lower_mu_);
  for (size_t i = 0; i < prog->infos_.size(); ++i)
    if (!prog->lower_one(module, i, error)) return nullptr;
  return prog;
}

std::shared_ptr<Program> Program::build_lazy(std::shared_ptr<const ptx::Module> module, std::string* error) {
  if (!module) {
    if (error) *error = "no module";
    return nullptr;
  }
  auto prog = std::make_shared<ProgramImpl>();
  prog->init(*module);
  if (!prog->infos_.empty()) prog->module_ = std::move(module);
  return prog;
}

const KernelInfo* Program::find_kernel(std::string_view name) const {
  for (auto& k : kernels())
    if (k.name == name) return &k;
  return nullptr;
}

bool ProgramImpl::function_address(std::string_view name, uint64_t* out) const {
  for (size_t i = 0; i < functions_.size(); ++i)
    if (!functions_[i].empty() && functions_[i] == name) {
      *out = kFunctionWindow + i;
      return true;
    }
  return false;
}

void ProgramImpl::bind_global(std::string_view name, uint64_t device_address) {
  std::lock_guard lock(lower_mu_);
  for (size_t i = 0; i < globals_.size(); ++i) {
    if (globals_[i].name != name) continue;
    global_addr_[i] = device_address;
    bound_[i] = 1;
    for (auto& p : patches_[i]) {
      auto& li = lowered_[p.kernel].code[p.instr];
      auto* op = reinterpret_cast<LOperand*>(reinterpret_cast<char*>(&li) + p.byte_offset);
      op->imm = device_address + static_cast<uint64_t>(p.addend);
    }
  }
}

}  // namespace gpool::emu::exec
