// Operand resolution for the lowering pass: registers (lazily given slots),
// special registers, immediates, symbols and memory operands.
#include "lower_context.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

uint16_t f32_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((x >> 16) | 0x40);
  uint32_t r = x + 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(r >> 16);
}

uint64_t width_mask(uint32_t bytes) { return bytes >= 8 ? ~0ull : ((1ull << (bytes * 8)) - 1); }

uint64_t float_value_bits(double v, ptx::Type t) {
  switch (t) {
    case ptx::Type::F64: return std::bit_cast<uint64_t>(v);
    case ptx::Type::F32: return std::bit_cast<uint32_t>(static_cast<float>(v));
    case ptx::Type::F16: return f32_to_f16(static_cast<float>(v));
    case ptx::Type::BF16: return f32_to_bf16(static_cast<float>(v));
    default: return 0;
  }
}

}  // namespace

bool is_float_type(ptx::Type t) {
  switch (t) {
    case ptx::Type::F16: case ptx::Type::F16x2: case ptx::Type::BF16: case ptx::Type::BF16x2:
    case ptx::Type::F32: case ptx::Type::F64:
      return true;
    default:
      return false;
  }
}

bool is_signed_type(ptx::Type t) {
  return t == ptx::Type::S8 || t == ptx::Type::S16 || t == ptx::Type::S32 || t == ptx::Type::S64;
}

ptx::Type last_type(const ptx::Instruction& in) {
  for (auto m = in.modifiers.rbegin(); m != in.modifiers.rend(); ++m)
    if (auto t = ptx::type_from_name(*m)) return *t;
  return ptx::Type::None;
}

ptx::Type first_type(const ptx::Instruction& in) {
  for (auto& m : in.modifiers)
    if (auto t = ptx::type_from_name(m)) return *t;
  return ptx::Type::None;
}

bool has_mod(const ptx::Instruction& in, const char* m) {
  for (auto& x : in.modifiers)
    if (x == m) return true;
  return false;
}

std::string full_opcode(const ptx::Instruction& in) {
  std::string s = in.opcode;
  for (auto& m : in.modifiers) s += "." + m;
  return s;
}

bool imm_bits(const ptx::Operand& op, ptx::Type t, uint64_t* out) {
  uint32_t size = ptx::type_size(t);
  if (op.kind == ptx::Operand::Kind::IntImm) {
    if (t == ptx::Type::F32 || t == ptx::Type::F64 || t == ptx::Type::F16 || t == ptx::Type::BF16) {
      *out = float_value_bits(static_cast<double>(op.ivalue), t);
      return true;
    }
    *out = static_cast<uint64_t>(op.ivalue) & (size ? width_mask(size) : ~0ull);
    return true;
  }
  if (op.kind != ptx::Operand::Kind::FloatImm) return false;
  double v = op.is_double ? std::bit_cast<double>(op.fbits)
                          : static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(op.fbits)));
  switch (t) {
    case ptx::Type::F32:
      *out = op.is_double ? float_value_bits(v, t) : (op.fbits & 0xffffffffu);
      return true;
    case ptx::Type::F64:
      *out = op.is_double ? op.fbits : float_value_bits(v, t);
      return true;
    case ptx::Type::F16:
    case ptx::Type::BF16:
      *out = float_value_bits(v, t);
      return true;
    default:
      break;
  }
  if (size == 8) {
    *out = op.is_double ? op.fbits : (op.fbits & 0xffffffffu);
  } else if (size == 4) {
    *out = op.is_double ? float_value_bits(v, ptx::Type::F32) : (op.fbits & 0xffffffffu);
  } else if (size == 2) {
    *out = float_value_bits(v, ptx::Type::F16);
  } else {
    return false;
  }
  return true;
}

bool sreg_from_name(const std::string& name, Sreg* out) {
  static const std::pair<const char*, Sreg> table[] = {
      {"%tid.x", Sreg::TidX},         {"%tid.y", Sreg::TidY},         {"%tid.z", Sreg::TidZ},
      {"%ntid.x", Sreg::NtidX},       {"%ntid.y", Sreg::NtidY},       {"%ntid.z", Sreg::NtidZ},
      {"%ctaid.x", Sreg::CtaidX},     {"%ctaid.y", Sreg::CtaidY},     {"%ctaid.z", Sreg::CtaidZ},
      {"%nctaid.x", Sreg::NctaidX},   {"%nctaid.y", Sreg::NctaidY},   {"%nctaid.z", Sreg::NctaidZ},
      {"%laneid", Sreg::LaneId},      {"%warpid", Sreg::WarpId},      {"%nwarpid", Sreg::NWarpId},
      {"%smid", Sreg::SmId},          {"%nsmid", Sreg::NSmId},        {"%gridid", Sreg::GridId},
      {"%lanemask_eq", Sreg::LanemaskEq}, {"%lanemask_le", Sreg::LanemaskLe},
      {"%lanemask_lt", Sreg::LanemaskLt}, {"%lanemask_ge", Sreg::LanemaskGe},
      {"%lanemask_gt", Sreg::LanemaskGt}, {"%dynamic_smem_size", Sreg::DynSmem},
      {"%total_smem_size", Sreg::TotalSmem},
      // Clusters of one block: rank 0 of a 1-block cluster.
      {"%cluster_ctarank", Sreg::Zero},  {"%cluster_nctarank", Sreg::One},
      {"%is_explicit_cluster", Sreg::Zero},
      {"%cluster_ctaid.x", Sreg::Zero}, {"%cluster_ctaid.y", Sreg::Zero}, {"%cluster_ctaid.z", Sreg::Zero},
      {"%cluster_nctaid.x", Sreg::One}, {"%cluster_nctaid.y", Sreg::One}, {"%cluster_nctaid.z", Sreg::One},
      {"%clusterid.x", Sreg::CtaidX},  {"%clusterid.y", Sreg::CtaidY},  {"%clusterid.z", Sreg::CtaidZ},
      {"%nclusterid.x", Sreg::NctaidX}, {"%nclusterid.y", Sreg::NctaidY}, {"%nclusterid.z", Sreg::NctaidZ},
  };
  for (auto& [n, s] : table)
    if (name == n) {
      *out = s;
      return true;
    }
  return false;
}

// The reserved shared-memory region (PTX ISA "%reserved_smem_offset_begin" and siblings): on a
// GPU the driver sets aside shared memory per block for system software (cooperative groups keep
// the barriers of tiles larger than a warp at %reserved_smem_offset_1). Here a kernel that reads
// one of these registers gets kReservedSmemBytes of zeroed shared memory after its static shared
// variables (so it counts in its static shared size); _0 names its first half, _1 its second.
bool LowerCtx::reserved_smem(const std::string& name, uint64_t* value) {
  static constexpr std::string_view kPrefix = "%reserved_smem_offset_";
  if (name.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  const std::string which = name.substr(kPrefix.size());
  if (which != "begin" && which != "end" && which != "cap" && which != "0" && which != "1") return false;
  if (reserved_smem_ == UINT64_MAX) reserved_smem_ = alloc_shared(kReservedSmemBytes, 16);
  if (which == "begin" || which == "0") *value = reserved_smem_;
  else if (which == "1") *value = reserved_smem_ + kReservedSmemBytes / 2;
  else if (which == "end") *value = reserved_smem_ + kReservedSmemBytes;
  else *value = kReservedSmemBytes;
  return true;
}

bool LowerCtx::reg(const ptx::Operand& op, RegEntry* out) {
  if ((op.kind != ptx::Operand::Kind::Register && op.kind != ptx::Operand::Kind::Address) || !scope_) return false;
  auto it = scope_->regs.find(op.name);
  if (it != scope_->regs.end()) {
    *out = it->second;
    return true;
  }
  const RegDecl* d = nullptr;
  auto dit = scope_->reg_decls.find(op.name);
  if (dit != scope_->reg_decls.end() && dit->second.count == 0) {
    d = &dit->second;
  } else {
    size_t p = op.name.size();
    while (p > 0 && op.name[p - 1] >= '0' && op.name[p - 1] <= '9') --p;
    if (p == op.name.size() || p == 0) return false;
    if (op.name.size() - p > 1 && op.name[p] == '0') return false;  // %r01 is not %r1
    auto rit = scope_->reg_decls.find(op.name.substr(0, p));
    if (rit == scope_->reg_decls.end() || rit->second.count == 0) return false;
    unsigned long n = std::stoul(op.name.substr(p));
    if (n >= rit->second.count) return false;
    d = &rit->second;
  }
  RegEntry e;
  e.is_pred = d->is_pred;
  e.type = d->type;
  e.index = d->is_pred ? k_.num_preds++ : k_.num_slots++;
  scope_->regs[op.name] = e;
  *out = e;
  return true;
}

void LowerCtx::patch_here(const LOperand* op, uint32_t global, int64_t addend) {
  auto byte = reinterpret_cast<const char*>(op) - reinterpret_cast<const char*>(cur_);
  GlobalPatch p;
  p.kernel = kernel_index_;
  p.instr = cur_index_;
  p.byte_offset = static_cast<uint32_t>(byte);
  p.addend = addend;
  prog_.patches_[global].push_back(p);
  globals_used_.insert(global);
}

bool LowerCtx::symbol_value(const ptx::Operand& op, LOperand* out, bool generic) {
  const VarBinding* b = find_var(op.name);
  if (!b) return false;
  out->kind = LOperand::Kind::Imm;
  bool inside = cur_ && reinterpret_cast<const char*>(out) >= reinterpret_cast<const char*>(cur_) &&
                reinterpret_cast<const char*>(out) < reinterpret_cast<const char*>(cur_ + 1);
  switch (b->where) {
    case VarBinding::Where::Global:
      if (!inside) return false;  // the address must be patched in place
      out->imm = 0;
      patch_here(out, b->global, 0);
      return true;
    case VarBinding::Where::Shared:
      out->imm = b->offset + (generic ? kSharedWindow : 0);
      return true;
    case VarBinding::Where::DynShared:
      if (!inside) return false;
      out->imm = generic ? kSharedWindow : 0;
      dyn_patches_.emplace_back(cur_index_, static_cast<uint32_t>(reinterpret_cast<const char*>(out) -
                                                                  reinterpret_cast<const char*>(cur_)));
      return true;
    case VarBinding::Where::Local:
      out->imm = b->offset + (generic ? kLocalWindow : 0);
      return true;
    case VarBinding::Where::KernelParam:
      out->imm = b->offset + (generic ? kParamWindow : 0);
      return true;
    case VarBinding::Where::Function:
      out->imm = kFunctionWindow + b->offset;
      address_taken(static_cast<uint32_t>(b->offset));
      return true;
  }
  return false;
}

bool LowerCtx::src(const ptx::Operand& op, ptx::Type t, LOperand* out) {
  *out = LOperand{};
  switch (op.kind) {
    case ptx::Operand::Kind::Register: {
      RegEntry r;
      if (!reg(op, &r) || r.is_pred) return false;
      out->kind = LOperand::Kind::Reg;
      out->index = r.index;
      return true;
    }
    case ptx::Operand::Kind::Special: {
      uint64_t reserved = 0;
      if (reserved_smem(op.name, &reserved)) {
        out->kind = LOperand::Kind::Imm;
        out->imm = reserved;
        return true;
      }
      Sreg s;
      if (!sreg_from_name(op.name, &s)) return false;
      auto it = sreg_slots_.find(s);
      uint32_t slot;
      if (it == sreg_slots_.end()) {
        slot = new_slot();
        sreg_slots_[s] = slot;
        k_.sregs.emplace_back(slot, s);
      } else {
        slot = it->second;
      }
      out->kind = LOperand::Kind::Reg;
      out->index = slot;
      return true;
    }
    case ptx::Operand::Kind::IntImm:
    case ptx::Operand::Kind::FloatImm:
      out->kind = LOperand::Kind::Imm;
      return imm_bits(op, t, &out->imm);
    case ptx::Operand::Kind::Symbol:
      if (op.name == "WARP_SZ" && find_var(op.name) == nullptr) {  // the predefined constant
        ptx::Operand warp_size;
        warp_size.kind = ptx::Operand::Kind::IntImm;
        warp_size.ivalue = kWarpSize;
        out->kind = LOperand::Kind::Imm;
        return imm_bits(warp_size, t, &out->imm);
      }
      return symbol_value(op, out, false);
    default:
      return false;
  }
}

uint32_t LowerCtx::reg_bytes(const ptx::Operand& op) {
  RegEntry r;
  if (op.kind != ptx::Operand::Kind::Register || !reg(op, &r) || r.is_pred) return 0;
  return ptx::type_size(r.type);
}

bool LowerCtx::dst(const ptx::Operand& op, ptx::Type t, LOperand* out) {
  *out = LOperand{};
  if (op.kind == ptx::Operand::Kind::Sink) return true;
  RegEntry r;
  if (!reg(op, &r)) return false;
  if (r.is_pred) {
    if (t != ptx::Type::Pred) return false;
    out->kind = LOperand::Kind::Pred;
  } else {
    out->kind = LOperand::Kind::Reg;
  }
  out->index = r.index;
  return true;
}

bool LowerCtx::dst_reg(const ptx::Operand& op, ptx::Type t, LOperand* out) {
  if (!dst(op, t, out)) return false;
  if (out->kind == LOperand::Kind::None) {
    out->kind = LOperand::Kind::Reg;
    out->index = 0;
  }
  return out->kind == LOperand::Kind::Reg;
}

bool LowerCtx::pred(const ptx::Operand& op, LOperand* out) {
  *out = LOperand{};
  RegEntry r;
  if (!reg(op, &r) || !r.is_pred) return false;
  out->kind = LOperand::Kind::Pred;
  out->index = r.index;
  out->negate = op.negate;
  return true;
}

bool LowerCtx::address(const ptx::Operand& op, ptx::Space space, LOperand* base, MemRef* out) {
  *out = MemRef{};
  *base = LOperand{};
  out->space = space;
  if (op.kind != ptx::Operand::Kind::Address) return false;
  out->offset = op.ivalue;
  if (op.name.empty()) {
    base->kind = LOperand::Kind::Imm;
    base->imm = 0;
    return true;
  }
  if (!op.base_is_symbol) {
    RegEntry r;
    if (!reg(op, &r) || r.is_pred) return false;
    base->kind = LOperand::Kind::Reg;
    base->index = r.index;
    return true;
  }
  const VarBinding* b = find_var(op.name);
  if (!b) return false;
  bool generic = space == ptx::Space::Generic;
  using W = VarBinding::Where;
  switch (b->where) {
    case W::Global:
      if (space != ptx::Space::Global && space != ptx::Space::Const && !generic) return false;
      if (space == ptx::Space::Const) out->space = ptx::Space::Global;
      break;
    case W::Shared:
    case W::DynShared:
      if (space != ptx::Space::Shared && !generic) return false;
      break;
    case W::Local:
      if (space != ptx::Space::Local && space != ptx::Space::Param && !generic) return false;
      if (!generic) out->space = ptx::Space::Local;
      break;
    case W::KernelParam:
      if (space != ptx::Space::Param && !generic) return false;
      break;
    case W::Function:
      return false;
  }
  ptx::Operand sym;
  sym.kind = ptx::Operand::Kind::Symbol;
  sym.name = op.name;
  return symbol_value(sym, base, generic);
}

}  // namespace gpool::emu::exec
