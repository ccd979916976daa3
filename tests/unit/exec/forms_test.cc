// Table-driven tests of the PTX forms NVIDIA's libraries use beyond the
// tensor-core ones (mma_test.cc, async_test.cc): redux.sync, prmt, cvt.pack,
// 16-bit atomics, 256-bit ld/st and the reserved shared-memory registers.
// Every expected value comes from a reference written here from the PTX
// ISA's definition of the instruction, not from the emulator's code.
#include "exec_test_util.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <functional>
#include <ostream>

namespace gpool::emu::exec::test {
namespace {

// A warp runs `body` once; lane l reads %a, %b, %c from in[3l..3l+2] and
// writes %d to out[l] (initialised to 0xdeadbeef in the kernel).
std::string lane_kernel(const std::string& body) {
  return ptx_module(fmt::format(R"(
.visible .entry t(.param .u64 pin, .param .u64 pout)
{{
  .reg .b32 %a, %b, %c, %d, %t;
  .reg .b64 %rd<6>;
  .reg .pred %p;
  mov.u32 %t, %tid.x;
  ld.param.u64 %rd1, [pin];
  mul.wide.u32 %rd2, %t, 12;
  add.s64 %rd3, %rd1, %rd2;
  ld.global.u32 %a, [%rd3];
  ld.global.u32 %b, [%rd3+4];
  ld.global.u32 %c, [%rd3+8];
  mov.u32 %d, 0xdeadbeef;
  {}
  ld.param.u64 %rd4, [pout];
  mul.wide.u32 %rd2, %t, 4;
  add.s64 %rd5, %rd4, %rd2;
  st.global.u32 [%rd5], %d;
  ret;
}}
)",
                                body));
}

struct LaneIn {
  uint32_t a, b, c;
};

// Runs `body` over the 32 lanes' inputs; returns the 32 results (empty and a
// test failure when the kernel does not build or run).
std::vector<uint32_t> run_lanes(const std::string& body, const std::vector<LaneIn>& in) {
  std::string err;
  auto p = build_ptx(lane_kernel(body), &err);
  EXPECT_TRUE(p) << body << ": " << err;
  if (!p) return {};
  HostMemory mem;
  auto* ib = mem.alloc<uint32_t>(96);
  auto* ob = mem.alloc<uint32_t>(32);
  for (int l = 0; l < 32; ++l) ib[3 * l] = in[l].a, ib[3 * l + 1] = in[l].b, ib[3 * l + 2] = in[l].c;
  auto r = run(*p, "t", Launch{}, {ib, ob}, mem);
  EXPECT_EQ(r.status, LaunchStatus::Ok) << body << ": " << r.message;
  if (r.status != LaunchStatus::Ok) return {};
  return std::vector<uint32_t>(ob, ob + 32);
}

uint32_t fbits(float f) { return std::bit_cast<uint32_t>(f); }
float fval(uint32_t b) { return std::bit_cast<float>(b); }

// ---- redux.sync ----------------------------------------------------------------

// One row: an op with its type, and the ISA's reduction over the member lanes' values.
struct ReduxCase {
  const char* name;
  const char* form;  // after "redux.sync."
  std::function<uint32_t(const std::vector<uint32_t>&)> ref;
  bool floats = false;
};
void PrintTo(const ReduxCase& c, std::ostream* os) { *os << c.name; }

template <class T, class F>
std::function<uint32_t(const std::vector<uint32_t>&)> fold(F f) {
  return [f](const std::vector<uint32_t>& v) {
    T acc = static_cast<T>(v[0]);
    for (size_t i = 1; i < v.size(); ++i) acc = f(acc, static_cast<T>(v[i]));
    return static_cast<uint32_t>(acc);
  };
}

// min/max over f32 (ISA: NaN inputs are ignored unless all are NaN, or unless .NaN is given,
// which makes any NaN input produce the canonical NaN; .abs takes |x| first).
std::function<uint32_t(const std::vector<uint32_t>&)> fminmax(bool is_max, bool abs, bool nan) {
  return [=](const std::vector<uint32_t>& v) -> uint32_t {
    bool any_nan = false, have = false;
    float acc = 0;
    for (uint32_t b : v) {
      float x = fval(b);
      if (abs) x = std::fabs(x);
      if (std::isnan(x)) {
        any_nan = true;
        continue;
      }
      acc = !have ? x : (is_max ? std::max(acc, x) : std::min(acc, x));
      have = true;
    }
    if ((nan && any_nan) || !have) return 0x7fffffffu;
    return fbits(acc);
  };
}

const ReduxCase kRedux[] = {
    {"add_u32", "add.u32", fold<uint32_t>([](uint32_t x, uint32_t y) { return x + y; })},
    {"add_s32", "add.s32", fold<uint32_t>([](uint32_t x, uint32_t y) { return x + y; })},
    {"min_u32", "min.u32", fold<uint32_t>([](uint32_t x, uint32_t y) { return std::min(x, y); })},
    {"max_u32", "max.u32", fold<uint32_t>([](uint32_t x, uint32_t y) { return std::max(x, y); })},
    {"min_s32", "min.s32", fold<int32_t>([](int32_t x, int32_t y) { return std::min(x, y); })},
    {"max_s32", "max.s32", fold<int32_t>([](int32_t x, int32_t y) { return std::max(x, y); })},
    {"and_b32", "and.b32", fold<uint32_t>([](uint32_t x, uint32_t y) { return x & y; })},
    {"or_b32", "or.b32", fold<uint32_t>([](uint32_t x, uint32_t y) { return x | y; })},
    {"xor_b32", "xor.b32", fold<uint32_t>([](uint32_t x, uint32_t y) { return x ^ y; })},
    {"min_f32", "min.f32", fminmax(false, false, false), true},
    {"max_f32", "max.f32", fminmax(true, false, false), true},
    {"min_abs_f32", "min.abs.f32", fminmax(false, true, false), true},
    {"max_abs_f32", "max.abs.f32", fminmax(true, true, false), true},
    {"min_NaN_f32", "min.NaN.f32", fminmax(false, false, true), true},
    {"max_abs_NaN_f32", "max.abs.NaN.f32", fminmax(true, true, true), true},
};

class Redux : public ::testing::TestWithParam<ReduxCase> {};

// Only the member lanes execute (the others branch around), with the member
// mask as membermask; each member gets the reduction over the members, the
// others keep their initial value.
TEST_P(Redux, MembersGetTheReductionOverMembers) {
  const ReduxCase& c = GetParam();
  const uint32_t masks[] = {0xffffffffu, 0x0000ffffu, 0x80000001u, 0x00f0f0f1u, 0x00000100u};
  for (int variant = 0; variant < 3; ++variant) {
    std::vector<LaneIn> in(32);
    for (int l = 0; l < 32; ++l) {
      const auto u = static_cast<uint32_t>(l);
      if (c.floats) {
        float x = (static_cast<float>(l) - 13.5f) * (variant == 1 ? 3.25f : 0.75f);
        if (variant == 2 && (l == 0 || l == 8 || l == 31)) x = std::nanf("");  // NaNs in some members
        in[l].a = fbits(x);
      } else {
        in[l].a = variant == 0 ? u * 0x9e3779b9u : variant == 1 ? 0x7fffff00u + u * 97u : 0x80000000u ^ (u << 7);
      }
    }
    for (uint32_t mask : masks) {
      for (int l = 0; l < 32; ++l) in[l].c = (mask >> l) & 1;
      auto got = run_lanes(fmt::format("setp.ne.u32 %p, %c, 0;\n  @!%p bra SKIP;\n  redux.sync.{} %d, %a, {:#x};\nSKIP:",
                                       c.form, mask),
                           in);
      ASSERT_EQ(got.size(), 32u);
      std::vector<uint32_t> members;
      for (int l = 0; l < 32; ++l)
        if ((mask >> l) & 1) members.push_back(in[l].a);
      const uint32_t want = c.ref(members);
      for (int l = 0; l < 32; ++l)
        ASSERT_EQ(got[l], (mask >> l) & 1 ? want : 0xdeadbeefu)
            << c.form << " mask " << std::hex << mask << " variant " << variant << " lane " << std::dec << l;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Forms, Redux, ::testing::ValuesIn(kRedux), [](const auto& info) { return info.param.name; });

// ---- prmt ----------------------------------------------------------------------

// The ISA's tables for the special modes: for selector value c & 3, the source
// byte (of b:a, a = bytes 0-3) placed in d's bytes 3, 2, 1, 0.
struct PrmtMode {
  const char* mode;
  uint8_t bytes[4][4];  // [selector][d byte 3..0]
};
const PrmtMode kPrmtModes[] = {
    {"f4e", {{3, 2, 1, 0}, {4, 3, 2, 1}, {5, 4, 3, 2}, {6, 5, 4, 3}}},
    {"b4e", {{5, 6, 7, 0}, {6, 7, 0, 1}, {7, 0, 1, 2}, {0, 1, 2, 3}}},
    {"rc8", {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}},
    {"ecl", {{3, 2, 1, 0}, {3, 2, 1, 1}, {3, 2, 2, 2}, {3, 3, 3, 3}}},
    {"ecr", {{0, 0, 0, 0}, {1, 1, 1, 0}, {2, 2, 1, 0}, {3, 2, 1, 0}}},
    {"rc16", {{1, 0, 1, 0}, {3, 2, 3, 2}, {1, 0, 1, 0}, {3, 2, 3, 2}}},
};

uint32_t source_byte(uint32_t a, uint32_t b, uint32_t i) {
  return i < 4 ? (a >> (8 * i)) & 0xff : (b >> (8 * (i - 4))) & 0xff;
}

// Default mode: d byte i is selected by nibble i of c (3 bits of byte index, bit 3 replicates
// the selected byte's sign bit).
uint32_t prmt_default(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    const uint32_t nib = (c >> (4 * i)) & 0xf;
    uint32_t v = source_byte(a, b, nib & 7);
    if (nib & 8) v = (v & 0x80) ? 0xff : 0x00;
    d |= v << (8 * i);
  }
  return d;
}

std::vector<LaneIn> prmt_inputs(int round) {
  std::vector<LaneIn> in(32);
  for (int l = 0; l < 32; ++l) {
    const auto u = static_cast<uint32_t>(l + 32 * round);
    in[l].a = 0x80c1f203u ^ (u * 0x01010101u);
    in[l].b = 0x7f45e6a7u + u * 0x11223344u;
    in[l].c = u * 0x2c9277b5u;  // every nibble pattern, and c & 3 takes all four values
  }
  return in;
}

TEST(Prmt, DefaultModeSelectsAndReplicatesSigns) {
  for (int round = 0; round < 8; ++round) {
    auto in = prmt_inputs(round);
    auto got = run_lanes("prmt.b32 %d, %a, %b, %c;", in);
    ASSERT_EQ(got.size(), 32u);
    for (int l = 0; l < 32; ++l)
      ASSERT_EQ(got[l], prmt_default(in[l].a, in[l].b, in[l].c)) << std::hex << in[l].c;
  }
}

TEST(Prmt, SpecialModesFollowTheIsaTables) {
  for (const auto& m : kPrmtModes) {
    auto in = prmt_inputs(1);
    auto got = run_lanes(fmt::format("prmt.b32.{} %d, %a, %b, %c;", m.mode), in);
    ASSERT_EQ(got.size(), 32u);
    for (int l = 0; l < 32; ++l) {
      const uint8_t* sel = m.bytes[in[l].c & 3];
      uint32_t want = 0;
      for (int i = 0; i < 4; ++i) want |= source_byte(in[l].a, in[l].b, sel[3 - i]) << (8 * i);
      ASSERT_EQ(got[l], want) << m.mode << " selector " << (in[l].c & 3);
    }
  }
}

// ---- cvt.pack ------------------------------------------------------------------

struct PackCase {
  const char* type;
  int width;
  bool is_signed;
  bool has_c;
};
const PackCase kPack[] = {{"u16", 16, false, false}, {"s16", 16, true, false}, {"u8", 8, false, true},
                          {"s8", 8, true, true},     {"u4", 4, false, true},   {"s4", 4, true, true},
                          {"u2", 2, false, true},    {"s2", 2, true, true}};

// ISA: a and b saturate to the type's range; b goes to the low field, a to the next one, and the
// remaining high bits of d are c's low bits (the .b32 forms) or zero (u16/s16).
TEST(CvtPack, SaturatesAndPacksBelowC) {
  for (const auto& c : kPack) {
    std::vector<LaneIn> in(32);
    const int32_t probes[] = {0, 1, -1, 3, -3, 7, -8, 9, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768,
                              -32769, 65535, 65536, INT32_MAX, INT32_MIN, 5, -2, 100, -100, 2, -4, 8, 15, 16, 40000};
    for (int l = 0; l < 32; ++l) {
      in[l].a = static_cast<uint32_t>(probes[l]);
      in[l].b = static_cast<uint32_t>(probes[31 - l]);
      in[l].c = 0x9abcdef1u * static_cast<uint32_t>(l + 1);
    }
    const std::string body = c.has_c ? fmt::format("cvt.pack.sat.{}.s32.b32 %d, %a, %b, %c;", c.type)
                                     : fmt::format("cvt.pack.sat.{}.s32 %d, %a, %b;", c.type);
    auto got = run_lanes(body, in);
    ASSERT_EQ(got.size(), 32u);
    const int64_t lo = c.is_signed ? -(int64_t{1} << (c.width - 1)) : 0;
    const int64_t hi = c.is_signed ? (int64_t{1} << (c.width - 1)) - 1 : (int64_t{1} << c.width) - 1;
    const uint32_t mask = (1u << c.width) - 1;
    for (int l = 0; l < 32; ++l) {
      const auto sat = [&](uint32_t x) {
        return static_cast<uint32_t>(std::clamp<int64_t>(static_cast<int32_t>(x), lo, hi)) & mask;
      };
      uint32_t want = (sat(in[l].a) << c.width) | sat(in[l].b);
      if (c.has_c) want |= in[l].c << (2 * c.width);
      ASSERT_EQ(got[l], want) << body << " a=" << static_cast<int32_t>(in[l].a) << " b=" << static_cast<int32_t>(in[l].b);
    }
  }
}

// ---- vshl / vshr -----------------------------------------------------------------

struct VshCase {
  const char* form;  // after the opcode
};
const VshCase kVsh[] = {{"u32.u32.u32.clamp"},     {"u32.u32.u32.wrap"},      {"s32.s32.u32.clamp"},
                        {"s32.s32.u32.wrap"},      {"u32.u32.u32.clamp.add"}, {"s32.s32.u32.sat.clamp"},
                        {"u32.s32.u32.sat.wrap"},  {"s32.u32.u32.clamp.min"}, {"u32.u32.u32.wrap.max"},
                        {"s32.s32.u32.clamp.max"}, {"u32.u32.u32.sat.clamp.add"}};

// The ISA's semantics: ta = a extended per atype; tb = b, at most 32 (.clamp) or mod 32 (.wrap);
// tmp = ta shifted exactly; .sat clamps tmp to dtype; the secondary op combines it with c in
// dtype (32-bit result).
uint32_t vsh_ref(bool right, const std::string& form, uint32_t a, uint32_t b, uint32_t c) {
  const bool d_signed = form.rfind("s32", 0) == 0, a_signed = form.compare(4, 3, "s32") == 0;
  const bool sat = form.find(".sat") != std::string::npos, clamp = form.find("clamp") != std::string::npos;
  const long double ta = a_signed ? static_cast<long double>(static_cast<int32_t>(a)) : static_cast<long double>(a);
  const uint32_t n = clamp ? std::min(b, 32u) : (b & 31);
  long double t = right ? std::floor(ta / std::ldexp(1.0L, static_cast<int>(n))) : ta * std::ldexp(1.0L, static_cast<int>(n));
  if (sat) t = d_signed ? std::clamp(t, -2147483648.0L, 2147483647.0L) : std::clamp(t, 0.0L, 4294967295.0L);
  // low 32 bits of the (integral) value
  const long double m = std::fmod(t, 4294967296.0L);
  uint32_t r = static_cast<uint32_t>(static_cast<int64_t>(m < 0 ? m + 4294967296.0L : m));
  const auto as = [&](uint32_t x) { return d_signed ? static_cast<int64_t>(static_cast<int32_t>(x)) : static_cast<int64_t>(x); };
  if (form.ends_with(".add")) r += c;
  if (form.ends_with(".min")) r = as(r) < as(c) ? r : c;
  if (form.ends_with(".max")) r = as(r) < as(c) ? c : r;
  return r;
}

TEST(VideoShift, VshlAndVshrFollowTheIsa) {
  std::vector<LaneIn> in(32);
  const uint32_t shifts[] = {0, 1, 3, 7, 15, 31, 32, 33, 40, 63, 64, 0xffffffffu, 4, 12, 20, 28};
  for (int l = 0; l < 32; ++l) {
    in[l].a = (l & 1) ? 0x80000000u >> (l / 2) : 0xf1234567u * static_cast<uint32_t>(l + 1);
    in[l].b = shifts[l % 16];
    in[l].c = 0x7ffffff0u + static_cast<uint32_t>(l) * 0x10000001u;
  }
  for (const char* op : {"vshl", "vshr"})
    for (const auto& v : kVsh) {
      const std::string form = v.form;
      const bool op2 = form.ends_with(".add") || form.ends_with(".min") || form.ends_with(".max");
      auto got = run_lanes(fmt::format("{}.{} %d, %a, %b{};", op, form, op2 ? ", %c" : ""), in);
      ASSERT_EQ(got.size(), 32u) << op << "." << form;
      for (int l = 0; l < 32; ++l)
        ASSERT_EQ(got[l], vsh_ref(std::string(op) == "vshr", form, in[l].a, in[l].b, in[l].c))
            << op << "." << form << " a=" << std::hex << in[l].a << " b=" << std::dec << in[l].b;
    }
}

// ---- 16-bit atomics ------------------------------------------------------------

// One thread: *p holds `old`, the instruction adds `b` (or compares with b and swaps in c);
// the row says the memory word and the returned old value afterwards. Roundings worked out by
// hand from the formats (round to nearest even, subnormals kept, .noftz).
struct AtomRow {
  const char* instr;  // with %d (old), [%rd1], %b, %c
  uint32_t mem, b, c;
  uint32_t want_mem;
  bool wide;  // 32-bit memory word (x2 forms), else 16-bit
};
const AtomRow kAtom[] = {
    // f16: 1 + 2^-11 is a tie: to even (1.0); 1 + 3 * 2^-11 is a tie: to even (1 + 2^-9).
    {"atom.global.add.noftz.f16 %h, [%rd1], %hb;", 0x3c00, 0x1000, 0, 0x3c00, false},
    {"atom.global.add.noftz.f16 %h, [%rd1], %hb;", 0x3c00, 0x1600, 0, 0x3c02, false},
    {"atom.add.noftz.f16 %h, [%rd1], %hb;", 0x0001, 0x0001, 0, 0x0002, false},       // subnormals stay
    {"atom.global.add.noftz.f16 %h, [%rd1], %hb;", 0x7bff, 0x7bff, 0, 0x7c00, false},  // overflow: +inf
    {"atom.global.add.noftz.f16 %h, [%rd1], %hb;", 0x4000, 0xc400, 0, 0xc000, false},  // 2 - 4 = -2
    // bf16: 1 + 2^-8 ties to 1.0; 1 + 3 * 2^-8 ties to 1 + 2^-6.
    {"atom.global.add.noftz.bf16 %h, [%rd1], %hb;", 0x3f80, 0x3b80, 0, 0x3f80, false},
    {"atom.global.add.noftz.bf16 %h, [%rd1], %hb;", 0x3f80, 0x3c40, 0, 0x3f82, false},
    // x2: each half on its own (low half, high half).
    {"atom.global.add.noftz.f16x2 %d, [%rd1], %b;", 0x3c003c00, 0x16001000, 0, 0x3c023c00, true},
    {"atom.global.add.noftz.bf16x2 %d, [%rd1], %b;", 0x3f803f80, 0x3c403b80, 0, 0x3f823f80, true},
    {"red.global.add.noftz.f16x2 [%rd1], %b;", 0x40003c00, 0x3c003c00, 0, 0x42004000, true},
    // cas.b16: swaps only on a match.
    {"atom.global.cas.b16 %h, [%rd1], %hb, %hc;", 0x1234, 0x1234, 0xbeef, 0xbeef, false},
    {"atom.global.cas.b16 %h, [%rd1], %hb, %hc;", 0x1234, 0x1235, 0xbeef, 0x1234, false},
};

TEST(Atom16, HalfAddsRoundPerFormatAndCasSwapsOnMatch) {
  for (const auto& row : kAtom) {
    const std::string body = ptx_module(fmt::format(R"(
.visible .entry t(.param .u64 pmem, .param .u64 pin, .param .u64 pold)
{{
  .reg .b16 %h, %hb, %hc;
  .reg .b32 %d, %b, %c;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [pmem];
  ld.param.u64 %rd2, [pin];
  ld.param.u64 %rd3, [pold];
  ld.global.u32 %b, [%rd2];
  ld.global.u32 %c, [%rd2+4];
  cvt.u16.u32 %hb, %b;
  cvt.u16.u32 %hc, %c;
  mov.u32 %d, 0;
  mov.b16 %h, 0;
  {}
  cvt.u32.u16 %c, %h;
  or.b32 %d, %d, %c;
  st.global.u32 [%rd3], %d;
  ret;
}}
)",
                                                    row.instr));
    std::string err;
    auto p = build_ptx(body, &err);
    ASSERT_TRUE(p) << row.instr << ": " << err;
    HostMemory mem;
    auto* word = mem.alloc<uint32_t>(2);
    // 16-bit forms use the high half of a 32-bit word, so that the low half shows the access
    // stays within its two bytes.
    auto* target = row.wide ? word : reinterpret_cast<uint32_t*>(reinterpret_cast<uint8_t*>(word) + 2);
    word[0] = row.wide ? row.mem : 0x5a5a | (row.mem << 16);
    auto* in = mem.alloc<uint32_t>(2);
    in[0] = row.b;
    in[1] = row.c;
    auto* old = mem.alloc<uint32_t>(1, 0xffffffffu);
    auto r = run(*p, "t", Launch{{1, 1, 1}, {1, 1, 1}}, {target, in, old}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << row.instr << ": " << r.message;
    if (row.wide) {
      EXPECT_EQ(word[0], row.want_mem) << row.instr;
    } else {
      EXPECT_EQ(word[0] >> 16, row.want_mem) << row.instr;
      EXPECT_EQ(word[0] & 0xffff, 0x5a5au) << row.instr;
    }
    if (std::string(row.instr).rfind("red", 0) != 0) {
      EXPECT_EQ(*old, row.mem) << row.instr << ": returned old value";
    }
  }
}

// 32 lanes adding to one f16x2 word and one shared bf16: the sums are exact, so any order gives
// the same final value.
TEST(Atom16, WarpAddsAccumulateInGlobalAndSharedMemory) {
  const std::string body = ptx_module(R"(
.visible .entry t(.param .u64 pmem)
{
  .shared .align 4 .b8 sm[4];
  .reg .b16 %h, %one;
  .reg .b32 %d, %t, %s;
  .reg .b64 %rd<2>;
  .reg .pred %p;
  mov.u32 %t, %tid.x;
  setp.eq.u32 %p, %t, 0;
  mov.u32 %s, sm;
  @%p st.shared.u32 [%s], 0;
  bar.sync 0;
  ld.param.u64 %rd1, [pmem];
  mov.b32 %d, 0x3c003800;   // (1.0, 0.5)
  red.global.add.noftz.f16x2 [%rd1], %d;
  mov.b16 %one, 0x3f80;     // bf16 1.0
  atom.shared.add.noftz.bf16 %h, [%s+2], %one;
  bar.sync 0;
  @%p ld.shared.u32 %d, [%s];
  @%p st.global.u32 [%rd1+4], %d;
  ret;
}
)");
  std::string err;
  auto p = build_ptx(body, &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* w = mem.alloc<uint32_t>(2);
  w[0] = 0x00003c00;  // (1.0, 0)
  auto r = run(*p, "t", Launch{}, {w}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  // f16x2: low half 1 + 32 * 0.5 = 17 (0x4c40), high half 32 * 1 = 32 (0x5000).
  EXPECT_EQ(w[0], 0x50004c40u) << std::hex << w[0];
  // shared word: bf16 32.0 (0x4200) in the high half, the low half untouched (0).
  EXPECT_EQ(w[1], 0x42000000u) << std::hex << w[1];
}

// ---- ld/st .v8 -------------------------------------------------------------------

TEST(LdStV8, CopiesThirtyTwoBytesPerLaneAndNeedsAlignment) {
  const std::string body = ptx_module(R"(
.visible .entry t(.param .u64 pin, .param .u64 pout, .param .u32 skew)
{
  .reg .b32 %t, %k;
  .reg .f32 %f<8>;
  .reg .b64 %rd<6>;
  mov.u32 %t, %tid.x;
  ld.param.u32 %k, [skew];
  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  mul.wide.u32 %rd3, %t, 32;
  add.s64 %rd1, %rd1, %rd3;
  add.s64 %rd2, %rd2, %rd3;
  cvt.u64.u32 %rd4, %k;
  add.s64 %rd1, %rd1, %rd4;
  ld.global.nc.v8.f32 {%f0, %f1, %f2, %f3, %f4, %f5, %f6, %f7}, [%rd1];
  st.global.v8.f32 [%rd2], {%f7, %f6, %f5, %f4, %f3, %f2, %f1, %f0};
  ret;
}
)");
  std::string err;
  auto p = build_ptx(body, &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  // 32-byte aligned buffers (the allocator gives 16): over-allocate and align.
  auto align32 = [](float* f) { return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(f) + 31) & ~uintptr_t{31}); };
  float* in = align32(mem.alloc<float>(256 + 16));
  float* out = align32(mem.alloc<float>(256 + 16));
  for (int i = 0; i < 256; ++i) in[i] = static_cast<float>(i) * 1.5f;
  auto r = run(*p, "t", Launch{}, {in, out, 0u}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l)
    for (int v = 0; v < 8; ++v) ASSERT_EQ(out[l * 8 + v], in[l * 8 + 7 - v]) << l << "," << v;
  r = run(*p, "t", Launch{}, {in, out, 16u}, mem);  // 16-byte aligned only
  EXPECT_EQ(r.status, LaunchStatus::MisalignedAddress) << r.message;
  std::string bad_err;
  EXPECT_FALSE(build_ptx(ptx_module(R"(
.visible .entry t(.param .u64 p)
{
  .reg .b16 %h<8>;
  .reg .b64 %rd1;
  ld.param.u64 %rd1, [p];
  ld.global.v8.b16 {%h0, %h1, %h2, %h3, %h4, %h5, %h6, %h7}, [%rd1];
  ret;
}
)"),
                         &bad_err));
  EXPECT_NE(bad_err.find("v8"), std::string::npos) << bad_err;
}

// ---- %reserved_smem_offset_* -------------------------------------------------------

// Cooperative groups keep their multi-warp barriers at %reserved_smem_offset_1 (cuSOLVER's
// kernels use it). The region is zeroed shared memory of its own: it does not overlap the
// kernel's variables, and _0/_1 lie inside [begin, end) with cap = end - begin.
TEST(ReservedSmem, RegionIsZeroedAndSeparateFromTheKernelsVariables) {
  const std::string body = ptx_module(R"(
.visible .entry t(.param .u64 pout)
{
  .shared .align 4 .b8 mine[128];
  .reg .b32 %t, %x, %m;
  .reg .b32 %v<8>;
  .reg .b64 %rd<4>;
  .reg .pred %p;
  mov.u32 %t, %tid.x;
  ld.param.u64 %rd1, [pout];
  mov.u32 %v0, %reserved_smem_offset_begin;
  mov.u32 %v1, %reserved_smem_offset_end;
  mov.u32 %v2, %reserved_smem_offset_cap;
  mov.u32 %v3, %reserved_smem_offset_0;
  mov.u32 %v4, %reserved_smem_offset_1;
  mov.u32 %v5, %total_smem_size;
  mov.u32 %m, mine;
  shl.b32 %x, %t, 2;
  add.u32 %m, %m, %x;
  st.shared.u32 [%m], 0x11111111;
  // every thread reads its word of the region (zero at block start), then fills it
  add.u32 %x, %v0, %x;
  ld.shared.u32 %v6, [%x];
  bar.sync 0;
  st.shared.u32 [%x], 0xffffffff;
  bar.sync 0;
  ld.shared.u32 %v7, [%m];
  setp.eq.u32 %p, %t, 0;
  @!%p bra DONE;
  st.global.v4.u32 [%rd1], {%v0, %v1, %v2, %v3};
  st.global.v2.u32 [%rd1+16], {%v4, %v5};
DONE:
  mul.wide.u32 %rd2, %t, 8;
  add.s64 %rd3, %rd1, %rd2;
  st.global.v2.u32 [%rd3+32], {%v6, %v7};
  ret;
}
)");
  std::string err;
  auto p = build_ptx(body, &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(8 + 64, 0xeeeeeeee);
  for (int launch = 0; launch < 2; ++launch) {  // a second block starts zeroed again
    auto r = run(*p, "t", Launch{}, {out}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
    const uint32_t begin = out[0], end = out[1], cap = out[2], o0 = out[3], o1 = out[4], total = out[5];
    EXPECT_EQ(cap, end - begin);
    EXPECT_GE(cap, 1024u);
    EXPECT_TRUE(o0 >= begin && o0 < end) << o0;
    EXPECT_TRUE(o1 >= begin && o1 + 288 <= end) << o1;  // cooperative groups needs 288 bytes there
    EXPECT_GE(total, end);
    for (int l = 0; l < 32; ++l) {
      EXPECT_EQ(out[8 + 2 * l], 0u) << "region not zeroed at block start, lane " << l;
      EXPECT_EQ(out[8 + 2 * l + 1], 0x11111111u) << "region overlaps the kernel's variable, lane " << l;
    }
  }
}

}  // namespace
}  // namespace gpool::emu::exec::test
