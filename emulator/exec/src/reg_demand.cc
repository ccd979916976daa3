// Register demand from PTX liveness (see reg_demand.h).
//
// The body is split into basic blocks (labels and branches), live-in/out sets
// are solved backwards to a fixed point, and one more backward walk through
// each block records the peak of live 32-bit registers. A 64-bit register
// counts 2, a 128-bit one 4, predicates 0. Values loaded by ld.param in a
// kernel are not counted: ptxas reads kernel parameters from constant bank 0
// as instruction operands instead of holding them in registers.
#include "reg_demand.h"

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace gpool::emu::exec {
namespace {

// ptxas's fixed cost on top of the live values: R1 (the stack pointer, always
// reserved) and a scratch register for address arithmetic.
constexpr uint32_t kFixedOverhead = 2;

struct RegTable {
  std::unordered_map<std::string, uint32_t> index;
  std::vector<uint8_t> width;  // in 32-bit registers; 0 for predicates
};

uint8_t width_of(const ptx::VarDecl& d) {
  if (d.type == ptx::Type::Pred) return 0;
  const uint32_t bytes = ptx::type_size(d.type) * std::max(d.vector_width, 1u);
  return static_cast<uint8_t>(std::clamp<uint32_t>((bytes + 3) / 4, 1, 8));
}

void collect_registers(const ptx::Function& f, RegTable* t) {
  auto add = [t](std::string name, uint8_t w) {
    if (t->index.emplace(std::move(name), static_cast<uint32_t>(t->width.size())).second) t->width.push_back(w);
  };
  for (const auto& st : f.body) {
    if (st.kind != ptx::Statement::Kind::Decl || st.decl.space != ptx::Space::Reg) continue;
    const uint8_t w = width_of(st.decl);
    if (st.decl.count == 0) {
      add(st.decl.name, w);
    } else {
      for (uint32_t i = 0; i < st.decl.count; ++i) add(st.decl.name + std::to_string(i), w);
    }
  }
}

class Bits {
 public:
  explicit Bits(size_t n = 0) : w_((n + 63) / 64, 0) {}
  void set(uint32_t i) { w_[i / 64] |= uint64_t{1} << (i % 64); }
  void clear(uint32_t i) { w_[i / 64] &= ~(uint64_t{1} << (i % 64)); }
  bool test(uint32_t i) const { return (w_[i / 64] >> (i % 64)) & 1; }
  bool merge(const Bits& o) {  // this |= o; true when something changed
    bool changed = false;
    for (size_t i = 0; i < w_.size(); ++i) {
      const uint64_t v = w_[i] | o.w_[i];
      changed |= v != w_[i];
      w_[i] = v;
    }
    return changed;
  }
  bool operator==(const Bits& o) const { return w_ == o.w_; }

 private:
  std::vector<uint64_t> w_;
};

// Opcodes whose first operand, even when it is a register, is read.
bool first_operand_is_source(const std::string& op) {
  return op == "bar" || op == "barrier" || op == "nanosleep" || op == "brx" || op == "call" || op == "st" ||
         op == "red" || op == "sust" || op == "stmatrix" || op == "pmevent" || op == "trap" || op == "bra";
}

struct InstrRegs {
  std::vector<uint32_t> defs, uses;
  bool guarded = false;
  bool param_load = false;  // ld.param in a kernel: the destination lives in constant bank 0
  const std::string* callee = nullptr;
};

void add_operand(const RegTable& t, const ptx::Operand& o, std::vector<uint32_t>* out) {
  switch (o.kind) {
    case ptx::Operand::Kind::Register: {
      auto it = t.index.find(o.name);
      if (it != t.index.end()) out->push_back(it->second);
      break;
    }
    case ptx::Operand::Kind::Address:
      if (!o.base_is_symbol && !o.name.empty()) {
        auto it = t.index.find(o.name);
        if (it != t.index.end()) out->push_back(it->second);
      }
      break;
    case ptx::Operand::Kind::Vector:
    case ptx::Operand::Kind::TexAddress:
      for (const auto& e : o.elems) add_operand(t, e, out);
      break;
    default:
      break;
  }
}

InstrRegs regs_of(const RegTable& t, const ptx::Instruction& in, bool is_entry) {
  InstrRegs r;
  r.guarded = in.guard.has_value();
  if (in.guard) {
    auto it = t.index.find(*in.guard);
    if (it != t.index.end()) r.uses.push_back(it->second);
  }
  for (size_t i = 0; i < in.operands.size(); ++i) {
    const auto& o = in.operands[i];
    const bool def = i == 0 && !first_operand_is_source(in.opcode) &&
                     (o.kind == ptx::Operand::Kind::Register || o.kind == ptx::Operand::Kind::Vector);
    add_operand(t, o, def ? &r.defs : &r.uses);
  }
  if (in.opcode == "call") {
    for (const auto& o : in.operands) {
      if (o.kind == ptx::Operand::Kind::Symbol) {
        r.callee = &o.name;
        break;
      }
    }
  }
  r.param_load = is_entry && in.opcode == "ld" && !in.modifiers.empty() && in.modifiers[0] == "param";
  return r;
}

const ptx::Function* find_function(const ptx::Module& m, const std::string& name) {
  for (const auto& f : m.functions)
    if (f.name == name && !f.body.empty()) return &f;
  return nullptr;
}

class Estimator {
 public:
  explicit Estimator(const ptx::Module& m) : m_(m) {}

  uint32_t peak(const ptx::Function& f) {
    auto it = memo_.find(&f);
    if (it != memo_.end()) return it->second;
    memo_[&f] = 0;  // recursion: the callee's frame is counted once
    const uint32_t p = compute(f);
    memo_[&f] = p;
    return p;
  }

 private:
  uint32_t compute(const ptx::Function& f) {
    RegTable t;
    collect_registers(f, &t);
    const size_t nregs = t.width.size();

    // Instructions in order, and label -> index of the next instruction.
    std::vector<const ptx::Instruction*> code;
    std::map<std::string, uint32_t, std::less<>> labels;
    for (const auto& st : f.body) {
      if (st.kind == ptx::Statement::Kind::Label) labels[st.label] = static_cast<uint32_t>(code.size());
      else if (st.kind == ptx::Statement::Kind::Instr) code.push_back(&st.instr);
    }
    const uint32_t n = static_cast<uint32_t>(code.size());
    if (n == 0) return 0;

    std::vector<InstrRegs> regs(n);
    Bits free_values(nregs);  // ld.param destinations never written otherwise
    Bits other_defs(nregs);
    for (uint32_t i = 0; i < n; ++i) {
      regs[i] = regs_of(t, *code[i], f.is_entry);
      for (uint32_t d : regs[i].defs) (regs[i].param_load ? free_values : other_defs).set(d);
    }
    auto counted = [&](uint32_t r) { return t.width[r] != 0 && !(free_values.test(r) && !other_defs.test(r)); };

    // Successors; a block ends after a branch, return or exit and before a label target.
    std::vector<uint8_t> leader(n + 1, 0);
    leader[0] = 1;
    leader[n] = 1;
    std::vector<std::vector<uint32_t>> targets(n);
    std::vector<uint8_t> falls(n, 1);
    for (uint32_t i = 0; i < n; ++i) {
      const auto& in = *code[i];
      const bool uncond = !in.guard.has_value();
      if (in.opcode == "bra") {
        for (const auto& o : in.operands) {
          auto it = labels.find(o.name);
          if ((o.kind == ptx::Operand::Kind::Label || o.kind == ptx::Operand::Kind::Symbol) && it != labels.end()) {
            targets[i].push_back(it->second);
            leader[it->second] = 1;
          }
        }
        falls[i] = !uncond;
        leader[i + 1] = 1;
      } else if (in.opcode == "ret" || in.opcode == "exit" || in.opcode == "trap") {
        falls[i] = !uncond;
        leader[i + 1] = 1;
      }
    }
    std::vector<uint32_t> start;  // block b covers [start[b], start[b+1])
    std::vector<uint32_t> block_of(n + 1, 0);
    for (uint32_t i = 0; i <= n; ++i) {
      if (leader[i]) start.push_back(i);
      block_of[i] = static_cast<uint32_t>(start.size() - 1);
    }
    const uint32_t nb = static_cast<uint32_t>(start.size() - 1);  // the last start is the end sentinel
    std::vector<std::vector<uint32_t>> succ(nb);
    for (uint32_t b = 0; b < nb; ++b) {
      const uint32_t last = start[b + 1] - 1;
      for (uint32_t tgt : targets[last]) if (tgt < n) succ[b].push_back(block_of[tgt]);
      if (falls[last] && last + 1 < n) succ[b].push_back(block_of[last + 1]);
    }

    // Backward transfer through one instruction.
    auto step = [&](const InstrRegs& r, Bits& live) {
      if (!r.guarded)
        for (uint32_t d : r.defs) live.clear(d);
      for (uint32_t u : r.uses) live.set(u);
    };
    std::vector<Bits> live_in(nb, Bits(nregs)), live_out(nb, Bits(nregs));
    for (bool changed = true; changed;) {
      changed = false;
      for (uint32_t b = nb; b-- > 0;) {
        Bits out(nregs);
        for (uint32_t s : succ[b]) out.merge(live_in[s]);
        live_out[b] = out;
        for (uint32_t i = start[b + 1]; i-- > start[b];) step(regs[i], out);
        if (!(out == live_in[b])) {
          live_in[b] = out;
          changed = true;
        }
      }
    }

    // Peak: live across each instruction plus its own results (a dead result
    // still needs a register), plus a callee's own demand at a call.
    auto weight = [&](const Bits& live) {
      uint32_t w = 0;
      for (uint32_t r = 0; r < nregs; ++r)
        if (live.test(r) && counted(r)) w += t.width[r];
      return w;
    };
    uint32_t best = 0;
    for (uint32_t b = 0; b < nb; ++b) {
      Bits live = live_out[b];
      uint32_t cur = weight(live);
      for (uint32_t i = start[b + 1]; i-- > start[b];) {
        const InstrRegs& r = regs[i];
        uint32_t here = cur;
        for (uint32_t d : r.defs)
          if (!live.test(d) && counted(d)) here += t.width[d];
        if (r.callee != nullptr) {
          if (const ptx::Function* g = find_function(m_, *r.callee)) here = cur + peak(*g);
        }
        best = std::max(best, here);
        if (!r.guarded) {
          for (uint32_t d : r.defs) {
            if (live.test(d)) {
              live.clear(d);
              if (counted(d)) cur -= t.width[d];
            }
          }
        }
        for (uint32_t u : r.uses) {
          if (!live.test(u)) {
            live.set(u);
            if (counted(u)) cur += t.width[u];
          }
        }
        best = std::max(best, cur);
      }
    }
    return best;
  }

  const ptx::Module& m_;
  std::unordered_map<const ptx::Function*, uint32_t> memo_;
};

}  // namespace

uint32_t live_register_peak(const ptx::Module& m, const ptx::Function& f) { return Estimator(m).peak(f); }

uint32_t register_cap_for_bounds(uint32_t threads, uint32_t blocks) {
  if (threads == 0) return 255;
  const uint64_t warps = uint64_t{(threads + 31) / 32} * std::max(blocks, 1u);
  const uint64_t per_warp = kRegsPerSm / warps / 256 * 256;  // allocation unit: 256 per warp
  const uint64_t per_thread = per_warp / 32 / 8 * 8;         // i.e. 8 per thread
  return static_cast<uint32_t>(std::clamp<uint64_t>(per_thread, 16, 255));
}

uint32_t estimate_kernel_registers(const ptx::Module& m, const ptx::Function& f) {
  uint32_t regs = live_register_peak(m, f) + kFixedOverhead;
  if (f.maxnreg != 0) regs = std::min(regs, f.maxnreg);
  const uint32_t* bound = f.reqntid[0] != 0 ? f.reqntid : f.maxntid;
  if (bound[0] != 0) {
    const uint64_t threads = uint64_t{bound[0]} * std::max(bound[1], 1u) * std::max(bound[2], 1u);
    regs = std::min(regs, register_cap_for_bounds(static_cast<uint32_t>(std::min<uint64_t>(threads, 1024)),
                                                  f.minnctapersm));
  }
  return std::clamp<uint32_t>(regs, 1, 255);
}

}  // namespace gpool::emu::exec
