// Lazy lowering (Program::build_lazy): a kernel is lowered only when it is prepared or launched,
// so a module's unused kernels are never lowered, and one the executor cannot run does not stop
// the others. Module variables bound before a kernel is lowered still reach its code.
#include "exec_test_util.h"

#include <thread>

namespace gpool::emu::exec::test {
namespace {

// `scaled` reads a module variable and calls a device function; `broken` holds an instruction
// no GPU has, so lowering it must fail; `unused` is valid and never used.
const std::string kModule = ptx_module(R"(
.global .align 4 .u32 scale = 7;

.func (.param .u32 r) twice(.param .u32 x)
{
  .reg .b32 %v<2>;
  ld.param.u32 %v0, [x];
  add.u32 %v1, %v0, %v0;
  st.param.u32 [r], %v1;
  ret;
}

.visible .entry scaled(.param .u64 out)
{
  .reg .b32 %r<6>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd0, [out];
  mov.u32 %r0, %tid.x;
  ld.global.u32 %r1, [scale];
  mul.lo.u32 %r2, %r0, %r1;
  {
    .param .u32 a;
    .param .u32 b;
    st.param.u32 [a], %r2;
    call (b), twice, (a);
    ld.param.u32 %r3, [b];
  }
  mul.wide.u32 %rd1, %r0, 4;
  add.u64 %rd2, %rd0, %rd1;
  st.global.u32 [%rd2], %r3;
  ret;
}

.visible .entry broken(.param .u64 out)
{
  .reg .b32 %r<2>;
  frobnicate.b32 %r1, %r0;
  ret;
}

.visible .entry unused(.param .u64 out)
{
  .reg .b64 %rd<2>;
  ld.param.u64 %rd0, [out];
  st.global.u32 [%rd0], 1;
  ret;
}
)");

std::shared_ptr<Program> lazy(const std::string& text) {
  auto m = std::make_shared<ptx::Module>();
  std::string err;
  if (!ptx::parse(text, m.get(), &err)) {
    ADD_FAILURE() << err;
    return nullptr;
  }
  auto p = Program::build_lazy(std::move(m), &err);
  EXPECT_NE(p, nullptr) << err;
  return p;
}

size_t index_of(const Program& p, const std::string& name) {
  const KernelInfo* k = p.find_kernel(name);
  EXPECT_NE(k, nullptr) << name;
  return static_cast<size_t>(k - p.kernels().data());
}

TEST(LazyLowering, BuildLowersNothingAndNamesEveryKernel) {
  const uint64_t before = Program::kernels_lowered();
  auto p = lazy(kModule);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->kernels().size(), 3u);
  EXPECT_EQ(p->kernels()[0].name, "scaled");
  EXPECT_EQ(p->kernels()[1].name, "broken");
  EXPECT_EQ(p->kernels()[2].name, "unused");
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(p->prepared(i));
  EXPECT_EQ(p->globals().size(), 1u);  // module variables are laid out at build time
  EXPECT_EQ(Program::kernels_lowered(), before);
}

TEST(LazyLowering, OnlyTheLaunchedKernelIsLowered) {
  auto p = lazy(kModule);
  ASSERT_NE(p, nullptr);
  HostMemory mem;
  bind_globals(*p, mem);  // before any kernel is lowered, as the runtime does at module load
  const uint64_t before = Program::kernels_lowered();
  const size_t scaled = index_of(*p, "scaled");
  std::string err;
  ASSERT_TRUE(p->prepare(scaled, &err)) << err;
  EXPECT_EQ(Program::kernels_lowered(), before + 1);
  uint32_t* out = mem.alloc<uint32_t>(32);
  LaunchResult r = run(*p, "scaled", Launch{}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (uint32_t i = 0; i < 32; ++i) EXPECT_EQ(out[i], 2 * 7 * i) << i;
  EXPECT_TRUE(p->prepared(scaled));
  EXPECT_FALSE(p->prepared(index_of(*p, "broken")));
  EXPECT_FALSE(p->prepared(index_of(*p, "unused")));
  EXPECT_EQ(Program::kernels_lowered(), before + 1);  // the launch lowered nothing more
}

TEST(LazyLowering, AKernelTheExecutorCannotRunFailsOnlyWhenUsed) {
  // The eager build refuses the whole module for the one bad kernel.
  std::string eager_err;
  EXPECT_EQ(build_ptx(kModule, &eager_err), nullptr);
  EXPECT_NE(eager_err.find("frobnicate"), std::string::npos) << eager_err;

  auto p = lazy(kModule);
  ASSERT_NE(p, nullptr);
  HostMemory mem;
  bind_globals(*p, mem);
  const size_t broken = index_of(*p, "broken");
  std::string err;
  EXPECT_FALSE(p->prepare(broken, &err));
  EXPECT_NE(err.find("frobnicate"), std::string::npos) << err;
  EXPECT_NE(err.find("broken"), std::string::npos) << err;
  std::string again;
  EXPECT_FALSE(p->prepare(broken, &again));  // remembered
  EXPECT_EQ(again, err);
  uint32_t* out = mem.alloc<uint32_t>(32);
  // A launch without prepare() lowers on its own and reports the same failure.
  LaunchResult r = run(*p, "broken", Launch{}, {out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalInstruction);
  EXPECT_NE(r.message.find("frobnicate"), std::string::npos) << r.message;
  // The other kernels still work.
  ASSERT_TRUE(p->prepare(index_of(*p, "unused"), &err)) << err;
  r = run(*p, "unused", Launch{{1, 1, 1}, {1, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(out[0], 1u);
}

TEST(LazyLowering, ConcurrentPreparesLowerOnce) {
  auto p = lazy(kModule);
  ASSERT_NE(p, nullptr);
  HostMemory mem;
  bind_globals(*p, mem);
  const uint64_t before = Program::kernels_lowered();
  const size_t scaled = index_of(*p, "scaled");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::string e;
      if (p->prepare(scaled, &e)) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(Program::kernels_lowered(), before + 1);
}

}  // namespace
}  // namespace gpool::emu::exec::test
