// Round trips of real nvcc 13 output (compiled from kernels/*.cu at build time):
// the parser accepts it and finds the entries, params, globals and code.
#include "gpool/emu/ptx/parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

namespace gpool::emu::ptx {
namespace {

Module load(const std::string& name) {
  std::string path = std::string(GPOOL_TEST_PTX_DIR) + "/" + name;
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "missing " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  Module m;
  std::string err;
  EXPECT_TRUE(parse(ss.str(), &m, &err)) << path << ": " << err;
  return m;
}

const Function* find_fn(const Module& m, const std::string& name) {
  for (const Function& f : m.functions)
    if (f.name == name) return &f;
  return nullptr;
}

const VarDecl* find_global(const Module& m, const std::string& name) {
  for (const VarDecl& g : m.globals)
    if (g.name == name) return &g;
  return nullptr;
}

size_t count_instrs(const Function& f, const std::string& opcode = "") {
  size_t n = 0;
  for (const Statement& s : f.body)
    if (s.kind == Statement::Kind::Instr && (opcode.empty() || s.instr.opcode == opcode)) ++n;
  return n;
}

// Every register, address base and guard used in a function is declared in it,
// among its parameters, or at module scope (checks flattening and renaming).
void expect_names_resolve(const Module& m, const Function& f) {
  auto declared = [&](const std::string& name) {
    auto covers = [&](const VarDecl& d) {
      if (d.count == 0) return d.name == name;
      if (name.compare(0, d.name.size(), d.name) != 0 || name.size() == d.name.size()) return false;
      for (size_t i = d.name.size(); i < name.size(); ++i)
        if (name[i] < '0' || name[i] > '9') return false;
      return std::stoull(name.substr(d.name.size())) < d.count;
    };
    for (const VarDecl& p : f.params)
      if (covers(p)) return true;
    for (const VarDecl& p : f.returns)
      if (covers(p)) return true;
    for (const Statement& s : f.body)
      if (s.kind == Statement::Kind::Decl && covers(s.decl)) return true;
    for (const VarDecl& g : m.globals)
      if (covers(g)) return true;
    return find_fn(m, name) != nullptr;
  };
  std::function<void(const Operand&, int)> check = [&](const Operand& o, int line) {
    switch (o.kind) {
      case Operand::Kind::Register:
      case Operand::Kind::Symbol:
        EXPECT_TRUE(declared(o.name)) << f.name << " line " << line << ": " << o.name;
        if (!o.pipe.empty()) {
          EXPECT_TRUE(declared(o.pipe)) << f.name << " line " << line << ": " << o.pipe;
        }
        break;
      case Operand::Kind::Address:
        if (!o.name.empty()) {
          EXPECT_TRUE(declared(o.name)) << f.name << " line " << line << ": " << o.name;
        }
        break;
      case Operand::Kind::Vector:
        for (const Operand& e : o.elems) check(e, line);
        break;
      default:
        break;
    }
  };
  for (const Statement& s : f.body) {
    if (s.kind != Statement::Kind::Instr) continue;
    if (s.instr.guard) {
      EXPECT_TRUE(declared(*s.instr.guard)) << f.name << ": " << *s.instr.guard;
    }
    for (const Operand& o : s.instr.operands) check(o, s.instr.line);
  }
}

void expect_all_resolve(const Module& m) {
  for (const Function& f : m.functions)
    if (!f.is_extern) expect_names_resolve(m, f);
}

TEST(PtxNvcc, VectorAdd) {
  Module m = load("vector_add.sm75.ptx");
  EXPECT_EQ(m.version_major, 9u);
  EXPECT_EQ(m.target, "sm_75");
  EXPECT_EQ(m.address_size, 64u);
  const Function* k = find_fn(m, "_Z9vectorAddPKfS0_Pfi");
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(k->is_entry);
  EXPECT_TRUE(k->is_visible);
  ASSERT_EQ(k->params.size(), 4u);
  EXPECT_EQ(k->params[0].type, Type::U64);
  EXPECT_EQ(k->params[3].type, Type::U32);
  EXPECT_GT(count_instrs(*k), 5u);
  EXPECT_EQ(count_instrs(*k, "ret"), 1u);
  EXPECT_GE(count_instrs(*k, "ld"), 3u);
  expect_all_resolve(m);
}

TEST(PtxNvcc, SharedMatmulAndDynamicShared) {
  Module m = load("matmul_shared.sm75.ptx");
  const Function* k = find_fn(m, "_Z12matmulSharedPKfS0_Pfi");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->params.size(), 4u);
  EXPECT_GE(count_instrs(*k, "bar"), 2u);
  size_t shared = 0;
  for (const Statement& s : k->body)
    if (s.kind == Statement::Kind::Decl && s.decl.space == Space::Shared) {
      ++shared;
      EXPECT_EQ(s.decl.byte_size(), 16u * 16 * 4);
    }
  EXPECT_EQ(shared, 2u);
  const VarDecl* buf = find_global(m, "buf");
  ASSERT_NE(buf, nullptr);
  EXPECT_TRUE(buf->is_extern);
  EXPECT_EQ(buf->space, Space::Shared);
  EXPECT_EQ(buf->byte_size(), 0u);
  ASSERT_NE(find_fn(m, "_Z13dynamicSharedPf"), nullptr);
  expect_all_resolve(m);
}

TEST(PtxNvcc, WarpReduceBothArchs) {
  for (const char* file : {"warp_reduce.sm75.ptx", "warp_reduce.sm90.ptx"}) {
    Module m = load(file);
    const Function* k = find_fn(m, "_Z10warpReducePKfPfPj");
    ASSERT_NE(k, nullptr) << file;
    EXPECT_EQ(k->params.size(), 3u);
    size_t shfl = 0, piped = 0;
    for (const Statement& s : k->body) {
      if (s.kind != Statement::Kind::Instr || s.instr.opcode != "shfl") continue;
      ++shfl;
      if (!s.instr.operands.empty() && !s.instr.operands[0].pipe.empty()) ++piped;
    }
    EXPECT_EQ(shfl, 5u) << file;
    EXPECT_EQ(piped, shfl) << file;
    EXPECT_GE(count_instrs(*k, "vote"), 1u) << file;
    expect_all_resolve(m);
  }
  EXPECT_EQ(load("warp_reduce.sm90.ptx").target, "sm_90");
}

TEST(PtxNvcc, Atomics) {
  Module m = load("histogram.sm75.ptx");
  const Function* h = find_fn(m, "_Z9histogramPKhiPj");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->params.size(), 3u);
  EXPECT_GE(count_instrs(*h, "atom") + count_instrs(*h, "red"), 2u);
  const Function* a = find_fn(m, "_Z11atomicsMiscPiPyPf");
  ASSERT_NE(a, nullptr);
  EXPECT_GE(count_instrs(*a, "atom") + count_instrs(*a, "red"), 5u);
  expect_all_resolve(m);
}

TEST(PtxNvcc, PrintfAndAssert) {
  for (const char* file : {"printf_assert.sm75.ptx", "printf_assert.sm90.ptx"}) {
    Module m = load(file);
    const Function* vp = find_fn(m, "vprintf");
    ASSERT_NE(vp, nullptr) << file;
    EXPECT_TRUE(vp->is_extern);
    EXPECT_EQ(vp->returns.size(), 1u);
    EXPECT_EQ(vp->params.size(), 2u);
    const Function* af = find_fn(m, "__assertfail");
    ASSERT_NE(af, nullptr);
    EXPECT_EQ(af->params.size(), 5u);
    const Function* p = find_fn(m, "_Z12printfKernelid");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->params[1].type, Type::F64);
    EXPECT_EQ(count_instrs(*p, "call"), 1u);
    const Function* a = find_fn(m, "_Z12assertKernelPKi");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(count_instrs(*a, "call"), 1u);
    // The format string is a NUL-terminated global byte array.
    const VarDecl* str = find_global(m, "$str");
    ASSERT_NE(str, nullptr);
    std::string s(str->init.begin(), str->init.end());
    EXPECT_EQ(s, std::string("thread %d x=%d y=%f\n") + '\0');
    expect_all_resolve(m);
  }
}

TEST(PtxNvcc, GlobalsAndNoinlineCall) {
  for (const char* file : {"globals_calls.sm75.ptx", "globals_calls.debug.ptx"}) {
    Module m = load(file);
    const VarDecl* coeffs = find_global(m, "coeffs");
    ASSERT_NE(coeffs, nullptr) << file;
    EXPECT_EQ(coeffs->space, Space::Const);
    ASSERT_EQ(coeffs->init.size(), 16u);
    float f[4];
    std::memcpy(f, coeffs->init.data(), 16);
    EXPECT_EQ(f[0], 1.0f);
    EXPECT_EQ(f[3], 4.0f);
    const VarDecl* counter = find_global(m, "counter");
    ASSERT_NE(counter, nullptr);
    ASSERT_EQ(counter->init.size(), 4u);
    EXPECT_EQ(counter->init[0], 42);
    const VarDecl* table_ptr = find_global(m, "tablePtr");
    ASSERT_NE(table_ptr, nullptr);
    ASSERT_EQ(table_ptr->relocs.size(), 1u);
    EXPECT_EQ(table_ptr->relocs[0].symbol, "table");
    const VarDecl* pair = find_global(m, "pairValue");
    ASSERT_NE(pair, nullptr);
    ASSERT_EQ(pair->relocs.size(), 1u);
    EXPECT_EQ(pair->relocs[0].symbol, "counter");
    EXPECT_EQ(pair->relocs[0].offset, 8u);
    EXPECT_EQ(pair->init[0], 7);
    const VarDecl* managed = find_global(m, "managedValue");
    ASSERT_NE(managed, nullptr);
    EXPECT_TRUE(managed->is_managed);
    const Function* poly = find_fn(m, "_Z4polyf");
    ASSERT_NE(poly, nullptr);
    EXPECT_FALSE(poly->is_entry);
    EXPECT_EQ(poly->returns.size(), 1u);
    EXPECT_EQ(poly->params.size(), 1u);
    EXPECT_GT(count_instrs(*poly), 3u);
    const Function* k = find_fn(m, "_Z7usePolyPfi");
    ASSERT_NE(k, nullptr);
    bool calls_poly = false;
    for (const Statement& s : k->body)
      if (s.kind == Statement::Kind::Instr && s.instr.opcode == "call" && s.instr.operands.size() >= 3 &&
          s.instr.operands[1].name == "_Z4polyf")
        calls_poly = true;
    EXPECT_TRUE(calls_poly) << file;
    expect_all_resolve(m);
  }
}

TEST(PtxNvcc, HalfAndBfloat16InlineAsmBlocks) {
  Module m = load("half_bf16.sm75.ptx");
  const Function* k = find_fn(m, "_Z7halfOpsPKfPfP6__halfP13__nv_bfloat16");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->params.size(), 4u);
  size_t cvt_f16 = 0;
  for (const Statement& s : k->body)
    if (s.kind == Statement::Kind::Instr && s.instr.opcode == "cvt")
      for (const std::string& mod : s.instr.modifiers)
        if (mod == "f16") ++cvt_f16;
  EXPECT_GT(cvt_f16, 0u);
  expect_all_resolve(m);
}

}  // namespace
}  // namespace gpool::emu::ptx
