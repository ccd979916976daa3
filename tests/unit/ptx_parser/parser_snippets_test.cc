// Table-driven tests of the PTX parser on small snippets: every operand form,
// declarations, initializers, block flattening, guards, calls, and errors.
#include "gpool/emu/ptx/parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace gpool::emu::ptx {
namespace {

constexpr const char* kHeader = ".version 9.0\n.target sm_75\n.address_size 64\n";
constexpr int kBodyFirstLine = 6;  // line of the first body statement in wrap()

// A kernel "k" with one u64 parameter around `body`.
std::string wrap(const std::string& body) {
  return std::string(kHeader) + ".visible .entry k(.param .u64 p)\n{\n" + body + "\n}\n";
}

Module parse_ok(const std::string& text) {
  Module m;
  std::string err;
  EXPECT_TRUE(parse(text, &m, &err)) << err << "\n--- input ---\n" << text;
  return m;
}

const Function& kernel(const Module& m) {
  for (const Function& f : m.functions)
    if (f.name == "k") return f;
  ADD_FAILURE() << "no kernel k";
  return m.functions.at(0);
}

std::vector<const Instruction*> instrs(const Function& f) {
  std::vector<const Instruction*> v;
  for (const Statement& s : f.body)
    if (s.kind == Statement::Kind::Instr) v.push_back(&s.instr);
  return v;
}

// Parses one instruction in a kernel body and returns it.
Instruction one(const std::string& line) {
  Module m = parse_ok(wrap(line));
  auto v = instrs(kernel(m));
  EXPECT_EQ(v.size(), 1u) << line;
  return v.empty() ? Instruction{} : *v[0];
}

TEST(PtxTypes, NamesAndSizes) {
  struct Case {
    const char* name;
    Type type;
    uint32_t size;
  } cases[] = {{"b8", Type::B8, 1},     {"u16", Type::U16, 2},   {"s32", Type::S32, 4},
               {"b64", Type::B64, 8},   {"b128", Type::B128, 16}, {"f16", Type::F16, 2},
               {"f16x2", Type::F16x2, 4}, {"bf16", Type::BF16, 2}, {"bf16x2", Type::BF16x2, 4},
               {"f32", Type::F32, 4},   {"f64", Type::F64, 8},   {"pred", Type::Pred, 1},
               {"tf32", Type::TF32, 4}, {"e4m3x2", Type::E4M3x2, 2}};
  for (const Case& c : cases) {
    auto t = type_from_name(c.name);
    ASSERT_TRUE(t.has_value()) << c.name;
    EXPECT_EQ(*t, c.type) << c.name;
    EXPECT_EQ(type_size(c.type), c.size) << c.name;
    EXPECT_STREQ(type_name(c.type), c.name);
  }
  EXPECT_FALSE(type_from_name("f31").has_value());
  EXPECT_FALSE(type_from_name("").has_value());
  EXPECT_EQ(type_size(Type::None), 0u);
}

TEST(PtxTypes, ByteSize) {
  VarDecl d;
  d.type = Type::F32;
  EXPECT_EQ(d.byte_size(), 4u);
  d.vector_width = 4;
  d.dims = {3, 2};
  EXPECT_EQ(d.byte_size(), 4u * 4 * 3 * 2);
  d.dims = {0};
  EXPECT_EQ(d.byte_size(), 0u);
}

TEST(PtxParser, ModuleDirectives) {
  Module m = parse_ok(".version 8.7\n.target sm_90a, texmode_independent\n.address_size 64\n");
  EXPECT_EQ(m.version_major, 8u);
  EXPECT_EQ(m.version_minor, 7u);
  EXPECT_EQ(m.target, "sm_90a");
  ASSERT_EQ(m.target_options.size(), 1u);
  EXPECT_EQ(m.target_options[0], "texmode_independent");
  EXPECT_EQ(m.address_size, 64u);
}

TEST(PtxParser, ImmediateOperands) {
  struct Case {
    const char* text;
    Operand::Kind kind;
    int64_t ivalue;
    uint64_t fbits;
    bool is_double;
  } cases[] = {
      {"42", Operand::Kind::IntImm, 42, 0, false},
      {"-7", Operand::Kind::IntImm, -7, 0, false},
      {"0x1F", Operand::Kind::IntImm, 31, 0, false},
      {"0X10", Operand::Kind::IntImm, 16, 0, false},
      {"017", Operand::Kind::IntImm, 15, 0, false},
      {"0b101", Operand::Kind::IntImm, 5, 0, false},
      {"4294967295U", Operand::Kind::IntImm, 4294967295LL, 0, false},
      {"0xFFFFFFFFFFFFFFFF", Operand::Kind::IntImm, -1, 0, false},
      {"0", Operand::Kind::IntImm, 0, 0, false},
      {"0f3F800000", Operand::Kind::FloatImm, 0, 0x3F800000u, false},
      {"-0f3F800000", Operand::Kind::FloatImm, 0, 0xBF800000u, false},
      {"0d3FF0000000000000", Operand::Kind::FloatImm, 0, 0x3FF0000000000000ull, true},
      {"1.5", Operand::Kind::FloatImm, 0, 0x3FF8000000000000ull, true},
      {"2e1", Operand::Kind::FloatImm, 0, 0x4034000000000000ull, true},
  };
  for (const Case& c : cases) {
    Instruction in = one(std::string("mov.b32 %r1, ") + c.text + ";\n.reg .b32 %r1;");
    ASSERT_EQ(in.operands.size(), 2u) << c.text;
    const Operand& o = in.operands[1];
    EXPECT_EQ(o.kind, c.kind) << c.text;
    if (c.kind == Operand::Kind::IntImm) {
      EXPECT_EQ(o.ivalue, c.ivalue) << c.text;
    }
    if (c.kind == Operand::Kind::FloatImm) {
      EXPECT_EQ(o.fbits, c.fbits) << c.text;
      EXPECT_EQ(o.is_double, c.is_double) << c.text;
    }
  }
}

TEST(PtxParser, RegisterAndSpecialOperands) {
  const char* specials[] = {"%tid.x",         "%tid.y",         "%ctaid.y",      "%ntid.z",
                            "%nctaid.x",      "%laneid",        "%warpid",       "%lanemask_eq",
                            "%lanemask_lt",   "%lanemask_le",   "%lanemask_gt",  "%lanemask_ge",
                            "%clock",         "%clock64",       "%globaltimer",  "%smid",
                            "%nsmid",         "%gridid",        "%envreg3",      "%dynamic_smem_size",
                            "%total_smem_size"};
  for (const char* s : specials) {
    Instruction in = one(std::string("mov.u32 %r1, ") + s + ";");
    ASSERT_EQ(in.operands.size(), 2u) << s;
    EXPECT_EQ(in.operands[0].kind, Operand::Kind::Register) << s;
    EXPECT_EQ(in.operands[0].name, "%r1");
    EXPECT_EQ(in.operands[1].kind, Operand::Kind::Special) << s;
    EXPECT_EQ(in.operands[1].name, s);
  }
  // %envreg32 does not exist: it is an ordinary (undeclared) register name.
  EXPECT_EQ(one("mov.u32 %r1, %envreg32;").operands[1].kind, Operand::Kind::Register);
}

TEST(PtxParser, OpcodeModifiersAndGuards) {
  Instruction in = one("@!%p3 ld.global.nc.v4.f32 {%f1, %f2, _, %f4}, [%rd2+16];");
  EXPECT_EQ(in.opcode, "ld");
  EXPECT_EQ(in.modifiers, (std::vector<std::string>{"global", "nc", "v4", "f32"}));
  ASSERT_TRUE(in.guard.has_value());
  EXPECT_EQ(*in.guard, "%p3");
  EXPECT_TRUE(in.guard_negated);
  ASSERT_EQ(in.operands.size(), 2u);
  const Operand& v = in.operands[0];
  ASSERT_EQ(v.kind, Operand::Kind::Vector);
  ASSERT_EQ(v.elems.size(), 4u);
  EXPECT_EQ(v.elems[0].name, "%f1");
  EXPECT_EQ(v.elems[2].kind, Operand::Kind::Sink);
  EXPECT_EQ(in.operands[1].kind, Operand::Kind::Address);
  EXPECT_EQ(in.operands[1].name, "%rd2");
  EXPECT_EQ(in.operands[1].ivalue, 16);
  EXPECT_FALSE(in.operands[1].base_is_symbol);

  Instruction g = one("@%p1 bra $L__BB0_2;\n$L__BB0_2:");
  EXPECT_EQ(*g.guard, "%p1");
  EXPECT_FALSE(g.guard_negated);
  EXPECT_EQ(g.operands[0].kind, Operand::Kind::Label);
  Instruction s = one("ld.shared::cta.u32 %r1, [%r2];");
  EXPECT_EQ(s.modifiers, (std::vector<std::string>{"shared::cta", "u32"}));
  EXPECT_FALSE(s.guard.has_value());
}

TEST(PtxParser, AddressForms) {
  struct Case {
    const char* text;
    const char* base;
    bool is_symbol;
    int64_t offset;
  } cases[] = {
      {"[%rd1]", "%rd1", false, 0},      {"[%rd1+4]", "%rd1", false, 4},
      {"[%rd1+-4]", "%rd1", false, -4},  {"[%rd1-8]", "%rd1", false, -8},
      {"[p]", "p", true, 0},             {"[p+8]", "p", true, 8},
      {"[256]", "", false, 256},         {"[%rd1+0x10]", "%rd1", false, 16},
  };
  for (const Case& c : cases) {
    Instruction in = one(std::string("ld.param.u64 %rd2, ") + c.text + ";");
    ASSERT_EQ(in.operands.size(), 2u) << c.text;
    const Operand& a = in.operands[1];
    EXPECT_EQ(a.kind, Operand::Kind::Address) << c.text;
    EXPECT_EQ(a.name, c.base) << c.text;
    EXPECT_EQ(a.base_is_symbol, c.is_symbol) << c.text;
    EXPECT_EQ(a.ivalue, c.offset) << c.text;
  }
}

TEST(PtxParser, PipeNegationSymbolAndVectorImmediates) {
  Instruction sh = one("shfl.sync.down.b32 %r8|%p1, %r3, %r6, %r5, %r7;");
  ASSERT_EQ(sh.operands.size(), 5u);
  EXPECT_EQ(sh.operands[0].name, "%r8");
  EXPECT_EQ(sh.operands[0].pipe, "%p1");
  EXPECT_TRUE(sh.operands[1].pipe.empty());

  Instruction neg = one("and.pred %p1, %p2, !%p3;");
  EXPECT_TRUE(neg.operands[2].negate);
  EXPECT_FALSE(neg.operands[1].negate);

  Instruction sym = one("mov.u64 %rd1, $str;");
  EXPECT_EQ(sym.operands[1].kind, Operand::Kind::Symbol);
  EXPECT_EQ(sym.operands[1].name, "$str");

  Instruction vec = one("mov.b32 %f16, {0, %rs10};");
  ASSERT_EQ(vec.operands[1].kind, Operand::Kind::Vector);
  EXPECT_EQ(vec.operands[1].elems[0].kind, Operand::Kind::IntImm);
  EXPECT_EQ(vec.operands[1].elems[1].kind, Operand::Kind::Register);
}

TEST(PtxParser, RegistersDeclaredWithoutPercent) {
  Module m = parse_ok(wrap(".reg .b32 %r1;\n{\n.reg .pred t;\n.reg .f16 lo, hi;\n"
                           "setp.eq.s32 t|%p1, %r1, 0;\n@!t mov.b32 {lo, hi}, %r1;\n"
                           "ld.shared.b16 lo, [hi+2];\n}"));
  auto v = instrs(kernel(m));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0]->operands[0].kind, Operand::Kind::Register);
  EXPECT_EQ(v[0]->operands[0].name, "t");
  EXPECT_EQ(v[0]->operands[0].pipe, "%p1");
  EXPECT_EQ(*v[1]->guard, "t");
  EXPECT_TRUE(v[1]->guard_negated);
  EXPECT_EQ(v[1]->operands[0].elems[0].kind, Operand::Kind::Register);
  EXPECT_EQ(v[2]->operands[1].kind, Operand::Kind::Address);
  EXPECT_FALSE(v[2]->operands[1].base_is_symbol);
}

TEST(PtxParser, BranchTargetsAreLabels) {
  Module m = parse_ok(wrap("@%p1 bra.uni $L__BB0_2;\nadd.s32 %r1, %r1, 1;\n$L__BB0_2:\nret;"));
  const Function& f = kernel(m);
  ASSERT_EQ(f.body.size(), 4u);
  EXPECT_EQ(f.body[0].instr.operands[0].kind, Operand::Kind::Label);
  EXPECT_EQ(f.body[0].instr.operands[0].name, "$L__BB0_2");
  EXPECT_EQ(f.body[2].kind, Statement::Kind::Label);
  EXPECT_EQ(f.body[2].label, "$L__BB0_2");
  EXPECT_EQ(f.body[0].instr.line, kBodyFirstLine);
  EXPECT_EQ(f.body[3].instr.line, kBodyFirstLine + 3);
}

TEST(PtxParser, Declarations) {
  Module m = parse_ok(wrap(".reg .pred %p<3>;\n.reg .b32 %r<100>, %x, %y;\n"
                           ".local .align 8 .b8 __local_depot0[16];\n"
                           ".shared .align 16 .v4 .f32 sv[8];\n.reg .b64 %SP;"));
  const Function& f = kernel(m);
  std::vector<VarDecl> d;
  for (const Statement& s : f.body)
    if (s.kind == Statement::Kind::Decl) d.push_back(s.decl);
  ASSERT_EQ(d.size(), 7u);
  EXPECT_EQ(d[0].name, "%p");
  EXPECT_EQ(d[0].count, 3u);
  EXPECT_EQ(d[0].type, Type::Pred);
  EXPECT_EQ(d[0].space, Space::Reg);
  EXPECT_EQ(d[1].count, 100u);
  EXPECT_EQ(d[2].name, "%x");
  EXPECT_EQ(d[2].count, 0u);
  EXPECT_EQ(d[3].name, "%y");
  EXPECT_EQ(d[4].space, Space::Local);
  EXPECT_EQ(d[4].align, 8u);
  EXPECT_EQ(d[4].byte_size(), 16u);
  EXPECT_EQ(d[5].space, Space::Shared);
  EXPECT_EQ(d[5].vector_width, 4u);
  EXPECT_EQ(d[5].byte_size(), 8u * 16);
}

TEST(PtxParser, FunctionsParamsAndDirectives) {
  Module m = parse_ok(std::string(kHeader) +
                      ".extern .func (.param .b32 func_retval0) vprintf(.param .b64 a, .param .b64 b);\n"
                      ".func (.param .align 16 .b8 ret[16]) f(.param .b32 x, .reg .b32 y) .noreturn\n{\nret;\n}\n"
                      ".visible .entry k(.param .u64 .ptr .global .align 16 pa, .param .align 8 .b8 s[24])\n"
                      ".maxntid 256, 1, 1\n.minnctapersm 2\n.maxnreg 64\n{\n.pragma \"nounroll\";\nret;\n}\n"
                      ".weak .entry w() .reqntid 32\n{\nret;\n}\n");
  ASSERT_EQ(m.functions.size(), 4u);
  const Function& vp = m.functions[0];
  EXPECT_TRUE(vp.is_extern);
  EXPECT_FALSE(vp.is_entry);
  ASSERT_EQ(vp.returns.size(), 1u);
  EXPECT_EQ(vp.returns[0].name, "func_retval0");
  EXPECT_EQ(vp.params.size(), 2u);
  const Function& f = m.functions[1];
  EXPECT_TRUE(f.is_noreturn);
  EXPECT_EQ(f.returns[0].align, 16u);
  EXPECT_EQ(f.returns[0].byte_size(), 16u);
  EXPECT_EQ(f.params[1].space, Space::Reg);
  const Function& k = m.functions[2];
  EXPECT_TRUE(k.is_entry);
  EXPECT_TRUE(k.is_visible);
  ASSERT_EQ(k.params.size(), 2u);
  EXPECT_TRUE(k.params[0].ptr_attr);
  EXPECT_EQ(k.params[0].ptr_align, 16u);
  EXPECT_EQ(k.params[0].type, Type::U64);
  EXPECT_EQ(k.params[1].align, 8u);
  EXPECT_EQ(k.params[1].byte_size(), 24u);
  EXPECT_EQ(k.maxntid[0], 256u);
  EXPECT_EQ(k.maxntid[1], 1u);
  EXPECT_EQ(k.minnctapersm, 2u);
  EXPECT_EQ(k.maxnreg, 64u);
  EXPECT_EQ(instrs(k).size(), 1u);
  const Function& w = m.functions[3];
  EXPECT_TRUE(w.is_weak);
  EXPECT_EQ(w.reqntid[0], 32u);
  EXPECT_EQ(w.reqntid[1], 0u);
}

TEST(PtxParser, CallForms) {
  Module m = parse_ok(std::string(kHeader) +
                      ".func (.param .b32 r) f(.param .b32 a, .param .b32 b);\n"
                      ".func g();\n"
                      ".visible .entry k(.param .u64 p)\n{\n"
                      ".reg .b64 %rd<2>;\n"
                      "{\n.param .b32 param0;\n.param .b32 param1;\n.param .b32 retval0;\n"
                      "call.uni (retval0),\nf,\n(\nparam0,\nparam1\n);\n}\n"
                      "call g;\n"
                      "prototype_0 : .callprototype (.param .b32 _) _ (.param .b64 _);\n"
                      "{\n.param .b64 param0;\n.param .b32 retval0;\n"
                      "call (retval0), %rd1, (param0), prototype_0;\n}\n"
                      "ret;\n}\n");
  const Function& k = kernel(m);
  auto v = instrs(k);
  ASSERT_EQ(v.size(), 4u);
  const Instruction& c1 = *v[0];
  EXPECT_EQ(c1.opcode, "call");
  EXPECT_EQ(c1.modifiers, std::vector<std::string>{"uni"});
  ASSERT_EQ(c1.operands.size(), 3u);
  EXPECT_EQ(c1.operands[0].kind, Operand::Kind::Vector);
  ASSERT_EQ(c1.operands[0].elems.size(), 1u);
  EXPECT_EQ(c1.operands[1].kind, Operand::Kind::Symbol);
  EXPECT_EQ(c1.operands[1].name, "f");
  ASSERT_EQ(c1.operands[2].elems.size(), 2u);
  const Instruction& c2 = *v[1];
  ASSERT_EQ(c2.operands.size(), 3u);
  EXPECT_TRUE(c2.operands[0].elems.empty());
  EXPECT_EQ(c2.operands[1].name, "g");
  EXPECT_TRUE(c2.operands[2].elems.empty());
  const Instruction& c3 = *v[2];
  ASSERT_EQ(c3.operands.size(), 4u);
  EXPECT_EQ(c3.operands[1].kind, Operand::Kind::Register);
  EXPECT_EQ(c3.operands[3].kind, Operand::Kind::Label);
  EXPECT_EQ(c3.operands[3].name, "prototype_0");
  // The two blocks both declare param0 and retval0: renamed apart, uses follow.
  EXPECT_NE(c1.operands[0].elems[0].name, c3.operands[0].elems[0].name);
  EXPECT_NE(c1.operands[2].elems[0].name, c3.operands[2].elems[0].name);
}

TEST(PtxParser, NestedBlocksAreFlattenedAndRenamed) {
  Module m = parse_ok(wrap(".reg .b32 %r<3>;\n.reg .b32 t;\n"
                           "{\n.reg .b32 t;\n.reg .b32 u;\nmov.b32 t, 1;\nmov.b32 u, t;\n"
                           "{\n.reg .b32 t;\nmov.b32 t, 2;\n}\nmov.b32 %r1, t;\n}\n"
                           "{\n.reg .b32 %r<2>;\nadd.s32 %r1, %r0, 1;\n}\n"
                           "mov.b32 %r2, t;"));
  const Function& f = kernel(m);
  std::vector<std::string> decls;
  for (const Statement& s : f.body)
    if (s.kind == Statement::Kind::Decl) decls.push_back(s.decl.name);
  // Outer names stay; inner collisions get "$n"; the colliding range is expanded.
  ASSERT_EQ(decls.size(), 7u);
  EXPECT_EQ(decls[0], "%r");
  EXPECT_EQ(decls[1], "t");
  EXPECT_EQ(decls[2].rfind("t$", 0), 0u);
  EXPECT_EQ(decls[3], "u");  // unique: not renamed
  EXPECT_EQ(decls[4].rfind("t$", 0), 0u);
  EXPECT_NE(decls[2], decls[4]);
  EXPECT_EQ(decls[5].rfind("%r0$", 0), 0u);
  EXPECT_EQ(decls[6].rfind("%r1$", 0), 0u);
  auto v = instrs(f);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0]->operands[0].name, decls[2]);  // mov t, 1 (first inner t)
  EXPECT_EQ(v[1]->operands[1].name, decls[2]);
  EXPECT_EQ(v[1]->operands[0].name, "u");
  EXPECT_EQ(v[2]->operands[0].name, decls[4]);  // innermost t
  EXPECT_EQ(v[3]->operands[1].name, decls[2]);  // back in the first block
  EXPECT_EQ(v[3]->operands[0].name, "%r1");     // outer %r1
  EXPECT_EQ(v[4]->operands[0].name, decls[6]);  // inner %r1
  EXPECT_EQ(v[4]->operands[1].name, decls[5]);  // inner %r0
  EXPECT_EQ(v[5]->operands[1].name, "t");       // outer t again
}

TEST(PtxParser, GlobalsAndInitializers) {
  Module m = parse_ok(std::string(kHeader) +
                      ".const .align 4 .b8 cs[8] = {0, 0, 128, 63, 1, 2};\n"
                      ".global .align 4 .u32 counter = 42;\n"
                      ".global .align 4 .f32 fs[2] = {0f3F800000, 2};\n"
                      ".global .align 8 .f64 d1 = 0d4000000000000000;\n"
                      ".global .align 8 .u64 ptrs[2] = {generic(counter), counter+4};\n"
                      ".global .align 4 .u32 m2[2][2] = {{1}, {3, 4}};\n"
                      ".global .align 4 .s32 un[] = {-1, 2, 3};\n"
                      ".global .align 8 .b8 bm[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0xFF(counter), "
                      "0xFF00(counter), 0xFF0000(counter), 0xFF000000(counter), 0xFF00000000(counter), "
                      "0xFF0000000000(counter), 0xFF000000000000(counter), 0xFF00000000000000(counter)};\n"
                      ".extern .shared .align 16 .b8 dyn[];\n"
                      ".visible .global .attribute(.managed) .align 4 .u32 mv;\n");
  ASSERT_EQ(m.globals.size(), 10u);
  const VarDecl& cs = m.globals[0];
  EXPECT_EQ(cs.space, Space::Const);
  EXPECT_EQ(cs.init, (std::vector<uint8_t>{0, 0, 128, 63, 1, 2, 0, 0}));
  EXPECT_EQ(m.globals[1].init, (std::vector<uint8_t>{42, 0, 0, 0}));
  EXPECT_EQ(m.globals[2].init, (std::vector<uint8_t>{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}));
  EXPECT_EQ(m.globals[3].init, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0x40}));
  const VarDecl& ptrs = m.globals[4];
  ASSERT_EQ(ptrs.relocs.size(), 2u);
  EXPECT_EQ(ptrs.relocs[0].offset, 0u);
  EXPECT_EQ(ptrs.relocs[0].symbol, "counter");
  EXPECT_TRUE(ptrs.relocs[0].generic);
  EXPECT_EQ(ptrs.relocs[0].width, 8u);
  EXPECT_EQ(ptrs.relocs[1].offset, 8u);
  EXPECT_EQ(ptrs.relocs[1].addend, 4);
  EXPECT_FALSE(ptrs.relocs[1].generic);
  std::vector<uint8_t> m2(16, 0);
  m2[0] = 1;
  m2[8] = 3;
  m2[12] = 4;
  EXPECT_EQ(m.globals[5].init, m2);
  const VarDecl& un = m.globals[6];
  ASSERT_EQ(un.dims.size(), 1u);
  EXPECT_EQ(un.dims[0], 3u);
  EXPECT_EQ(un.init.size(), 12u);
  EXPECT_EQ(un.init[0], 0xff);
  EXPECT_EQ(un.init[3], 0xff);
  const VarDecl& bm = m.globals[7];
  ASSERT_EQ(bm.relocs.size(), 1u);
  EXPECT_EQ(bm.relocs[0].offset, 8u);
  EXPECT_EQ(bm.relocs[0].width, 8u);
  EXPECT_EQ(bm.init[0], 1);
  const VarDecl& dyn = m.globals[8];
  EXPECT_TRUE(dyn.is_extern);
  EXPECT_EQ(dyn.space, Space::Shared);
  EXPECT_EQ(dyn.byte_size(), 0u);
  EXPECT_TRUE(m.globals[9].is_managed);
  EXPECT_TRUE(m.globals[9].is_visible);
}

TEST(PtxParser, SkipsDebugDirectivesAndComments) {
  Module m = parse_ok(std::string(kHeader) +
                      "/* block\n comment */ .file 1 \"/tmp/a.cu\"\n"
                      ".visible .entry k() // trailing\n{\n.loc 1 4 3\nret; // done\n}\n"
                      ".section .debug_info\n{\n.b32 10\n.b8 1, 2\n{ .b8 3 }\n}\n");
  ASSERT_EQ(m.functions.size(), 1u);
  EXPECT_EQ(instrs(m.functions[0]).size(), 1u);
}

TEST(PtxParser, Alias) {
  Module m = parse_ok(std::string(kHeader) + ".func f()\n{\nret;\n}\n.alias g, f;\n");
  ASSERT_EQ(m.functions.size(), 2u);
  EXPECT_EQ(m.functions[1].name, "g");
  EXPECT_EQ(instrs(m.functions[1]).size(), 1u);
}

struct ErrorCase {
  std::string text;
  int line;
  const char* contains;
};

TEST(PtxParser, ErrorsNameLineColumnAndExpectation) {
  const std::string h = kHeader;  // 3 lines
  ErrorCase cases[] = {
      {h + ".visible .entry k()\n{\nmov.u32 %r1, %r2\nret;\n}\n", 7, "expected ';'"},
      {h + ".visible .entry k()\n{\nld.global.f32 %f1, [%rd1+];\n}\n", 6, "expected a number"},
      {h + ".visible .entry k()\n{\nret;\n", 7, "expected '}' closing the body"},
      {h + ".global .align 4 .u32 x = 0x;\n", 4, "hex digits"},
      {h + ".global .align 3 .u32 x;\n", 4, "power of two"},
      {h + ".global .u33 x;\n", 4, "expected a type"},
      {h + ".global .u32 x[2] = {1, 2, 3};\n", 4, "too many initializers"},
      {h + ".entry k(.param .u64 p\n{\nret;\n}\n", 5, "expected ')'"},
      {h + "mov.u32 %r1, 1;\n", 4, "expected a directive"},
      {".target sm_75\n", 2, "missing .version"},
      {h + ".visible .entry k()\n{\n@1 bra L;\n}\n", 6, "predicate register"},
      {h + ".visible .entry k()\n{\nmov.f32 %f1, 0f3F80;\n}\n", 6, "exactly 8 hex digits"},
      {h + "/* open comment\n", 4, "unterminated"},
      {h + ".visible .entry k()\n{\nmov.u32 %r1, 99999999999999999999999;\n}\n", 6, "out of range"},
      {h + ".visible .entry k()\n{\nmov.u32 %r1, #;\n}\n", 6, "unexpected character"},
      {h + ".global .u8 b[8] = {0xFF(x), 0xFF00(x)};\n", 4, "incomplete byte-masked"},
      {h + ".func f()\n{\nret;\n}\n.func f()\n{\nret;\n}\n", 8, "defined twice"},
      {h + ".visible .entry k()\n{\nmov.b64 %rd1, {{%r1}, %r2};\n}\n", 6, "as a vector element"},
  };
  for (const ErrorCase& c : cases) {
    Module m;
    std::string err;
    EXPECT_FALSE(parse(c.text, &m, &err)) << c.text;
    EXPECT_NE(err.find("line " + std::to_string(c.line)), std::string::npos)
        << "error: " << err << "\ninput:\n" << c.text;
    EXPECT_NE(err.find(c.contains), std::string::npos) << "error: " << err << "\ninput:\n" << c.text;
  }
}

TEST(PtxParser, AHugeTokenIsShownShortInTheError) {
  // An uploaded image of junk without spaces is one token: the error must not be as long as it
  // (it becomes a log line and the client's message; issue 13, part 3).
  const std::string text = "// junk\n" + std::string(1 << 20, 'x');
  Module m;
  std::string err;
  ASSERT_FALSE(parse(text, &m, &err));
  EXPECT_LT(err.size(), 400u) << err.substr(0, 400);
  EXPECT_NE(err.find("(1048576 characters)"), std::string::npos) << err.substr(0, 400);
}

TEST(PtxParser, ColumnIsReported) {
  Module m;
  std::string err;
  ASSERT_FALSE(parse(wrap("  add.s32 %r1, %r2 %r3;"), &m, &err));
  EXPECT_NE(err.find("line 6, column 20"), std::string::npos) << err;
  EXPECT_NE(err.find("found '%r3'"), std::string::npos) << err;
}

TEST(PtxParser, StopsAtEmbeddedNul) {
  std::string text = wrap("ret;");
  text.push_back('\0');
  text += "garbage that is not PTX";
  Module m;
  std::string err;
  EXPECT_TRUE(parse(text, &m, &err)) << err;
}

TEST(PtxParser, TruncatedInputsNeverCrash) {
  // Every prefix of a valid module either parses or fails with a message.
  std::string text = std::string(kHeader) +
                     ".global .align 8 .u64 p[2] = {generic(q), 3};\n.global .u32 q;\n"
                     ".visible .entry k(.param .u64 a)\n{\n.reg .b32 %r<4>;\n"
                     "{\n.reg .pred t;\nsetp.eq.s32 t|%p1, %r1, 0f3F800000;\n@!t bra L;\n}\n"
                     "L:\nst.global.v2.u32 [%rd1+-8], {%r1, _};\nret;\n}\n";
  for (size_t n = 0; n <= text.size(); ++n) {
    Module m;
    std::string err;
    if (!parse(std::string_view(text.data(), n), &m, &err)) {
      EXPECT_FALSE(err.empty()) << n;
    }
  }
  Module m;
  std::string err;
  EXPECT_TRUE(parse(text, &m, &err)) << err;
}

}  // namespace
}  // namespace gpool::emu::ptx

namespace gpool::emu::ptx {
namespace {

// The texture and surface instruction forms nvcc emits (tex.2d, tex.level, tex.grad, tld4,
// suld.b, sust.b) and the texture-reference declarations parse, so the executor can run them
// or refuse them by name instead of the parser failing on ".2d".
TEST(PtxParser, TextureAndSurfaceForms) {
  Instruction t = one("tex.2d.v4.f32.f32 {%f3, %f4, %f5, %f6}, [%rd1, {%f1, %f2}];");
  EXPECT_EQ(t.opcode, "tex");
  EXPECT_EQ(t.modifiers, (std::vector<std::string>{"2d", "v4", "f32", "f32"}));
  ASSERT_EQ(t.operands.size(), 2u);
  ASSERT_EQ(t.operands[1].kind, Operand::Kind::TexAddress);
  ASSERT_EQ(t.operands[1].elems.size(), 2u);
  EXPECT_EQ(t.operands[1].elems[0].name, "%rd1");
  EXPECT_EQ(t.operands[1].elems[1].kind, Operand::Kind::Vector);
  EXPECT_EQ(t.operands[1].elems[1].elems.size(), 2u);

  Instruction lvl = one("tex.level.2d.v4.f32.f32 {%f17, %f18, %f19, %f20}, [%rd1, {%f1, %f2}], %f16;");
  EXPECT_EQ(lvl.modifiers, (std::vector<std::string>{"level", "2d", "v4", "f32", "f32"}));
  EXPECT_EQ(lvl.operands.size(), 3u);
  Instruction grad = one("tex.grad.2d.v4.f32.f32 {%f5, %f6, %f7, %f8}, [%rd1, {%f1, %f2}], {%f4, %f3}, {%f3, %f4};");
  EXPECT_EQ(grad.operands.size(), 4u);
  EXPECT_EQ(one("tex.a2d.v4.f32.f32 {%f8, %f9, %f10, %f11}, [%rd1, {%r1, %f1, %f2, %f2}];").modifiers[0], "a2d");
  EXPECT_EQ(one("tex.3d.v4.s32.s32 {%r1, %r2, %r3, %r4}, [%rd1, {%r5, %r6, %r7, %r7}];").modifiers[0], "3d");
  EXPECT_EQ(one("tld4.g.2d.v4.f32.f32 {%f3, %f4, %f5, %f6}, [%rd1, {%f1, %f2}];").modifiers[1], "2d");
  Instruction su = one("suld.b.2d.v4.b8.clamp {%rs1, %rs2, %rs3, %rs4}, [%rd1, {%r3, %r2}];");
  EXPECT_EQ(su.modifiers, (std::vector<std::string>{"b", "2d", "v4", "b8", "clamp"}));
  Instruction st = one("sust.b.1d.b32.trap [%rd3, {%r4}], {%r13};");
  EXPECT_EQ(st.operands[0].kind, Operand::Kind::TexAddress);
  EXPECT_EQ(one("txq.width.b32 %r1, [%rd1];").operands[1].kind, Operand::Kind::Address);
  // Texture references with a separate sampler: [tex, sampler, {coords}].
  Instruction ref = one("tex.2d.v4.f32.f32 {%f1, %f2, %f3, %f4}, [t, s, {%f5, %f6}];");
  EXPECT_EQ(ref.operands[1].elems.size(), 3u);
}

TEST(PtxParser, TextureReferenceDeclarations) {
  Module m = parse_ok(std::string(kHeader) +
                      ".global .texref t;\n.global .surfref s;\n"
                      ".global .samplerref smp = { addr_mode_0 = wrap, filter_mode = linear };\n");
  ASSERT_EQ(m.globals.size(), 3u);
  EXPECT_EQ(m.globals[0].opaque, "texref");
  EXPECT_EQ(m.globals[1].opaque, "surfref");
  EXPECT_EQ(m.globals[2].opaque, "samplerref");
  ASSERT_EQ(m.globals[2].opaque_fields.size(), 2u);
  EXPECT_EQ(m.globals[2].opaque_fields[1].first, "filter_mode");
  EXPECT_EQ(m.globals[2].opaque_fields[1].second, "linear");
}

TEST(PtxParser, DigitModifierOnlyAfterAnOpcode) {
  Module m;
  std::string err;
  // ".5" standing alone is still not a token.
  EXPECT_FALSE(parse(wrap("mov.f32 %f1, .5;"), &m, &err));
  EXPECT_NE(err.find("unexpected character '.'"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::ptx
