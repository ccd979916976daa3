// Warp-wide matrix instructions: wmma.load / wmma.store / wmma.mma and
// mma.sync. Each executes as one native operation over the warp's
// registers: the handler gathers every lane's fragment into whole matrices
// (tensor_frag.h says which element each register holds), computes
// D = A * B + C with a scalar loop, and scatters D back.
//
// Arithmetic (docs/emulator.md): f16/bf16/tf32/e4m3/e5m2 inputs are widened
// exactly (tf32 drops the low 13 mantissa bits of its f32 operand), every product is
// exact in f32, and the sum runs over k in order, rounded to f32 after each
// addition, starting from C; an f16 result is rounded once at the end. f64
// uses a fused multiply-add per k in the instruction's rounding mode.
// Integer products accumulate exactly and wrap to 32 bits, or clamp with
// .satfinite.
//
// Operand layouts (LInstr):
//   wmma.load:  s[0] = base, offset, s[1] = stride (elements); aux = first
//               destination in the kernel's operand pool; aux2 = FragCode.
//   wmma.store: s[0] = base, offset, s[1] = stride; aux = first source in
//               the pool; aux2 = FragCode.
//   wmma.mma / mma: aux = first pool operand (d, a, b, c registers in that
//               order); offset = MmaCode.
// Every lane of the warp must execute these together (.sync.aligned); a
// partial or diverged warp faults with IllegalInstruction.
//
// Owner: the tensor family. Thread safety: handlers touch only their warp.
#include "block.h"
#include "float_lanes.h"
#include "lower_context.h"
#include "mem_access.h"
#include "tensor_frag.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <limits>

namespace gpool::emu::exec {
namespace {

using tensor::Elem;
using tensor::Family;
using tensor::Frag;
using tensor::Role;
using tensor::Shape;

constexpr uint32_t kMaxElems = 512;  // the largest operand: 32x16 / 16x32 (and 4 x 8x8 quad pairs)

std::optional<Elem> elem_of(ptx::Type t) {
  switch (t) {
    case ptx::Type::F16: return Elem::F16;
    case ptx::Type::BF16: return Elem::BF16;
    case ptx::Type::TF32: return Elem::TF32;
    case ptx::Type::F32: return Elem::F32;
    case ptx::Type::F64: return Elem::F64;
    case ptx::Type::S8: return Elem::S8;
    case ptx::Type::U8: return Elem::U8;
    case ptx::Type::S32: return Elem::S32;
    default: return std::nullopt;
  }
}

bool parse_shape(const std::string& m, Shape* s) {
  unsigned a = 0, b = 0, c = 0;
  if (std::sscanf(m.c_str(), "m%un%uk%u", &a, &b, &c) != 3 || a > 32 || b > 32 || c > 32) return false;
  if (fmt::format("m{}n{}k{}", a, b, c) != m) return false;
  s->m = static_cast<uint8_t>(a);
  s->n = static_cast<uint8_t>(b);
  s->k = static_cast<uint8_t>(c);
  return true;
}

bool shape_is(Shape s, int m, int n, int k) { return s.m == m && s.n == n && s.k == k; }

// ---- encodings of the decoded form in LInstr fields ----------------------

// wmma.load/store: shape, role, element, column-major, state space.
struct FragCode {
  Shape shape;
  Role role = Role::A;
  Elem elem = Elem::F16;
  bool col = false;
  ptx::Space space = ptx::Space::Generic;

  uint32_t encode() const {
    return shape.m | (shape.n << 6) | (shape.k << 12) | (static_cast<uint32_t>(role) << 18) |
           (static_cast<uint32_t>(elem) << 20) | (static_cast<uint32_t>(col) << 24) |
           (static_cast<uint32_t>(space) << 25);
  }
  static FragCode decode(uint32_t v) {
    FragCode c;
    c.shape.m = v & 63;
    c.shape.n = (v >> 6) & 63;
    c.shape.k = (v >> 12) & 63;
    c.role = static_cast<Role>((v >> 18) & 3);
    c.elem = static_cast<Elem>((v >> 20) & 15);
    c.col = (v >> 24) & 1;
    c.space = static_cast<ptx::Space>((v >> 25) & 15);
    return c;
  }
};

struct MmaCode {
  Family fam = Family::Wmma;
  Shape shape;
  Elem a = Elem::F16, b = Elem::F16, c = Elem::F32, d = Elem::F32;
  bool satfinite = false, a_col = false, b_row = false;
  fp::Rnd rnd = fp::Rnd::RN;

  int64_t encode() const {
    uint64_t v = shape.m | (shape.n << 6) | (shape.k << 12) | (uint64_t(a) << 18) | (uint64_t(b) << 22) |
                 (uint64_t(c) << 26) | (uint64_t(d) << 30) | (uint64_t(satfinite) << 34) |
                 (uint64_t(a_col) << 35) | (uint64_t(b_row) << 36) | (uint64_t(rnd) << 37) |
                 (uint64_t(fam) << 41);
    return static_cast<int64_t>(v);
  }
  static MmaCode decode(int64_t sv) {
    const auto v = static_cast<uint64_t>(sv);
    MmaCode m;
    m.shape.m = v & 63;
    m.shape.n = (v >> 6) & 63;
    m.shape.k = (v >> 12) & 63;
    m.a = static_cast<Elem>((v >> 18) & 15);
    m.b = static_cast<Elem>((v >> 22) & 15);
    m.c = static_cast<Elem>((v >> 26) & 15);
    m.d = static_cast<Elem>((v >> 30) & 15);
    m.satfinite = (v >> 34) & 1;
    m.a_col = (v >> 35) & 1;
    m.b_row = (v >> 36) & 1;
    m.rnd = static_cast<fp::Rnd>((v >> 37) & 15);
    m.fam = static_cast<Family>((v >> 41) & 1);
    return m;
  }
  Frag frag(Role r, Elem e) const {
    Frag f = tensor::make_frag(fam, shape, r, e);
    f.a_col = a_col;
    f.b_row = b_row;
    return f;
  }
};

// ---- element <-> register bits -------------------------------------------

inline uint64_t field(uint64_t reg, Elem e, uint32_t sub) {
  const uint32_t bits = tensor::elem_bits(e);
  if (bits >= 32) return reg;
  return (reg >> (bits * sub)) & ((uint64_t{1} << bits) - 1);
}

inline double to_double(Elem e, uint64_t v) {
  switch (e) {
    case Elem::F16: return fp::f16_bits_to_f32(v);
    case Elem::BF16: return fp::bf16_bits_to_f32(v);
    case Elem::TF32: return fp::f32_from_bits(v & 0xffffe000u);
    case Elem::F32: return fp::f32_from_bits(v);
    case Elem::F64: return fp::f64_from_bits(v);
    case Elem::E4M3: return fp::f32_from_bits(fp::convert(fp::kE4M3, fp::kF32, v & 0xff, fp::Rnd::RN));
    case Elem::E5M2: return fp::f32_from_bits(fp::convert(fp::kE5M2, fp::kF32, v & 0xff, fp::Rnd::RN));
    default: return 0;
  }
}

inline int64_t to_int(Elem e, uint64_t v) {
  switch (e) {
    case Elem::S8: return static_cast<int8_t>(v);
    case Elem::U8: return static_cast<uint8_t>(v);
    default: return static_cast<int32_t>(v);
  }
}

// Which of the four quad-pair matrices a lane's fragment belongs to (0 except mma.m8n8k4 f16).
inline uint32_t group_of(const Frag& f, int lane) { return f.m8n8k4_f16 ? tensor::quad_pair(lane) : 0; }

// Gathers one operand from the warp's registers into g matrices of rows x cols.
template <class T, class Conv>
void gather(const WarpState& w, const Frag& f, const LOperand* regs, T* out, Conv conv) {
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const uint32_t base = group_of(f, lane) * f.rows * f.cols;
    for (uint32_t i = 0; i < f.per_lane; ++i) {
      uint32_t r, c;
      tensor::element_pos(f, lane, i, &r, &c);
      out[base + r * f.cols + c] = conv(field(w.get(regs[i / f.per_reg], lane), f.elem, i % f.per_reg));
    }
  }
}

// Scatters D (g matrices of rows x cols, already as element bits) into registers.
void scatter(WarpState& w, const Frag& f, const LOperand* regs, const uint64_t* bits) {
  const uint32_t eb = tensor::elem_bits(f.elem);
  const uint64_t mask = eb >= 64 ? ~uint64_t{0} : (uint64_t{1} << eb) - 1;
  for (uint32_t j = 0; j < f.nregs; ++j) {
    uint64_t* d = w.reg(regs[j].index);
    for (int lane = 0; lane < kWarpSize; ++lane) {
      const uint32_t base = group_of(f, lane) * f.rows * f.cols;
      uint64_t v = 0;
      for (uint32_t s = 0; s < f.per_reg; ++s) {
        uint32_t r, c;
        tensor::element_pos(f, lane, j * f.per_reg + s, &r, &c);
        v |= (bits[base + r * f.cols + c] & mask) << (eb * s);
      }
      d[lane] = v;
    }
  }
}

bool whole_warp(const LInstr& in, WarpState& w, LaneMask active) {
  if (active == kFullMask) return true;
  const int lane = std::countr_zero(active);
  w.fault(LaunchStatus::IllegalInstruction,
          fmt::format("'{}' needs all 32 lanes of the warp converged (active lanes {:#010x}; a partial last "
                      "warp or a divergent branch cannot run a warp-wide matrix operation): {}",
                      in.opname, active, describe_site(in, w, lane)));
  return false;
}

// ---- wmma.load / wmma.store --------------------------------------------------

template <bool kStore>
void h_wmma_mem(const LInstr& in, WarpState& w, LaneMask active) {
  if (!whole_warp(in, w, active)) return;
  const FragCode fc = FragCode::decode(in.aux2);
  const Frag f = tensor::make_frag(Family::Wmma, fc.shape, fc.role, fc.elem);
  const LOperand* regs = w.block->launch->k->operand_pool.data() + in.aux;
  const uint32_t eb = tensor::elem_bits(fc.elem) / 8;
  uint64_t base[kWarpSize], stride[kWarpSize], addr[kWarpSize];
  uint8_t* ptrs[kWarpSize];
  lane_addresses(in, w, active, base);
  for (int l = 0; l < kWarpSize; ++l) stride[l] = static_cast<uint32_t>(w.get(in.s[1], l));
  uint64_t vals[kWarpSize][16];  // loads: elements per lane, written after every read succeeded
  for (uint32_t i = 0; i < f.per_lane; ++i) {
    for (int l = 0; l < kWarpSize; ++l) {
      uint32_t r, c;
      tensor::element_pos(f, l, i, &r, &c);
      const uint64_t idx = fc.col ? uint64_t{c} * stride[l] + r : uint64_t{r} * stride[l] + c;
      addr[l] = base[l] + idx * eb;
    }
    if (!resolve_lanes(in, w, active, fc.space, addr, eb, eb, kStore, ptrs)) return;
    for (int l = 0; l < kWarpSize; ++l) {
      if constexpr (kStore) {
        const uint64_t v = field(w.get(regs[i / f.per_reg], l), f.elem, i % f.per_reg);
        std::memcpy(ptrs[l], &v, eb);  // little-endian: the low eb bytes
      } else {
        uint64_t v = 0;
        std::memcpy(&v, ptrs[l], eb);
        vals[l][i] = v;
      }
    }
  }
  if constexpr (!kStore) {
    for (uint32_t j = 0; j < f.nregs; ++j) {
      uint64_t* d = w.reg(regs[j].index);
      for (int l = 0; l < kWarpSize; ++l) {
        uint64_t v = 0;
        for (uint32_t s = 0; s < f.per_reg; ++s) v |= vals[l][j * f.per_reg + s] << (eb * 8 * s);
        d[l] = v;
      }
    }
  }
}

// ---- the multiply-accumulate ---------------------------------------------------

// D element bits; .satfinite turns a result that is infinite in D's format (f32 or f16 after
// rounding) into the largest finite value of that sign.
uint64_t float_result(Elem d, float v, bool satfinite) {
  if (d == Elem::F16) {
    const uint16_t h = fp::f16_from_f32(v);
    if (satfinite && (h & 0x7fff) == 0x7c00) return (h & 0x8000) | 0x7bff;
    return h;
  }
  if (satfinite && std::isinf(v)) v = std::signbit(v) ? -std::numeric_limits<float>::max() : std::numeric_limits<float>::max();
  return fp::bits_of(v);
}

void h_mma(const LInstr& in, WarpState& w, LaneMask active) {
  if (!whole_warp(in, w, active)) return;
  const MmaCode mc = MmaCode::decode(in.offset);
  const Frag fa = mc.frag(Role::A, mc.a), fb = mc.frag(Role::B, mc.b);
  const Frag fc = mc.frag(Role::C, mc.c), fd = mc.frag(Role::C, mc.d);
  const LOperand* ops = w.block->launch->k->operand_pool.data() + in.aux;
  const LOperand* od = ops;
  const LOperand* oa = od + fd.nregs;
  const LOperand* ob = oa + fa.nregs;
  const LOperand* oc = ob + fb.nregs;
  const uint32_t groups = fa.m8n8k4_f16 ? 4 : 1;
  const uint32_t M = mc.shape.m, N = mc.shape.n, K = mc.shape.k;
  std::array<uint64_t, kMaxElems> out{};
  if (tensor::elem_is_int(mc.a)) {
    std::array<int64_t, kMaxElems> A{}, B{}, C{};
    gather(w, fa, oa, A.data(), [&](uint64_t v) { return to_int(mc.a, v); });
    gather(w, fb, ob, B.data(), [&](uint64_t v) { return to_int(mc.b, v); });
    gather(w, fc, oc, C.data(), [&](uint64_t v) { return to_int(mc.c, v); });
    for (uint32_t i = 0; i < M; ++i)
      for (uint32_t j = 0; j < N; ++j) {
        int64_t acc = C[i * N + j];
        for (uint32_t k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
        if (mc.satfinite) acc = std::clamp<int64_t>(acc, INT32_MIN, INT32_MAX);
        out[i * N + j] = static_cast<uint32_t>(static_cast<uint64_t>(acc));
      }
  } else {
    std::array<double, kMaxElems> A{}, B{}, C{};
    gather(w, fa, oa, A.data(), [&](uint64_t v) { return to_double(mc.a, v); });
    gather(w, fb, ob, B.data(), [&](uint64_t v) { return to_double(mc.b, v); });
    gather(w, fc, oc, C.data(), [&](uint64_t v) { return to_double(mc.c, v); });
    if (mc.a == Elem::F64) {
      fl::HostRounding rounding(mc.rnd);  // results go to memory (out) inside the scope
      for (uint32_t i = 0; i < M; ++i)
        for (uint32_t j = 0; j < N; ++j) {
          double acc = C[i * N + j];
          for (uint32_t k = 0; k < K; ++k) acc = std::fma(A[i * K + k], B[k * N + j], acc);
          out[i * N + j] = fp::bits_of(acc);
        }
    } else {
      // f16/bf16/tf32 elements and f16/f32 accumulators are exact in float. The k loop sits
      // outside the j loop so the N independent sums of a row run side by side (the compiler
      // vectorizes them); each element still sees exactly the same operations in the same order
      // (C, then + A[i][k]*B[k][j] for k = 0, 1, ...), and every product is exact in f32, so a
      // contracted multiply-add rounds the same as a multiply and an add.
      std::array<float, kMaxElems> Af, Bf;
      for (uint32_t e = 0; e < groups * M * K; ++e) Af[e] = static_cast<float>(A[e]);
      for (uint32_t e = 0; e < groups * K * N; ++e) Bf[e] = static_cast<float>(B[e]);
      for (uint32_t g = 0; g < groups; ++g) {
        const float* Ag = Af.data() + g * M * K;
        const float* Bg = Bf.data() + g * K * N;
        const double* Cg = C.data() + g * M * N;
        for (uint32_t i = 0; i < M; ++i) {
          float acc[kMaxElems];  // one row of D (N <= 32 for every float shape)
          for (uint32_t j = 0; j < N; ++j) acc[j] = static_cast<float>(Cg[i * N + j]);
          for (uint32_t k = 0; k < K; ++k) {
            const float a = Ag[i * K + k];
            const float* Brow = Bg + k * N;
            for (uint32_t j = 0; j < N; ++j) acc[j] += a * Brow[j];
          }
          for (uint32_t j = 0; j < N; ++j) out[g * M * N + i * N + j] = float_result(mc.d, acc[j], mc.satfinite);
        }
      }
    }
  }
  scatter(w, fd, od, out.data());
}

// ---- lowering --------------------------------------------------------------------

// The element types an A/B operand and an accumulator may have with `shape` (wmma).
bool wmma_combo_ok(Shape s, Elem ab, Elem c) {
  const bool f16_shapes = shape_is(s, 16, 16, 16) || shape_is(s, 32, 8, 16) || shape_is(s, 8, 32, 16);
  switch (ab) {
    case Elem::F16: return f16_shapes && (c == Elem::F16 || c == Elem::F32);
    case Elem::BF16: return f16_shapes && c == Elem::F32;
    case Elem::S8: case Elem::U8: return f16_shapes && c == Elem::S32;
    case Elem::TF32: return shape_is(s, 16, 16, 8) && c == Elem::F32;
    case Elem::F64: return shape_is(s, 8, 8, 4) && c == Elem::F64;
    default: return false;
  }
}

// Accumulator element types of a wmma shape (for load.c / store.d).
bool wmma_acc_ok(Shape s, Elem c) {
  if (shape_is(s, 16, 16, 8)) return c == Elem::F32;
  if (shape_is(s, 8, 8, 4)) return c == Elem::F64;
  return wmma_combo_ok(s, Elem::F16, c) || c == Elem::S32;
}

// Reads a register vector of exactly `n` elements into `out` (sources or destinations).
bool reg_vector(const ptx::Instruction& in, LowerContext& ctx, const ptx::Operand& op, uint32_t n, bool is_dst,
                ptx::Type t, const char* what, std::vector<LOperand>* out) {
  const std::string name = full_opcode(in);
  if (op.kind != ptx::Operand::Kind::Vector || op.elems.size() != n)
    return ctx.fail(in, fmt::format("operand {} of '{}' must be a vector of {} registers", what, name, n));
  for (const auto& e : op.elems) {
    LOperand o;
    if (is_dst) {
      if (!ctx.dst(e, t, &o) || o.kind == LOperand::Kind::Pred)
        return ctx.fail(in, fmt::format("operand {} of '{}' is not a register", what, name));
      if (o.kind == LOperand::Kind::None) o.kind = LOperand::Kind::Reg, o.index = 0;  // "_": the discard slot
    } else if (!ctx.src(e, t, &o)) {
      return ctx.fail(in, fmt::format("operand {} of '{}' is not a register or immediate", what, name));
    }
    out->push_back(o);
  }
  return true;
}

ptx::Type reg_type(Elem e) { return e == Elem::F64 ? ptx::Type::F64 : e == Elem::F32 ? ptx::Type::F32 : ptx::Type::B32; }

bool lower_wmma_mem(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, bool store) {
  auto& c = static_cast<LowerCtx&>(ctx);
  const std::string name = full_opcode(in);
  FragCode fc;
  bool have_shape = false, have_layout = false, have_role = false, have_type = false;
  for (size_t i = 1; i < in.modifiers.size(); ++i) {
    const std::string& m = in.modifiers[i];
    if (m == "sync" || m == "aligned") continue;
    if (!store && (m == "a" || m == "b" || m == "c")) {
      fc.role = m == "a" ? Role::A : m == "b" ? Role::B : Role::C;
      have_role = true;
    } else if (store && m == "d") {
      fc.role = Role::C;
      have_role = true;
    } else if (m == "row" || m == "col") {
      fc.col = m == "col";
      have_layout = true;
    } else if (m == "global") {
      fc.space = ptx::Space::Global;
    } else if (m == "shared" || m == "shared::cta") {
      fc.space = ptx::Space::Shared;
    } else if (auto t = ptx::type_from_name(m)) {
      auto e = elem_of(*t);
      if (!e) return ctx.fail(in, fmt::format("unsupported instruction '{}' (element type .{})", name, m));
      fc.elem = *e;
      have_type = true;
    } else if (m[0] == 'm' && parse_shape(m, &fc.shape)) {
      have_shape = true;
    } else {
      return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", name, m));
    }
  }
  if (!have_shape || !have_layout || !have_role || !have_type)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (needs a matrix, layout, shape and type)", name));
  const bool ok = fc.role == Role::C ? wmma_acc_ok(fc.shape, fc.elem)
                                     : wmma_combo_ok(fc.shape, fc.elem,
                                                     fc.elem == Elem::F16   ? Elem::F32
                                                     : fc.elem == Elem::F64 ? Elem::F64
                                                     : fc.elem == Elem::TF32 || fc.elem == Elem::BF16
                                                         ? Elem::F32
                                                         : Elem::S32);
  if (!ok) return ctx.fail(in, fmt::format("unsupported instruction '{}' (shape and type combination)", name));
  const Frag f = tensor::make_frag(Family::Wmma, fc.shape, fc.role, fc.elem);
  const auto& ops = in.operands;
  if (ops.size() != 2 && ops.size() != 3) return ctx.fail(in, fmt::format("operand count of '{}'", name));
  const ptx::Operand& addr = store ? ops[0] : ops[1];
  const ptx::Operand& frag = store ? ops[1] : ops[0];
  MemRef mr;
  if (!c.address(addr, fc.space, &out.s[0], &mr))
    return ctx.fail(in, fmt::format("unsupported address operand in '{}'", name));
  fc.space = mr.space;
  out.offset = mr.offset;
  std::vector<LOperand> regs;
  if (!reg_vector(in, ctx, frag, f.nregs, !store, reg_type(fc.elem), "fragment", &regs)) return false;
  if (ops.size() == 3) {
    if (!ctx.src(ops[2], ptx::Type::U32, &out.s[1])) return ctx.fail(in, fmt::format("stride of '{}'", name));
  } else {  // no stride: the matrix is packed
    out.s[1].kind = LOperand::Kind::Imm;
    out.s[1].imm = fc.col ? f.rows : f.cols;
  }
  out.ns = 2;
  out.aux = ctx.add_operands(regs);
  if (out.aux == UINT32_MAX) return ctx.fail(in, "no operand pool for '" + name + "'");
  out.aux2 = fc.encode();
  out.fn = store ? h_wmma_mem<true> : h_wmma_mem<false>;
  return true;
}

bool lower_mma_common(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, Family fam) {
  const std::string name = full_opcode(in);
  MmaCode mc;
  mc.fam = fam;
  std::vector<std::string> layouts;
  std::vector<Elem> types;
  bool have_shape = false, sync = false, aligned = false;
  for (size_t i = fam == Family::Wmma ? 1 : 0; i < in.modifiers.size(); ++i) {
    const std::string& m = in.modifiers[i];
    if (m == "sync") sync = true;
    else if (m == "aligned") aligned = true;
    else if (m == "row" || m == "col") layouts.push_back(m);
    else if (m == "satfinite") mc.satfinite = true;
    else if (m == "rn") mc.rnd = fp::Rnd::RN;
    else if (m == "rz") mc.rnd = fp::Rnd::RZ;
    else if (m == "rm") mc.rnd = fp::Rnd::RM;
    else if (m == "rp") mc.rnd = fp::Rnd::RP;
    else if (m[0] == 'm' && parse_shape(m, &mc.shape)) have_shape = true;
    else if (fam == Family::Mma && (m == "e4m3" || m == "e5m2")) types.push_back(m == "e4m3" ? Elem::E4M3 : Elem::E5M2);
    else if (auto t = ptx::type_from_name(m)) {
      auto e = elem_of(*t);
      if (!e) return ctx.fail(in, fmt::format("unsupported instruction '{}' (element type .{})", name, m));
      types.push_back(*e);
    } else {
      return ctx.fail(in, fmt::format("unsupported instruction '{}' (modifier .{})", name, m));
    }
  }
  if (!sync || !aligned || !have_shape || layouts.size() != 2)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (needs .sync.aligned, two layouts and a shape)", name));
  if (types.size() == 2) {  // f16 inputs: .dtype.ctype
    mc.d = types[0];
    mc.c = types[1];
    mc.a = mc.b = Elem::F16;
  } else if (types.size() == 4) {
    mc.d = types[0];
    mc.a = types[1];
    mc.b = types[2];
    mc.c = types[3];
  } else {
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (types)", name));
  }
  mc.a_col = layouts[0] == "col";
  mc.b_row = layouts[1] == "row";
  const Shape s = mc.shape;
  const bool ints = tensor::elem_is_int(mc.a);
  bool ok = false;
  if (fam == Family::Wmma) {
    ok = wmma_combo_ok(s, mc.a, mc.c) && mc.a == mc.b && (ints || mc.a != Elem::S32) &&
         (ints ? mc.d == Elem::S32 : (mc.a == Elem::F16 ? (mc.d == Elem::F16 || mc.d == Elem::F32) : mc.d == mc.c));
    if (ints && tensor::elem_is_int(mc.b) && mc.a != mc.b) ok = false;
  } else {
    const bool f16ish = (mc.a == Elem::F16 || mc.a == Elem::BF16) && mc.b == mc.a;
    const bool int8 = (mc.a == Elem::S8 || mc.a == Elem::U8) && (mc.b == Elem::S8 || mc.b == Elem::U8);
    const bool fp8 = (mc.a == Elem::E4M3 || mc.a == Elem::E5M2) && (mc.b == Elem::E4M3 || mc.b == Elem::E5M2);
    const bool fc_ok = mc.c == Elem::F32 || (mc.a == Elem::F16 && mc.c == Elem::F16);
    const bool fd_ok = mc.d == Elem::F32 || (mc.a == Elem::F16 && mc.d == Elem::F16);
    if (f16ish && (shape_is(s, 16, 8, 16) || shape_is(s, 16, 8, 8))) ok = fc_ok && fd_ok && mc.c == mc.d;
    else if (mc.a == Elem::F16 && mc.b == Elem::F16 && shape_is(s, 8, 8, 4)) ok = fc_ok && fd_ok;
    else if (mc.a == Elem::TF32 && mc.b == Elem::TF32 && (shape_is(s, 16, 8, 8) || shape_is(s, 16, 8, 4)))
      ok = mc.c == Elem::F32 && mc.d == Elem::F32;
    else if (mc.a == Elem::F64 && mc.b == Elem::F64 &&
             (shape_is(s, 8, 8, 4) || shape_is(s, 16, 8, 4) || shape_is(s, 16, 8, 8) || shape_is(s, 16, 8, 16)))
      ok = mc.c == Elem::F64 && mc.d == Elem::F64;
    else if (int8 && (shape_is(s, 16, 8, 32) || shape_is(s, 16, 8, 16) || shape_is(s, 8, 8, 16)))
      ok = mc.c == Elem::S32 && mc.d == Elem::S32;
    else if (fp8 && (shape_is(s, 16, 8, 32) || shape_is(s, 16, 8, 16)))  // any e4m3/e5m2 mix
      ok = mc.c == mc.d && (mc.c == Elem::F32 || mc.c == Elem::F16);
    const bool m8n8k4_f16 = shape_is(s, 8, 8, 4) && mc.a == Elem::F16;
    if (!m8n8k4_f16 && (mc.a_col || mc.b_row)) ok = false;
  }
  if (!ok) return ctx.fail(in, fmt::format("unsupported instruction '{}' (shape and type combination)", name));
  if (mc.rnd != fp::Rnd::RN && mc.a != Elem::F64)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (rounding modifier)", name));
  if (mc.satfinite && mc.a == Elem::F64)
    return ctx.fail(in, fmt::format("unsupported instruction '{}' (.satfinite on f64)", name));
  if (in.operands.size() != 4) return ctx.fail(in, fmt::format("operand count of '{}'", name));
  const Frag fa = mc.frag(Role::A, mc.a), fb = mc.frag(Role::B, mc.b);
  const Frag fc = mc.frag(Role::C, mc.c), fd = mc.frag(Role::C, mc.d);
  std::vector<LOperand> regs;
  if (!reg_vector(in, ctx, in.operands[0], fd.nregs, true, reg_type(mc.d), "d", &regs) ||
      !reg_vector(in, ctx, in.operands[1], fa.nregs, false, reg_type(mc.a), "a", &regs) ||
      !reg_vector(in, ctx, in.operands[2], fb.nregs, false, reg_type(mc.b), "b", &regs) ||
      !reg_vector(in, ctx, in.operands[3], fc.nregs, false, reg_type(mc.c), "c", &regs))
    return false;
  out.aux = ctx.add_operands(regs);
  if (out.aux == UINT32_MAX) return ctx.fail(in, "no operand pool for '" + name + "'");
  out.offset = mc.encode();
  out.fn = h_mma;
  return true;
}

bool lower_wmma(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  const std::string name = full_opcode(in);
  if (in.modifiers.empty()) return ctx.fail(in, "unsupported instruction '" + name + "'");
  const std::string& what = in.modifiers[0];
  if (what == "load") return lower_wmma_mem(in, ctx, out, false);
  if (what == "store") return lower_wmma_mem(in, ctx, out, true);
  if (what == "mma") return lower_mma_common(in, ctx, out, Family::Wmma);
  return ctx.fail(in, "unsupported instruction '" + name + "'");
}

bool lower_mma(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_mma_common(in, ctx, out, Family::Mma);
}

}  // namespace

void register_tensor_ops(OpTable& t) {
  t.add("wmma", lower_wmma);
  t.add("mma", lower_mma);
  register_ldmatrix_ops(t);
}

}  // namespace gpool::emu::exec
