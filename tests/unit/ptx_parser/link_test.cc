// The PTX linker (gpool/emu/ptx/link.h) on small hand-written units: extern resolution,
// unit-local names that clash (renamed with every reference), visible and weak duplicates,
// unresolved externs kept once, and the merged header.
#include "gpool/emu/ptx/link.h"
#include "gpool/emu/ptx/parser.h"

#include <gtest/gtest.h>

namespace gpool::emu::ptx {
namespace {

Module unit(const std::string& body, const std::string& target = "sm_75", const std::string& version = "8.0") {
  Module m;
  std::string err;
  const std::string text = ".version " + version + "\n.target " + target + "\n.address_size 64\n" + body;
  EXPECT_TRUE(parse(text, &m, &err)) << err << "\n" << text;
  return m;
}

const Function* fn(const Module& m, const std::string& name) {
  for (const Function& f : m.functions)
    if (f.name == name) return &f;
  return nullptr;
}
int count_fn(const Module& m, const std::string& name) {
  int n = 0;
  for (const Function& f : m.functions) n += f.name == name;
  return n;
}
const VarDecl* var(const Module& m, const std::string& name) {
  for (const VarDecl& g : m.globals)
    if (g.name == name) return &g;
  return nullptr;
}
// The callee names of every call in f, and every symbol operand (also address bases).
std::vector<std::string> symbols_used(const Function& f) {
  std::vector<std::string> out;
  for (const Statement& s : f.body) {
    if (s.kind != Statement::Kind::Instr) continue;
    for (const Operand& o : s.instr.operands)
      if (o.kind == Operand::Kind::Symbol || (o.kind == Operand::Kind::Address && o.base_is_symbol))
        out.push_back(o.name);
  }
  return out;
}
bool uses(const Function& f, const std::string& name) {
  for (const std::string& s : symbols_used(f))
    if (s == name) return true;
  return false;
}

constexpr const char* kCaller = R"(
.extern .func (.param .b32 r) twice(.param .b32 x);
.extern .global .align 4 .u32 counter;
.visible .entry k(.param .u64 p)
{
  .reg .b32 %r<3>;
  .reg .b64 %rd<2>;
  mov.u32 %r1, 5;
  { .param .b32 a; .param .b32 b; st.param.b32 [a], %r1;
    call.uni (b), twice, (a); ld.param.b32 %r2, [b]; }
  st.global.u32 [counter], %r2;
  ret;
}
)";
constexpr const char* kCallee = R"(
.visible .global .align 4 .u32 counter;
.visible .func (.param .b32 r) twice(.param .b32 x)
{
  .reg .b32 %r<3>;
  ld.param.b32 %r1, [x];
  add.s32 %r2, %r1, %r1;
  st.param.b32 [r], %r2;
  ret;
}
)";

TEST(PtxLink, ExternFunctionAndVariableResolveAcrossUnits) {
  std::vector<Module> units;
  units.push_back(unit(kCaller));
  units.push_back(unit(kCallee));
  Module out;
  std::string err;
  ASSERT_TRUE(link(std::move(units), &out, &err)) << err;
  EXPECT_EQ(count_fn(out, "twice"), 1);
  ASSERT_NE(fn(out, "twice"), nullptr);
  EXPECT_FALSE(fn(out, "twice")->is_extern);
  ASSERT_NE(var(out, "counter"), nullptr);
  EXPECT_FALSE(var(out, "counter")->is_extern);
  int counters = 0;
  for (const VarDecl& g : out.globals) counters += g.name == "counter";
  EXPECT_EQ(counters, 1);
  ASSERT_NE(fn(out, "k"), nullptr);
  EXPECT_TRUE(uses(*fn(out, "k"), "twice"));
}

TEST(PtxLink, UnresolvedExternIsKeptOnce) {
  std::vector<Module> units;
  units.push_back(unit(kCaller));
  units.push_back(unit(R"(
.extern .func (.param .b32 r) twice(.param .b32 x);
.visible .entry k2()
{
  ret;
}
)"));
  Module out;
  std::string err;
  ASSERT_TRUE(link(std::move(units), &out, &err)) << err;
  EXPECT_EQ(count_fn(out, "twice"), 1);
  EXPECT_TRUE(fn(out, "twice")->is_extern);
}

TEST(PtxLink, UnitLocalNamesThatClashAreRenamedWithTheirReferences) {
  const char* a = R"(
.global .align 4 .u32 state = 1;
.global .align 8 .u64 state_ptr = state;
.func (.param .b32 r) helper(.param .b32 x)
{
  .reg .b32 %r<2>;
  ld.param.b32 %r1, [x];
  st.param.b32 [r], %r1;
  ret;
}
.visible .entry ka()
{
  .reg .b32 %r<3>;
  ld.global.u32 %r1, [state];
  { .param .b32 a; .param .b32 b; st.param.b32 [a], %r1;
    call.uni (b), helper, (a); ld.param.b32 %r2, [b]; }
  ret;
}
)";
  std::string b = a;
  b.replace(b.find("ka()"), 4, "kb()");
  std::vector<Module> units;
  units.push_back(unit(a));
  units.push_back(unit(b));
  Module out;
  std::string err;
  ASSERT_TRUE(link(std::move(units), &out, &err)) << err;
  // Unit 0 keeps its names; unit 1's get a suffix, and so do its references.
  ASSERT_NE(fn(out, "helper"), nullptr);
  ASSERT_NE(fn(out, "helper$gpool_u1"), nullptr);
  ASSERT_NE(var(out, "state"), nullptr);
  ASSERT_NE(var(out, "state$gpool_u1"), nullptr);
  EXPECT_TRUE(uses(*fn(out, "ka"), "helper"));
  EXPECT_TRUE(uses(*fn(out, "ka"), "state"));
  EXPECT_TRUE(uses(*fn(out, "kb"), "helper$gpool_u1"));
  EXPECT_TRUE(uses(*fn(out, "kb"), "state$gpool_u1"));
  EXPECT_FALSE(uses(*fn(out, "kb"), "helper"));
  const VarDecl* ptr1 = var(out, "state_ptr$gpool_u1");
  ASSERT_NE(ptr1, nullptr);
  ASSERT_EQ(ptr1->relocs.size(), 1u);
  EXPECT_EQ(ptr1->relocs[0].symbol, "state$gpool_u1");
  ASSERT_EQ(var(out, "state_ptr")->relocs.size(), 1u);
  EXPECT_EQ(var(out, "state_ptr")->relocs[0].symbol, "state");
}

TEST(PtxLink, DuplicateVisibleDefinitionIsAnErrorNamingIt) {
  std::vector<Module> units;
  units.push_back(unit(kCallee));
  units.push_back(unit(kCallee));
  Module out;
  std::string err;
  EXPECT_FALSE(link(std::move(units), &out, &err));
  EXPECT_NE(err.find("multiple definition of '"), std::string::npos) << err;
  EXPECT_NE(err.find("unit 0 and unit 1"), std::string::npos) << err;
}

TEST(PtxLink, WeakDefinitionsKeepOneAndANonWeakOneWins) {
  const char* weak = R"(
.weak .func (.param .b32 r) pick()
{
  .reg .b32 %r<2>;
  mov.u32 %r1, 1;
  st.param.b32 [r], %r1;
  ret;
}
)";
  const char* strong = R"(
.visible .func (.param .b32 r) pick()
{
  .reg .b32 %r<2>;
  mov.u32 %r1, 2;
  st.param.b32 [r], %r1;
  ret;
}
)";
  {
    std::vector<Module> units;
    units.push_back(unit(weak));
    units.push_back(unit(weak));
    Module out;
    std::string err;
    ASSERT_TRUE(link(std::move(units), &out, &err)) << err;
    EXPECT_EQ(count_fn(out, "pick"), 1);
  }
  {
    std::vector<Module> units;
    units.push_back(unit(weak));
    units.push_back(unit(strong));
    Module out;
    std::string err;
    ASSERT_TRUE(link(std::move(units), &out, &err)) << err;
    ASSERT_EQ(count_fn(out, "pick"), 1);
    EXPECT_FALSE(fn(out, "pick")->is_weak);
  }
}

TEST(PtxLink, HeaderTakesTheHighestVersionAndTarget) {
  std::vector<Module> units;
  units.push_back(unit(kCaller, "sm_75", "8.0"));
  units.push_back(unit(kCallee, "sm_80", "8.5"));
  Module out;
  std::string err;
  ASSERT_TRUE(link(std::move(units), &out, &err)) << err;
  EXPECT_EQ(out.target, "sm_80");
  EXPECT_EQ(out.version_major, 8u);
  EXPECT_EQ(out.version_minor, 5u);
}

TEST(PtxLink, NothingToLinkIsAnError) {
  Module out;
  std::string err;
  EXPECT_FALSE(link({}, &out, &err));
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace gpool::emu::ptx
