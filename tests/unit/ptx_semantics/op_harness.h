// A single-warp test bench for the float, cvt and warp op families: parses one
// PTX instruction with the real parser, lowers it with the family's real
// lowerer through a minimal LowerContext (registers get slots on first use,
// %p* names are predicates), and runs the handler on one warp's registers.
// It stands in for the executor core, so these tests exercise lowering and
// handler semantics without a kernel launch.
#pragma once

#include "engine.h"
#include "float_bits.h"
#include "gpool/emu/ptx/parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace gpool::emu::exec::testing {

class FakeCtx final : public LowerContext {
 public:
  std::map<std::string, uint32_t> regs, preds;
  std::string error;

  static bool is_pred_name(const std::string& n) { return n.rfind("%p", 0) == 0; }
  uint32_t slot(const std::string& n) {
    auto [it, fresh] = regs.try_emplace(n, static_cast<uint32_t>(regs.size()));
    return it->second;
  }
  uint32_t pslot(const std::string& n) {
    auto [it, fresh] = preds.try_emplace(n, static_cast<uint32_t>(preds.size()));
    return it->second;
  }

  bool src(const ptx::Operand& op, ptx::Type t, LOperand* out) override {
    *out = LOperand{};
    switch (op.kind) {
      case ptx::Operand::Kind::Register:
        out->kind = LOperand::Kind::Reg;
        out->index = slot(op.name);
        return true;
      case ptx::Operand::Kind::IntImm: {
        out->kind = LOperand::Kind::Imm;
        const double v = static_cast<double>(op.ivalue);
        if (t == ptx::Type::F32) out->imm = fp::bits_of(static_cast<float>(v));
        else if (t == ptx::Type::F64) out->imm = fp::bits_of(v);
        else if (t == ptx::Type::F16) out->imm = fp::f16_from_f64(v);
        else if (t == ptx::Type::BF16) out->imm = fp::bf16_from_f64(v);
        else {
          const uint32_t size = ptx::type_size(t);
          out->imm = static_cast<uint64_t>(op.ivalue) & (size >= 8 || size == 0 ? ~0ull : (1ull << (size * 8)) - 1);
        }
        return true;
      }
      case ptx::Operand::Kind::FloatImm: {
        out->kind = LOperand::Kind::Imm;
        const double v = op.is_double ? fp::f64_from_bits(op.fbits) : fp::f32_from_bits(op.fbits);
        if (t == ptx::Type::F64) out->imm = fp::bits_of(v);
        else if (t == ptx::Type::F16) out->imm = fp::f16_from_f64(v);
        else if (t == ptx::Type::BF16) out->imm = fp::bf16_from_f64(v);
        else out->imm = op.is_double ? fp::bits_of(static_cast<float>(v)) : op.fbits;
        return true;
      }
      default:
        error = "fake ctx: unsupported source operand";
        return false;
    }
  }
  bool dst(const ptx::Operand& op, ptx::Type, LOperand* out) override {
    *out = LOperand{};
    if (op.kind == ptx::Operand::Kind::Sink) return true;
    if (op.kind != ptx::Operand::Kind::Register) {
      error = "fake ctx: destination is not a register";
      return false;
    }
    out->kind = LOperand::Kind::Reg;
    out->index = slot(op.name);
    return true;
  }
  bool pred(const ptx::Operand& op, LOperand* out) override {
    *out = LOperand{};
    if (op.kind != ptx::Operand::Kind::Register || !is_pred_name(op.name)) {
      error = "fake ctx: not a predicate: " + op.name;
      return false;
    }
    out->kind = LOperand::Kind::Pred;
    out->negate = op.negate;
    out->index = pslot(op.name);
    return true;
  }
  bool fail(const ptx::Instruction&, std::string message) override {
    error = std::move(message);
    return false;
  }
};

class Bench {
 public:
  static constexpr uint32_t kSlots = 64, kPreds = 16;

  Bench() : regs_(kSlots * kWarpSize, 0), preds_(kPreds, 0) {
    register_float_ops(table_);
    register_cvt_ops(table_);
    register_warp_ops(table_);
    w_.regs = regs_.data();
    w_.preds = preds_.data();
    w_.valid = kFullMask;
  }

  // Parses and lowers `text` (one instruction, no trailing ';'). Returns
  // false with error() set when parsing or lowering fails.
  bool lower(const std::string& text, LInstr* out) {
    std::string src = ".version 8.5\n.target sm_90\n.address_size 64\n.visible .entry k()\n{\n" + text +
                      ";\n}\n";
    ptx::Module m;
    std::string perr;
    if (!ptx::parse(src, &m, &perr)) {
      ctx_.error = "parse: " + perr;
      return false;
    }
    const ptx::Instruction* in = nullptr;
    for (const auto& f : m.functions)
      for (const auto& s : f.body)
        if (s.kind == ptx::Statement::Kind::Instr) in = &s.instr;
    if (!in) {
      ctx_.error = "no instruction parsed";
      return false;
    }
    *out = LInstr{};
    ctx_.error.clear();
    if (in->opcode == "setp" || in->opcode == "set") return lower_float_compare(*in, ctx_, *out);
    Lowerer l = table_.find(*in);
    if (!l) {
      ctx_.error = "no lowerer for " + in->opcode;
      return false;
    }
    return l(*in, ctx_, *out) && ctx_.regs.size() <= kSlots && ctx_.preds.size() <= kPreds;
  }

  // Lowers and runs `text` for the lanes in `active`; a failure to lower is
  // a test failure.
  void run(const std::string& text, LaneMask active = kFullMask) {
    LInstr li;
    ASSERT_TRUE(lower(text, &li)) << text << ": " << ctx_.error;
    ASSERT_NE(li.fn, nullptr) << text;
    li.fn(li, w_, active);
  }
  // Runs an already lowered instruction (e.g. with a handler swapped in).
  void exec(const LInstr& li, LaneMask active = kFullMask) { li.fn(li, w_, active); }
  bool lowers(const std::string& text) {
    LInstr li;
    return lower(text, &li);
  }
  const std::string& error() const { return ctx_.error; }

  uint64_t& r(const std::string& name, int lane = 0) {
    return regs_[static_cast<size_t>(ctx_.slot(name)) * kWarpSize + static_cast<size_t>(lane)];
  }
  void set(const std::string& name, uint64_t v) {
    for (int l = 0; l < kWarpSize; ++l) r(name, l) = v;
  }
  LaneMask& p(const std::string& name) { return preds_[ctx_.pslot(name)]; }

  // f32 / f64 conveniences.
  void setf(const std::string& name, float v) { set(name, fp::bits_of(v)); }
  void setd(const std::string& name, double v) { set(name, fp::bits_of(v)); }
  float f(const std::string& name, int lane = 0) { return fp::f32_from_bits(r(name, lane)); }
  double d(const std::string& name, int lane = 0) { return fp::f64_from_bits(r(name, lane)); }

  // Runs a binary f32 op on scalar inputs (all lanes) and returns lane 0's bits.
  uint32_t f32_op(const std::string& op, float a, float b) {
    setf("%fa", a);
    setf("%fb", b);
    run(op + " %fd, %fa, %fb");
    return static_cast<uint32_t>(r("%fd"));
  }

 private:
  OpTable table_;
  FakeCtx ctx_;
  std::vector<uint64_t> regs_;
  std::vector<LaneMask> preds_;
  WarpState w_;
};

}  // namespace gpool::emu::exec::testing
