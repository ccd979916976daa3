// Table-driven PTX kernels through the whole executor: ptx::parse ->
// Program::build -> launch on host buffers. Each case is a kernel body that
// reads a[tid], b[tid], c[tid] (32-bit) into %ra %rb %rc and stores %ro to
// out[tid]; expected values come from host arithmetic, not from the code
// under test.
#include "gpool/emu/exec/program.h"
#include "gpool/emu/ptx/parser.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace gpool::emu::exec {
namespace {

class Buffers final : public GlobalMemory {
 public:
  bool accessible(uint64_t addr, uint64_t len) const override {
    for (const auto& b : bufs_) {
      const uint64_t base = reinterpret_cast<uint64_t>(b.data());
      if (addr >= base && len <= b.size() * 4 && addr - base <= b.size() * 4 - len) return true;
    }
    return false;
  }
  uint32_t* add(std::vector<uint32_t> v) {
    bufs_.push_back(std::move(v));
    return bufs_.back().data();
  }

 private:
  std::vector<std::vector<uint32_t>> bufs_;
};

std::string kernel(const std::string& body) {
  return R"(.version 8.5
.target sm_90
.address_size 64
.visible .entry k(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 po)
{
  .reg .pred %p<8>;
  .reg .b16 %h<8>;
  .reg .b32 %r<16>;
  .reg .b32 %ra, %rb, %rc, %ro;
  .reg .f32 %f<8>;
  .reg .b64 %rd<12>;
  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pb];
  ld.param.u64 %rd3, [pc];
  ld.param.u64 %rd4, [po];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  cvta.to.global.u64 %rd3, %rd3;
  cvta.to.global.u64 %rd4, %rd4;
  mov.u32 %r0, %tid.x;
  mul.wide.u32 %rd5, %r0, 4;
  add.s64 %rd6, %rd1, %rd5;
  add.s64 %rd7, %rd2, %rd5;
  add.s64 %rd8, %rd3, %rd5;
  add.s64 %rd9, %rd4, %rd5;
  ld.global.b32 %ra, [%rd6];
  ld.global.b32 %rb, [%rd7];
  ld.global.b32 %rc, [%rd8];
  mov.b32 %ro, 0;
)" + body + R"(
  st.global.b32 [%rd9], %ro;
  ret;
}
)";
}

struct Case {
  const char* name;
  const char* body;
  // Fills a, b, c for 32 threads and returns the expected out.
  std::function<std::vector<uint32_t>(std::vector<uint32_t>&, std::vector<uint32_t>&, std::vector<uint32_t>&)> setup;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

uint32_t fb(float f) { return std::bit_cast<uint32_t>(f); }
float bf(uint32_t b) { return std::bit_cast<float>(b); }

std::vector<uint32_t> random_floats(uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<uint32_t> v(32);
  for (auto& x : v) x = fb(d(rng));
  return v;
}

const Case kCases[] = {
    {"fma_rn_f32", "fma.rn.f32 %ro, %ra, %rb, %rc;",
     [](auto& a, auto& b, auto& c) {
       a = random_floats(1, -1e3f, 1e3f), b = random_floats(2, -1e3f, 1e3f), c = random_floats(3, -1e6f, 1e6f);
       std::vector<uint32_t> o(32);
       for (int i = 0; i < 32; ++i) o[i] = fb(std::fma(bf(a[i]), bf(b[i]), bf(c[i])));
       return o;
     }},
    {"div_rn_f32", "div.rn.f32 %ro, %ra, %rb;",
     [](auto& a, auto& b, auto& c) {
       a = random_floats(4, -1e3f, 1e3f), b = random_floats(5, 0.001f, 1e3f), c.assign(32, 0);
       std::vector<uint32_t> o(32);
       for (int i = 0; i < 32; ++i) o[i] = fb(bf(a[i]) / bf(b[i]));
       return o;
     }},
    {"cvt_rzi_s32_f32_edges", "cvt.rzi.s32.f32 %ro, %ra;",
     [](auto& a, auto& b, auto& c) {
       const float in[] = {-2.9f, 2.9f, NAN, INFINITY, -INFINITY, 3e9f, -3e9f, -0.0f, 0.5f, -2147483648.0f};
       const int32_t want[] = {-2, 2, 0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 0, 0, INT32_MIN};
       a.assign(32, 0), b.assign(32, 0), c.assign(32, 0);
       std::vector<uint32_t> o(32);
       for (int i = 0; i < 32; ++i) {
         a[i] = fb(in[i % 10]);
         o[i] = static_cast<uint32_t>(want[i % 10]);
       }
       return o;
     }},
    {"setp_unordered_selp", "setp.ltu.f32 %p1, %ra, %rb;\n  selp.b32 %ro, 1, 2, %p1;",
     [](auto& a, auto& b, auto& c) {
       a.assign(32, 0), b.assign(32, 0), c.assign(32, 0);
       std::vector<uint32_t> o(32);
       for (int i = 0; i < 32; ++i) {
         const float x = (i % 3 == 0) ? NAN : static_cast<float>(i), y = 15.5f;
         a[i] = fb(x), b[i] = fb(y);
         o[i] = (x != x || x < y) ? 1 : 2;
       }
       return o;
     }},
#ifdef __FLT16_MAX__  // the compiler's _Float16 is the oracle
    {"f16x2_pack_and_ex2", "cvt.rn.f16x2.f32 %r1, %ra, %rb;\n  ex2.approx.f16x2 %ro, %r1;",
     [](auto& a, auto& b, auto& c) {
       a.assign(32, 0), b.assign(32, 0), c.assign(32, 0);
       std::vector<uint32_t> o(32);
       for (int i = 0; i < 32; ++i) {
         a[i] = fb(static_cast<float>(i % 8));       // upper half: 2^(0..7), exact in f16
         b[i] = fb(-static_cast<float>(i % 5));      // lower half: 2^-(0..4)
         const uint32_t hi = std::bit_cast<uint16_t>(static_cast<_Float16>(std::exp2(i % 8)));
         const uint32_t lo = std::bit_cast<uint16_t>(static_cast<_Float16>(std::exp2(-(i % 5))));
         o[i] = (hi << 16) | lo;
       }
       return o;
     }},
#endif
    {"shfl_bfly_warp_sum",
     "mov.b32 %r1, %ra;\n"
     "  mov.u32 %r3, 16;\n"
     "LOOP:\n"
     "  shfl.sync.bfly.b32 %r2, %r1, %r3, 31, -1;\n"
     "  add.s32 %r1, %r1, %r2;\n"
     "  shr.u32 %r3, %r3, 1;\n"
     "  setp.ne.u32 %p1, %r3, 0;\n"
     "  @%p1 bra LOOP;\n"
     "  mov.b32 %ro, %r1;",
     [](auto& a, auto& b, auto& c) {
       a.assign(32, 0), b.assign(32, 0), c.assign(32, 0);
       uint32_t sum = 0;
       for (int i = 0; i < 32; ++i) sum += a[i] = static_cast<uint32_t>(i * i);
       return std::vector<uint32_t>(32, sum);
     }},
    {"divergent_ballot_and_redux",
     "setp.lt.u32 %p1, %r0, 10;\n"
     "  @!%p1 bra SKIP;\n"
     "  activemask.b32 %r4;\n"
     "  setp.ne.u32 %p2, %ra, 0;\n"
     "  vote.sync.ballot.b32 %r5, %p2, %r4;\n"
     "  redux.sync.add.u32 %r6, %r0, %r4;\n"
     "  add.s32 %ro, %r5, %r6;\n"
     "SKIP:",
     [](auto& a, auto& b, auto& c) {
       a.assign(32, 0), b.assign(32, 0), c.assign(32, 0);
       uint32_t ballot = 0;
       for (int i = 0; i < 32; ++i) {
         a[i] = (i % 3 == 0) ? 1 : 0;
         if (i < 10 && a[i]) ballot |= 1u << i;
       }
       std::vector<uint32_t> o(32, 0);
       for (int i = 0; i < 10; ++i) o[i] = ballot + 45;  // 0 + 1 + ... + 9
       return o;
     }},
    {"min_max_nan_and_testp",
     "min.f32 %f1, %ra, %rb;\n"
     "  max.NaN.f32 %f2, %ra, %rb;\n"
     "  testp.notanumber.f32 %p1, %f2;\n"
     "  selp.f32 %f3, 0f00000000, %f2, %p1;\n"
     "  add.rn.f32 %ro, %f1, %f3;",
     [](auto& a, auto& b, auto& c) {
       a.assign(32, 0), b.assign(32, 0), c.assign(32, 0);
       std::vector<uint32_t> o(32);
       for (int i = 0; i < 32; ++i) {
         const float x = (i % 4 == 0) ? NAN : static_cast<float>(i), y = 10.0f;
         a[i] = fb(x), b[i] = fb(y);
         const float mn = x != x ? y : std::fmin(x, y);
         const float mx = x != x ? 0.0f : std::fmax(x, y);
         o[i] = fb(mn + mx);
       }
       return o;
     }},
};

class Pipeline : public ::testing::TestWithParam<Case> {};

TEST_P(Pipeline, KernelMatchesHostComputation) {
  const Case& tc = GetParam();
  std::vector<uint32_t> a, b, c;
  const std::vector<uint32_t> want = tc.setup(a, b, c);
  ptx::Module m;
  std::string err;
  ASSERT_TRUE(ptx::parse(kernel(tc.body), &m, &err)) << err;
  auto prog = Program::build(m, &err);
  ASSERT_NE(prog, nullptr) << err;
  const KernelInfo* k = prog->find_kernel("k");
  ASSERT_NE(k, nullptr);
  Buffers mem;
  uint64_t ptrs[4] = {reinterpret_cast<uint64_t>(mem.add(a)), reinterpret_cast<uint64_t>(mem.add(b)),
                      reinterpret_cast<uint64_t>(mem.add(c)), 0};
  uint32_t* out = mem.add(std::vector<uint32_t>(32, 0xdeadbeef));
  ptrs[3] = reinterpret_cast<uint64_t>(out);
  std::vector<uint8_t> params(k->param_bytes, 0);
  ASSERT_EQ(k->params.size(), 4u);
  for (int i = 0; i < 4; ++i) std::memcpy(params.data() + k->params[i].offset, &ptrs[i], 8);
  LaunchParams lp;
  lp.grid = {1, 1, 1};
  lp.block = {32, 1, 1};
  lp.param_buffer = params.data();
  lp.param_bytes = params.size();
  LaunchEnv env;
  env.memory = &mem;
  env.threads = 1;
  const LaunchResult r = prog->launch(*k, lp, env);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], want[i]) << tc.name << " thread " << i << std::hex << " got 0x" << out[i];
}

INSTANTIATE_TEST_SUITE_P(Kernels, Pipeline, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PipelineErrors, UnsupportedFloatFormNamesTheInstruction) {
  ptx::Module m;
  std::string err;
  ASSERT_TRUE(ptx::parse(kernel("add.rz.f16 %h1, %h2, %h3;"), &m, &err)) << err;
  EXPECT_EQ(Program::build(m, &err), nullptr);
  EXPECT_NE(err.find("add.rz.f16"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::exec
