// mma.sync, ldmatrix and stmatrix, table-driven. Every row of a table is one
// instruction form; the test generates a PTX kernel in which each lane loads
// its fragment registers from memory, executes the instruction and stores
// its result registers. The host places matrix elements into lanes with the
// per-lane fragment layouts of the PTX ISA (written out here independently
// of the emulator) and compares D = A * B + C with a scalar reference.
#include "exec_test_util.h"
#include "tensor_test_util.h"

#include <fmt/format.h>

#include <ostream>

namespace gpool::emu::exec::test {
namespace {

enum class E { F16, BF16, TF32, F32, F64, S8, U8, S32, E4M3, E5M2 };
enum class Role { A, B, C };

uint32_t bits_of(E e) {
  switch (e) {
    case E::F16: case E::BF16: return 16;
    case E::S8: case E::U8: case E::E4M3: case E::E5M2: return 8;
    case E::F64: return 64;
    default: return 32;
  }
}

struct MmaCase {
  const char* name;
  const char* instr;  // the opcode with modifiers
  int m, n, k;
  E a, b, c, d;
  bool a_col = false, b_row = false;  // m8n8k4 f16 only
  double c_offset = 0;                // added to every C element (drives s32 sums past INT32_MAX)
};

// Test names in ctest: the case name, not its bytes.
void PrintTo(const MmaCase& c, std::ostream* os) { *os << c.name; }

const MmaCase kMma[] = {
    {"m16n8k16_f32_f16", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", 16, 8, 16, E::F16, E::F16, E::F32, E::F32},
    {"m16n8k16_f16_f16", "mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16", 16, 8, 16, E::F16, E::F16, E::F16, E::F16},
    {"m16n8k16_f32_bf16", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", 16, 8, 16, E::BF16, E::BF16, E::F32, E::F32},
    {"m16n8k8_f32_f16", "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32", 16, 8, 8, E::F16, E::F16, E::F32, E::F32},
    {"m16n8k8_f16_f16", "mma.sync.aligned.m16n8k8.row.col.f16.f16.f16.f16", 16, 8, 8, E::F16, E::F16, E::F16, E::F16},
    {"m16n8k8_f32_bf16", "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32", 16, 8, 8, E::BF16, E::BF16, E::F32, E::F32},
    {"m16n8k8_tf32", "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", 16, 8, 8, E::TF32, E::TF32, E::F32, E::F32},
    {"m16n8k4_tf32", "mma.sync.aligned.m16n8k4.row.col.f32.tf32.tf32.f32", 16, 8, 4, E::TF32, E::TF32, E::F32, E::F32},
    {"m8n8k4_f64", "mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64", 8, 8, 4, E::F64, E::F64, E::F64, E::F64},
    {"m16n8k4_f64", "mma.sync.aligned.m16n8k4.row.col.f64.f64.f64.f64", 16, 8, 4, E::F64, E::F64, E::F64, E::F64},
    {"m16n8k8_f64", "mma.sync.aligned.m16n8k8.row.col.f64.f64.f64.f64", 16, 8, 8, E::F64, E::F64, E::F64, E::F64},
    {"m16n8k16_f64_rn", "mma.sync.aligned.m16n8k16.row.col.rn.f64.f64.f64.f64", 16, 8, 16, E::F64, E::F64, E::F64, E::F64},
    {"m16n8k32_s8", "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32", 16, 8, 32, E::S8, E::S8, E::S32, E::S32},
    {"m16n8k32_u8_s8_satfinite", "mma.sync.aligned.m16n8k32.row.col.satfinite.s32.u8.s8.s32", 16, 8, 32, E::U8, E::S8, E::S32, E::S32},
    {"m16n8k16_s8", "mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32", 16, 8, 16, E::S8, E::S8, E::S32, E::S32},
    {"m8n8k16_u8", "mma.sync.aligned.m8n8k16.row.col.s32.u8.u8.s32", 8, 8, 16, E::U8, E::U8, E::S32, E::S32},
    {"m16n8k32_s8_u8", "mma.sync.aligned.m16n8k32.row.col.s32.s8.u8.s32", 16, 8, 32, E::S8, E::U8, E::S32, E::S32},
    {"m16n8k16_u8_s8_satfinite", "mma.sync.aligned.m16n8k16.row.col.satfinite.s32.u8.s8.s32", 16, 8, 16, E::U8, E::S8, E::S32, E::S32},
    {"m16n8k16_u8", "mma.sync.aligned.m16n8k16.row.col.s32.u8.u8.s32", 16, 8, 16, E::U8, E::U8, E::S32, E::S32},
    {"m8n8k16_s8_u8", "mma.sync.aligned.m8n8k16.row.col.s32.s8.u8.s32", 8, 8, 16, E::S8, E::U8, E::S32, E::S32},
    {"m8n8k16_s8_satfinite", "mma.sync.aligned.m8n8k16.row.col.satfinite.s32.s8.s8.s32", 8, 8, 16, E::S8, E::S8, E::S32, E::S32},
    {"m16n8k32_u8_satfinite_clamps", "mma.sync.aligned.m16n8k32.row.col.satfinite.s32.u8.u8.s32", 16, 8, 32, E::U8, E::U8, E::S32, E::S32, false, false, 2147480000.0},
    // cuSPARSE writes .satfinite last
    {"m16n8k32_s8_satfinite_last", "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32.satfinite", 16, 8, 32, E::S8, E::S8, E::S32, E::S32, false, false, 2147480000.0},
    {"m16n8k32_u8_wraps", "mma.sync.aligned.m16n8k32.row.col.s32.u8.u8.s32", 16, 8, 32, E::U8, E::U8, E::S32, E::S32, false, false, 2147480000.0},
    {"m8n8k4_f32_f16_rc", "mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f32", 8, 8, 4, E::F16, E::F16, E::F32, E::F32},
    // fp8: the fragments of the 8-bit integer shapes, f32 or f16 accumulators, any e4m3/e5m2 mix.
    {"m16n8k32_f32_e4m3_e4m3", "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32", 16, 8, 32, E::E4M3, E::E4M3, E::F32, E::F32},
    {"m16n8k32_f32_e4m3_e5m2", "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32", 16, 8, 32, E::E4M3, E::E5M2, E::F32, E::F32},
    {"m16n8k32_f32_e5m2_e4m3", "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32", 16, 8, 32, E::E5M2, E::E4M3, E::F32, E::F32},
    {"m16n8k32_f32_e5m2_e5m2", "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32", 16, 8, 32, E::E5M2, E::E5M2, E::F32, E::F32},
    {"m16n8k32_f16_e4m3_e4m3", "mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16", 16, 8, 32, E::E4M3, E::E4M3, E::F16, E::F16},
    {"m16n8k16_f32_e4m3_e5m2", "mma.sync.aligned.m16n8k16.row.col.f32.e4m3.e5m2.f32", 16, 8, 16, E::E4M3, E::E5M2, E::F32, E::F32},
    {"m16n8k16_f16_e5m2_e5m2", "mma.sync.aligned.m16n8k16.row.col.f16.e5m2.e5m2.f16", 16, 8, 16, E::E5M2, E::E5M2, E::F16, E::F16},
    {"m8n8k4_f32_f16_rr", "mma.sync.aligned.m8n8k4.row.row.f32.f16.f16.f32", 8, 8, 4, E::F16, E::F16, E::F32, E::F32, false, true},
    {"m8n8k4_f16_f16_cc", "mma.sync.aligned.m8n8k4.col.col.f16.f16.f16.f16", 8, 8, 4, E::F16, E::F16, E::F16, E::F16, true, false},
    {"m8n8k4_f16_f16_rc", "mma.sync.aligned.m8n8k4.row.col.f16.f16.f16.f16", 8, 8, 4, E::F16, E::F16, E::F16, E::F16},
    // mixed accumulators: D f32 from C f16, D f16 from C f32
    {"m8n8k4_f32_f16_c16", "mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f16", 8, 8, 4, E::F16, E::F16, E::F16, E::F32},
    {"m8n8k4_f16_f16_c32", "mma.sync.aligned.m8n8k4.row.col.f16.f16.f16.f32", 8, 8, 4, E::F16, E::F16, E::F32, E::F16},
    {"m8n8k4_f16_f16_cr", "mma.sync.aligned.m8n8k4.col.row.f16.f16.f16.f16", 8, 8, 4, E::F16, E::F16, E::F16, E::F16, true, true},
};

bool quad_pairs(const MmaCase& c) { return c.m == 8 && c.n == 8 && c.k == 4 && c.a == E::F16; }

// Elements per lane of one operand.
int per_lane(const MmaCase& c, Role r, E e) {
  if (quad_pairs(c)) return r == Role::C ? 8 : 4;
  const int rows = r == Role::B ? c.k : c.m, cols = r == Role::A ? c.k : c.n;
  (void)e;
  return rows * cols / 32;
}

// The PTX ISA's fragment layouts ("Matrix fragments for mma.m16n8k16" etc.):
// element i of `lane` is (row, col) of its quad pair `qp`'s matrix (qp = 0
// except for m8n8k4 f16).
void place(const MmaCase& c, Role role, E e, int lane, int i, int* qp, int* row, int* col) {
  const int g = lane / 4, t = lane % 4;
  *qp = 0;
  if (quad_pairs(c)) {
    *qp = (lane / 4) % 4;
    const int hi = lane >= 16 ? 4 : 0;
    if (role == Role::A) {
      if (c.a_col) *row = i + hi, *col = lane % 4;
      else *row = lane % 4 + hi, *col = i;
    } else if (role == Role::B) {
      if (c.b_row) *row = lane % 4, *col = i + hi;
      else *row = i, *col = lane % 4 + hi;
    } else if (e == E::F16) {
      *row = lane % 4 + hi, *col = i;
    } else {
      *row = (lane & 1) + (i & 2) + hi;
      *col = (i & 4) + (lane & 2) + (i & 1);
    }
    return;
  }
  const int bits = static_cast<int>(bits_of(e));
  if (role == Role::C) {
    if (c.m == 8) *row = g, *col = 2 * t + i;
    else *row = g + 8 * (i / 2), *col = 2 * t + i % 2;
    return;
  }
  if (bits == 64 && c.m == 8) {
    if (role == Role::A) *row = g, *col = t;
    else *row = t, *col = g;
    return;
  }
  if (bits >= 32) {  // tf32, and the m16n8 f64 shapes
    if (role == Role::A) *row = g + 8 * (i % 2), *col = t + 4 * (i / 2);
    else *row = t + 4 * i, *col = g;
    return;
  }
  if (bits == 16) {
    if (role == Role::A) {
      if (c.k == 16) *row = g + 8 * ((i / 2) % 2), *col = 2 * t + i % 2 + 8 * (i / 4);
      else *row = g + 8 * (i / 2), *col = 2 * t + i % 2;
    } else {
      *row = 2 * t + i % 2 + 8 * (i / 2), *col = g;
    }
    return;
  }
  // 8-bit
  if (role == Role::A) {
    if (c.m == 8) *row = g, *col = 4 * t + i;
    else if (c.k == 32) *row = g + 8 * ((i / 4) % 2), *col = 4 * t + i % 4 + 16 * (i / 8);
    else *row = g + 8 * (i / 4), *col = 4 * t + i % 4;
  } else {
    *row = 4 * t + i % 4 + 16 * (i / 4), *col = g;
  }
}

uint64_t encode(E e, double v) {
  switch (e) {
    case E::F16: return f16_exact(v);
    case E::BF16: return bf16_exact(v);
    case E::TF32: case E::F32: return f32_bits(v);
    case E::F64: return f64_bits(v);
    case E::S8: return static_cast<uint8_t>(static_cast<int8_t>(v));
    case E::U8: return static_cast<uint8_t>(v);
    case E::S32: return static_cast<uint32_t>(static_cast<int32_t>(v));
    case E::E4M3: return fp8_exact(v, 3, 4);
    case E::E5M2: return fp8_exact(v, 2, 5);
  }
  return 0;
}

double decode(E e, uint64_t b) {
  switch (e) {
    case E::F16: return f16_value(static_cast<uint16_t>(b));
    case E::F32: return f32_value(static_cast<uint32_t>(b));
    case E::F64: return f64_value(b);
    case E::S32: return static_cast<int32_t>(b);
    default: return NAN;
  }
}

double value(E e, int i, int j, int seed) {
  if (e == E::S8) return ((i * 37 + j * 11 + seed * 13) % 255) - 127;
  if (e == E::U8) return (i * 37 + j * 11 + seed * 13) % 256;
  if (e == E::S32) return ((i * 1009 + j * 17 + seed) % 20001) - 10000;
  return small_value(i, j, seed);
}

// A kernel: lane l loads na/nb/nc registers of `rb` bytes from a/b/c at
// l * n * rb, runs `instr`, stores nd registers to d.
std::string mma_kernel(const MmaCase& c, int na, int nb, int nc, int nd, bool wide) {
  const char* rt = wide ? "b64" : "b32";
  const int rb = wide ? 8 : 4;
  std::string s = fmt::format(
      ".visible .entry mma_case(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 pd)\n{{\n"
      "  .reg .b32 %t;\n  .reg .b64 %rd<20>;\n  .reg .{0} %a<8>;\n  .reg .{0} %b<8>;\n  .reg .{0} %c<8>;\n"
      "  .reg .{0} %d<8>;\n  mov.u32 %t, %tid.x;\n",
      rt);
  auto regs = [](char x, int n) {
    std::string v = "{";
    for (int i = 0; i < n; ++i) v += fmt::format("{}%{}{}", i ? ", " : "", x, i);
    return v + "}";
  };
  const char names[] = {'a', 'b', 'c'};
  const int counts[] = {na, nb, nc};
  for (int x = 0; x < 3; ++x) {
    s += fmt::format("  ld.param.u64 %rd{0}, [p{1}];\n  mul.wide.u32 %rd{2}, %t, {3};\n  add.s64 %rd{0}, %rd{0}, %rd{2};\n",
                     x + 1, names[x], x + 10, counts[x] * rb);
    for (int i = 0; i < counts[x]; ++i) s += fmt::format("  ld.global.{} %{}{}, [%rd{}+{}];\n", rt, names[x], i, x + 1, i * rb);
  }
  s += fmt::format("  {} {}, {}, {}, {};\n", c.instr, regs('d', nd), regs('a', na), regs('b', nb), regs('c', nc));
  s += fmt::format("  ld.param.u64 %rd4, [pd];\n  mul.wide.u32 %rd13, %t, {};\n  add.s64 %rd4, %rd4, %rd13;\n", nd * rb);
  for (int i = 0; i < nd; ++i) s += fmt::format("  st.global.{} [%rd4+{}], %d{};\n", rt, i * rb, i);
  return s + "  ret;\n}\n";
}

class Mma : public ::testing::TestWithParam<MmaCase> {};

TEST_P(Mma, PerLaneFragmentsComputeAxBplusC) {
  const MmaCase& c = GetParam();
  const bool wide = c.a == E::F64;
  const int rb = wide ? 8 : 4;
  auto regs_of = [&](Role r, E e) {
    const int pl = per_lane(c, r, e), eb = static_cast<int>(bits_of(e));
    return eb >= 32 ? pl : pl * eb / 32;
  };
  const int na = regs_of(Role::A, c.a), nb = regs_of(Role::B, c.b), nc = regs_of(Role::C, c.c),
            nd = regs_of(Role::C, c.d);
  std::string err;
  auto p = build_ptx(ptx_module(mma_kernel(c, na, nb, nc, nd, wide)), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  const int groups = quad_pairs(c) ? 4 : 1;
  // Matrix values (per quad pair), then lane registers from the ISA layouts.
  auto aval = [&](int q, int i, int kk) { return value(c.a, i + 16 * q, kk, 1); };
  auto bval = [&](int q, int kk, int j) { return value(c.b, kk + 16 * q, j, 2); };
  auto cval = [&](int q, int i, int j) {
    const double v = value(c.c, i + 16 * q, j, 3) + c.c_offset;
    return c.c == E::S32 ? std::min(v, 2147483647.0) : v;
  };
  auto fill = [&](Role role, E e, int nregs, auto val) {
    uint8_t* buf = mem.alloc<uint8_t>(32 * nregs * rb);
    const int eb = static_cast<int>(bits_of(e));
    for (int l = 0; l < 32; ++l)
      for (int i = 0; i < per_lane(c, role, e); ++i) {
        int q, r, col;
        place(c, role, e, l, i, &q, &r, &col);
        const uint64_t bits = encode(e, val(q, r, col));
        uint8_t* reg = buf + (l * nregs + (eb >= 32 ? i : i * eb / 32)) * rb;
        const int shift = eb >= 32 ? 0 : (i % (32 / eb)) * eb;
        uint64_t cur = 0;
        std::memcpy(&cur, reg, rb);
        cur |= bits << shift;
        std::memcpy(reg, &cur, rb);
      }
    return buf;
  };
  uint8_t* a = fill(Role::A, c.a, na, aval);
  uint8_t* b = fill(Role::B, c.b, nb, bval);
  uint8_t* cc = fill(Role::C, c.c, nc, cval);
  uint8_t* d = mem.alloc<uint8_t>(32 * nd * rb, 0xee);
  auto r = run(*p, "mma_case", Launch{}, {a, b, cc, d}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  const bool sat = std::string(c.instr).find("satfinite") != std::string::npos;
  const int eb = static_cast<int>(bits_of(c.d));
  int checked = 0;
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < per_lane(c, Role::C, c.d); ++i) {
      int q, row, col;
      place(c, Role::C, c.d, l, i, &q, &row, &col);
      uint64_t reg = 0;
      std::memcpy(&reg, d + (l * nd + (eb >= 32 ? i : i * eb / 32)) * rb, rb);
      const uint64_t bits = eb >= 32 ? reg : (reg >> ((i % (32 / eb)) * eb)) & ((1u << eb) - 1);
      double want = cval(q, row, col);
      for (int kk = 0; kk < c.k; ++kk) want += aval(q, row, kk) * bval(q, kk, col);
      if (c.d == E::S32) {
        if (sat) want = std::clamp(want, -2147483648.0, 2147483647.0);
        else want = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(want)));
      }
      ASSERT_EQ(decode(c.d, bits), want) << c.name << " lane " << l << " element " << i << " = D[" << row << "]["
                                         << col << "] of quad pair " << q;
      ++checked;
    }
  EXPECT_EQ(checked, groups * c.m * c.n);
}

INSTANTIATE_TEST_SUITE_P(Forms, Mma, ::testing::ValuesIn(kMma), [](const auto& info) { return info.param.name; });

TEST(MmaLowering, RefusesFormsItDoesNotEmulate) {
  const char* bad[] = {
      "mma.sync.aligned.m16n8k16.col.col.f32.f16.f16.f32 {%f0,%f1,%f2,%f3}, {%r0,%r1,%r2,%r3}, {%r4,%r5}, {%f4,%f5,%f6,%f7}",
      "mma.sync.aligned.m16n8k32.row.col.s32.s4.s4.s32 {%r0,%r1,%r2,%r3}, {%r4,%r5}, {%r6}, {%r0,%r1,%r2,%r3}",
      "mma.sync.aligned.m16n8k8.row.col.f32.e4m3.e4m3.f32 {%f0,%f1,%f2,%f3}, {%r0,%r1}, {%r4}, {%f4,%f5,%f6,%f7}",
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f16 {%f0,%f1,%f2,%f3}, {%r0,%r1,%r2,%r3}, {%r4,%r5}, {%r4,%r5}",
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f0,%f1,%f2}, {%r0,%r1,%r2,%r3}, {%r4,%r5}, {%f4,%f5,%f6,%f7}",
      "wmma.load.a.sync.aligned.row.m16n16k8.global.f16 {%r0,%r1,%r2,%r3,%r4,%r5,%r6,%r7}, [%rd0]",
  };
  for (const char* text : bad) {
    std::string body = std::string(".visible .entry k()\n{\n  .reg .b32 %r<8>;\n  .reg .f32 %f<8>;\n  .reg .b64 %rd<2>;\n  ") +
                       text + ";\n  ret;\n}\n";
    std::string err;
    EXPECT_FALSE(build_ptx(ptx_module(body), &err)) << text;
    // The message names the instruction (opcode and modifiers as written).
    const std::string written = std::string(text).substr(0, std::string(text).find(' '));
    EXPECT_NE(err.find(written), std::string::npos) << err;
  }
}

// ---- ldmatrix / stmatrix ----------------------------------------------------

struct MatrixCase {
  int num;
  bool trans;
  bool generic = false;  // a generic address (cvta of the shared one) instead of .shared
  bool num_first = false;  // ".x4.m8n8" / ".x4.trans.m8n8", the order cuBLAS writes
};

// Test names in ctest: the case name, not its bytes.
void PrintTo(const MatrixCase& c, std::ostream* os) {
  *os << fmt::format("x{}{}{}{}", c.num, c.trans ? "_trans" : "", c.generic ? "_generic" : "",
                     c.num_first ? "_num_first" : "");
}

// Lane l gives the address of row (l % 8) of matrix (l / 8), stored in shared
// memory in reverse row order so that the test sees which lane's address was
// used: row r of matrix j lives at shared row j * 8 + (7 - r).
std::string matrix_kernel(const MatrixCase& mc, bool store) {
  std::string regs = mc.num == 1 ? "%v0" : (mc.num == 2 ? "{%v0, %v1}" : "{%v0, %v1, %v2, %v3}");
  std::string op = mc.num_first
                       ? fmt::format("{}.sync.aligned.x{}{}.m8n8{}.b16", store ? "stmatrix" : "ldmatrix", mc.num,
                                     mc.trans ? ".trans" : "", mc.generic ? "" : ".shared")
                       : fmt::format("{}.sync.aligned.m8n8.x{}{}{}.b16", store ? "stmatrix" : "ldmatrix", mc.num,
                                     mc.trans ? ".trans" : "", mc.generic ? "" : ".shared");
  // The row address operand: the shared offset, or its generic form.
  const std::string addr = mc.generic ? "[%rd9]" : "[%t2]";
  std::string s =
      ".visible .entry mat(.param .u64 pin, .param .u64 pregs, .param .u64 pout)\n{\n"
      "  .shared .align 16 .b8 sm[512];\n  .reg .b32 %t<8>;\n  .reg .b32 %v<4>;\n  .reg .b64 %rd<12>;\n"
      "  mov.u32 %t0, %tid.x;\n  ld.param.u64 %rd1, [pin];\n  ld.param.u64 %rd2, [pregs];\n  ld.param.u64 %rd3, [pout];\n"
      "  mov.u32 %t1, sm;\n"
      // copy 512 bytes in -> sm: thread t copies 16 bytes at t * 16
      "  mul.wide.u32 %rd4, %t0, 16;\n  add.s64 %rd5, %rd1, %rd4;\n  ld.global.v4.b32 {%t4, %t5, %t6, %t7}, [%rd5];\n"
      "  shl.b32 %t2, %t0, 4;\n  add.u32 %t3, %t1, %t2;\n  st.shared.v4.b32 [%t3], {%t4, %t5, %t6, %t7};\n"
      "  bar.sync 0;\n"
      // row address: sm + ((l / 8) * 8 + 7 - l % 8) * 16
      "  shr.u32 %t2, %t0, 3;\n  shl.b32 %t2, %t2, 3;\n  and.b32 %t4, %t0, 7;\n  sub.u32 %t4, 7, %t4;\n"
      "  add.u32 %t2, %t2, %t4;\n  shl.b32 %t2, %t2, 4;\n  add.u32 %t2, %t1, %t2;\n"
      // register file: lane l's registers at pregs + l * 16
      "  add.s64 %rd6, %rd2, %rd4;\n"
      "  cvt.u64.u32 %rd8, %t2;\n  cvta.shared.u64 %rd9, %rd8;\n";
  if (store) {
    for (int j = 0; j < mc.num; ++j) s += fmt::format("  ld.global.b32 %v{0}, [%rd6+{1}];\n", j, j * 4);
    s += "  " + op + " " + addr + ", " + regs + ";\n  bar.sync 0;\n";
    s += "  ld.shared.v4.b32 {%t4, %t5, %t6, %t7}, [%t3];\n  add.s64 %rd7, %rd3, %rd4;\n"
         "  st.global.v4.b32 [%rd7], {%t4, %t5, %t6, %t7};\n";
  } else {
    s += "  " + op + " " + regs + ", " + addr + ";\n";
    for (int j = 0; j < mc.num; ++j) s += fmt::format("  st.global.b32 [%rd6+{}], %v{};\n", j * 4, j);
  }
  return s + "  ret;\n}\n";
}

class Ldmatrix : public ::testing::TestWithParam<MatrixCase> {};

// Element (r, c) of matrix j, as stored (reverse row order, see matrix_kernel).
size_t elem_index(int j, int r, int c) { return static_cast<size_t>((j * 8 + 7 - r) * 8 + c); }

// The two elements lane l's register holds: row l/4, columns 2(l%4), 2(l%4)+1
// (transposed: column l/4, rows 2(l%4), 2(l%4)+1).
void lane_pair(int l, bool trans, int* r0, int* c0, int* r1, int* c1) {
  if (!trans) *r0 = *r1 = l / 4, *c0 = 2 * (l % 4), *c1 = *c0 + 1;
  else *c0 = *c1 = l / 4, *r0 = 2 * (l % 4), *r1 = *r0 + 1;
}

TEST_P(Ldmatrix, LoadsEachLanesPairOfElements) {
  const MatrixCase mc = GetParam();
  std::string err;
  auto p = build_ptx(ptx_module(matrix_kernel(mc, false)), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* in = mem.alloc<uint16_t>(256);
  auto* regs = mem.alloc<uint32_t>(32 * 4, 0xdeadbeef);
  for (int x = 0; x < 256; ++x) in[x] = static_cast<uint16_t>(x * 97 + 5);
  auto r = run(*p, "mat", Launch{}, {in, regs, regs}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l)
    for (int j = 0; j < mc.num; ++j) {
      int r0, c0, r1, c1;
      lane_pair(l, mc.trans, &r0, &c0, &r1, &c1);
      const uint32_t want = in[elem_index(j, r0, c0)] | (uint32_t{in[elem_index(j, r1, c1)]} << 16);
      ASSERT_EQ(regs[l * 4 + j], want) << "lane " << l << " matrix " << j;
    }
}

TEST_P(Ldmatrix, StmatrixIsItsInverse) {
  const MatrixCase mc = GetParam();
  std::string err;
  auto p = build_ptx(ptx_module(matrix_kernel(mc, true)), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* in = mem.alloc<uint16_t>(256);
  auto* regs = mem.alloc<uint32_t>(32 * 4);
  auto* out = mem.alloc<uint16_t>(256);
  for (int x = 0; x < 256; ++x) in[x] = static_cast<uint16_t>(0xf000 + x);  // matrices the store leaves alone
  for (int x = 0; x < 128; ++x) regs[x] = static_cast<uint32_t>(x * 0x00010003u + 0x01000100u);
  auto r = run(*p, "mat", Launch{}, {in, regs, out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  std::vector<uint16_t> want(in, in + 256);
  for (int l = 0; l < 32; ++l)
    for (int j = 0; j < mc.num; ++j) {
      int r0, c0, r1, c1;
      lane_pair(l, mc.trans, &r0, &c0, &r1, &c1);
      want[elem_index(j, r0, c0)] = static_cast<uint16_t>(regs[l * 4 + j]);
      want[elem_index(j, r1, c1)] = static_cast<uint16_t>(regs[l * 4 + j] >> 16);
    }
  for (int x = 0; x < 256; ++x) ASSERT_EQ(out[x], want[x]) << x;
}

INSTANTIATE_TEST_SUITE_P(Forms, Ldmatrix,
                         ::testing::Values(MatrixCase{1, false}, MatrixCase{2, false}, MatrixCase{4, false},
                                           MatrixCase{1, true}, MatrixCase{2, true}, MatrixCase{4, true},
                                           MatrixCase{1, false, true}, MatrixCase{2, true, true},
                                           MatrixCase{4, false, true}, MatrixCase{4, true, true},
                                           MatrixCase{4, false, false, true}, MatrixCase{4, true, false, true},
                                           MatrixCase{2, true, false, true}),
                         [](const auto& info) {
                           return fmt::format("x{}{}{}{}", info.param.num, info.param.trans ? "_trans" : "",
                                              info.param.generic ? "_generic" : "",
                                              info.param.num_first ? "_num_first" : "");
                         });

// The idiom CUTLASS-style kernels use: A (16x16, row-major) through
// ldmatrix.x4 and B (16x8, k-major rows) through ldmatrix.x2.trans feed
// mma.m16n8k16 directly. This ties the ldmatrix layout to the mma one.
TEST(MmaWithLdmatrix, SharedTilesFeedMmaDirectly) {
  const char* body = R"(
.visible .entry k(.param .u64 pa, .param .u64 pb, .param .u64 pd)
{
  .shared .align 16 .b8 sa[512];
  .shared .align 16 .b8 sb[256];
  .reg .b32 %t<12>;
  .reg .b32 %a<4>;
  .reg .b32 %b<2>;
  .reg .f32 %d<4>;
  .reg .b64 %rd<10>;
  mov.u32 %t0, %tid.x;
  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pb];
  ld.param.u64 %rd3, [pd];
  mul.wide.u32 %rd4, %t0, 16;
  add.s64 %rd5, %rd1, %rd4;
  ld.global.v4.b32 {%t4, %t5, %t6, %t7}, [%rd5];
  mov.u32 %t1, sa;
  shl.b32 %t2, %t0, 4;
  add.u32 %t3, %t1, %t2;
  st.shared.v4.b32 [%t3], {%t4, %t5, %t6, %t7};
  setp.lt.u32 %p0, %t0, 16;
  @!%p0 bra SKIP;
  add.s64 %rd6, %rd2, %rd4;
  ld.global.v4.b32 {%t4, %t5, %t6, %t7}, [%rd6];
  mov.u32 %t8, sb;
  add.u32 %t9, %t8, %t2;
  st.shared.v4.b32 [%t9], {%t4, %t5, %t6, %t7};
SKIP:
  bar.sync 0;
  // A: lane l -> row l % 16, column (l / 16) * 8
  and.b32 %t4, %t0, 15;
  shl.b32 %t4, %t4, 5;
  shr.u32 %t5, %t0, 4;
  shl.b32 %t5, %t5, 4;
  add.u32 %t4, %t4, %t5;
  add.u32 %t4, %t1, %t4;
  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%a0, %a1, %a2, %a3}, [%t4];
  // B: lane l (< 16) -> row k = l
  and.b32 %t6, %t0, 15;
  shl.b32 %t6, %t6, 4;
  mov.u32 %t8, sb;
  add.u32 %t6, %t8, %t6;
  ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%b0, %b1}, [%t6];
  mov.f32 %d0, 0f00000000;
  mov.f32 %d1, 0f00000000;
  mov.f32 %d2, 0f00000000;
  mov.f32 %d3, 0f00000000;
  mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, {%b0, %b1}, {%d0, %d1, %d2, %d3};
  // D: lane l holds rows g, g + 8, columns 2t, 2t + 1
  shr.u32 %t10, %t0, 2;
  and.b32 %t11, %t0, 3;
  shl.b32 %t11, %t11, 1;
  mad.lo.u32 %t4, %t10, 8, %t11;
  mul.wide.u32 %rd7, %t4, 4;
  add.s64 %rd8, %rd3, %rd7;
  st.global.v2.f32 [%rd8], {%d0, %d1};
  st.global.v2.f32 [%rd8+256], {%d2, %d3};
  ret;
}
)";
  std::string src = std::string(body);
  src.insert(src.find("  .reg .b64"), "  .reg .pred %p<1>;\n");
  std::string err;
  auto p = build_ptx(ptx_module(src), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* a = mem.alloc<uint16_t>(256);
  auto* b = mem.alloc<uint16_t>(128);
  auto* d = mem.alloc<float>(128, -7.0f);
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k) a[i * 16 + k] = f16_exact(small_value(i, k, 8));
  for (int k = 0; k < 16; ++k)
    for (int j = 0; j < 8; ++j) b[k * 8 + j] = f16_exact(small_value(k, j, 9));
  auto r = run(*p, "k", Launch{}, {a, b, d}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      double want = 0;
      for (int k = 0; k < 16; ++k) want += small_value(i, k, 8) * small_value(k, j, 9);
      ASSERT_EQ(d[i * 8 + j], want) << i << "," << j;
    }
}

}  // namespace
}  // namespace gpool::emu::exec::test
