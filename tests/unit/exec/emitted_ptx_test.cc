// Instruction forms that nvcc, CUB and Thrust emit (kernels/nvcc_emitted.ptx): each kernel is
// parsed, lowered and launched on two warps of inputs (edge values and random ones), and every
// lane's result is compared with a scalar reference written from the PTX ISA's definition.
#include "exec_test_util.h"

#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

namespace gpool::emu::exec::test {
namespace {

constexpr int kThreads = 64;

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::shared_ptr<Program> load(const char* file, std::string* error) {
  const std::string text = read_file(std::string(GPOOL_EXEC_TEST_KERNELS) + "/" + file);
  if (text.empty()) {
    *error = std::string("cannot read ") + file;
    return nullptr;
  }
  return build_ptx(text, error);
}

struct In {
  uint32_t a, b, c;
};

// Per-thread inputs: a mix of edge values and random ones; b and c are often small
// (shift counts, bit positions, selectors) so clamps and wraps are reached.
std::vector<In> inputs() {
  const uint32_t edges[] = {0, 1, 2, 7, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                            0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu, 0x12345678u, 0x89abcdefu};
  std::mt19937 rng(10);
  std::vector<In> v(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    const uint32_t e = edges[i % std::size(edges)];
    v[i].a = i % 3 == 0 ? rng() : e;
    v[i].b = i % 2 == 0 ? static_cast<uint32_t>(rng() % 40) : (i % 5 == 0 ? e : rng());
    v[i].c = i % 4 < 2 ? static_cast<uint32_t>(i % 40) : rng();
  }
  return v;
}

uint32_t bmsk_ref(uint32_t a, uint32_t b, bool clamp) {
  const uint32_t start = clamp ? std::min(a, 32u) : a & 31, width = clamp ? std::min(b, 32u) : b & 31;
  uint32_t r = 0;
  for (uint32_t i = 0; i < 32; ++i)
    if (i >= start && i < start + width) r |= 1u << i;
  return r;
}

uint32_t shf_ref(uint32_t a, uint32_t b, uint32_t c, bool left, bool clamp) {
  const uint32_t n = clamp ? std::min(c, 32u) : c & 31;
  const uint64_t x = (uint64_t{b} << 32) | a;
  return left ? static_cast<uint32_t>((x << n) >> 32) : static_cast<uint32_t>(x >> n);
}

// prmt: result byte i comes from byte sel[i] of {b, a} (a is bytes 0-3, b bytes 4-7).
uint32_t prmt_ref(uint32_t a, uint32_t b, uint32_t c, const std::string& mode) {
  const uint64_t x = (uint64_t{b} << 32) | a;
  auto byte = [&](uint32_t i) { return static_cast<uint32_t>(x >> (8 * (i & 7))) & 0xff; };
  uint32_t r = 0;
  if (mode.empty()) {
    for (uint32_t i = 0; i < 4; ++i) {
      const uint32_t s = (c >> (4 * i)) & 0xf;
      uint32_t v = byte(s & 7);
      if (s & 8) v = (v & 0x80) ? 0xff : 0;  // replicate the sign bit
      r |= v << (8 * i);
    }
    return r;
  }
  const uint32_t s = c & 3;
  uint32_t sel[4];
  for (uint32_t i = 0; i < 4; ++i) {
    if (mode == "f4e") sel[i] = s + i;
    else if (mode == "b4e") sel[i] = (s + 8 - i) & 7;
    else if (mode == "rc8") sel[i] = s;
    else if (mode == "ecl") sel[i] = std::max(i, s);
    else if (mode == "ecr") sel[i] = std::min(i, s);
    else sel[i] = 2 * (c & 1) + (i & 1);  // rc16
  }
  for (uint32_t i = 0; i < 4; ++i) r |= byte(sel[i]) << (8 * i);
  return r;
}

using Ref = std::function<uint64_t(const std::vector<In>&, int)>;

Ref lane(std::function<uint64_t(const In&)> f) {
  return [f](const std::vector<In>& in, int t) { return f(in[t]); };
}

struct Case {
  const char* kernel;
  Ref ref;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> table = {
      {"warp_sz", lane([](const In& x) -> uint64_t { return uint32_t{32} * x.a; })},
      {"bmsk_clamp", lane([](const In& x) -> uint64_t { return bmsk_ref(x.a, x.b, true); })},
      {"bmsk_wrap", lane([](const In& x) -> uint64_t { return bmsk_ref(x.a, x.b, false); })},
      {"shf_l_wrap", lane([](const In& x) -> uint64_t { return shf_ref(x.a, x.b, x.c, true, false); })},
      {"shf_l_clamp", lane([](const In& x) -> uint64_t { return shf_ref(x.a, x.b, x.c, true, true); })},
      {"shf_r_wrap", lane([](const In& x) -> uint64_t { return shf_ref(x.a, x.b, x.c, false, false); })},
      {"shf_r_clamp", lane([](const In& x) -> uint64_t { return shf_ref(x.a, x.b, x.c, false, true); })},
      {"prmt_default", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, ""); })},
      {"prmt_f4e", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, "f4e"); })},
      {"prmt_b4e", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, "b4e"); })},
      {"prmt_rc8", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, "rc8"); })},
      {"prmt_ecl", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, "ecl"); })},
      {"prmt_ecr", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, "ecr"); })},
      {"prmt_rc16", lane([](const In& x) -> uint64_t { return prmt_ref(x.a, x.b, x.c, "rc16"); })},
      // CUB's warp scan step: an inclusive prefix sum of a over each warp.
      {"cub_shfl_up",
       [](const std::vector<In>& in, int t) -> uint64_t {
         uint32_t s = 0;
         for (int j = t / 32 * 32; j <= t; ++j) s += in[j].a;
         return s;
       }},
      {"ld_s32_wide", lane([](const In& x) { return static_cast<uint64_t>(int64_t{static_cast<int32_t>(x.a)}); })},
      {"ld_s16_wide", lane([](const In& x) { return static_cast<uint64_t>(int64_t{static_cast<int16_t>(x.b)}); })},
      {"ld_s8_wide", lane([](const In& x) { return static_cast<uint64_t>(int64_t{static_cast<int8_t>(x.c)}); })},
      {"ld_u32_wide", lane([](const In& x) -> uint64_t { return x.a; })},
      {"ld_s16_narrow",
       lane([](const In& x) -> uint64_t { return static_cast<uint32_t>(int32_t{static_cast<int16_t>(x.b)}); })},
  };
  return table;
}

class EmittedPtx : public ::testing::TestWithParam<size_t> {
 protected:
  static void SetUpTestSuite() { program_ = load("nvcc_emitted.ptx", &error_); }
  static void TearDownTestSuite() { program_.reset(); }
  static std::shared_ptr<Program> program_;
  static std::string error_;
};
std::shared_ptr<Program> EmittedPtx::program_;
std::string EmittedPtx::error_;

TEST_P(EmittedPtx, MatchesScalarReference) {
  ASSERT_TRUE(program_) << error_;
  const Case& c = cases()[GetParam()];
  SCOPED_TRACE(c.kernel);
  HostMemory mem;
  const std::vector<In> in = inputs();
  In* d_in = mem.alloc<In>(kThreads);
  std::copy(in.begin(), in.end(), d_in);
  uint64_t* d_out = mem.alloc<uint64_t>(kThreads, 0xdeadbeefdeadbeefull);
  Launch cfg;
  cfg.block = {kThreads, 1, 1};
  LaunchResult r = run(*program_, c.kernel, cfg, {d_in, d_out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(d_out[t], c.ref(in, t)) << c.kernel << " thread " << t << ": a=" << std::hex << in[t].a
                                      << " b=" << in[t].b << " c=" << in[t].c;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, EmittedPtx, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& i) { return std::string(cases()[i.param].kernel); });

// %clock64 never runs backwards, %globaltimer is wall-clock nanoseconds (within the host's
// reading before and after the launch), its _hi/_lo halves form the same clock, and %clock /
// %clock_hi are the halves of a counter that also never runs backwards.
TEST(EmittedPtxTimers, ClockAndGlobalTimerForms) {
  std::string error;
  auto program = load("nvcc_emitted.ptx", &error);
  ASSERT_TRUE(program) << error;
  HostMemory mem;
  uint64_t* out = mem.alloc<uint64_t>(6);
  auto now_ns = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  Launch cfg;
  cfg.block = {1, 1, 1};
  const uint64_t before = now_ns();
  LaunchResult r = run(*program, "timers", cfg, {out}, mem);
  const uint64_t after = now_ns();
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_LE(out[0], out[1]);
  EXPECT_GE(out[2], before);
  EXPECT_LE(out[2], after);
  EXPECT_GE(out[3], out[2]);  // read after %globaltimer
  EXPECT_LE(out[3], after);
  const uint64_t clock = (out[5] << 32) | out[4];
  EXPECT_GE(out[5], out[1] >> 32);  // %clock_hi read after the second %clock64
  EXPECT_LE(out[5], (out[1] >> 32) + 1);
  EXPECT_NE(clock, 0u);
}

// Register demand from liveness and launch bounds (kernels/reg_demand.ptx; each kernel's
// comment derives its number).
TEST(RegisterDemand, LivenessAndLaunchBounds) {
  std::string error;
  auto program = load("reg_demand.ptx", &error);
  ASSERT_TRUE(program) << error;
  const std::pair<const char*, uint32_t> want[] = {
      {"live8", 10},           {"live8_wide", 18},          {"live100", 202},
      {"live100_maxnreg", 40}, {"live100_maxntid1024", 64}, {"live100_reqntid512", 128},
      {"live100_minblocks", 64}, {"loop5", 7},              {"backedge", 5},
  };
  for (auto [name, regs] : want) {
    const KernelInfo* k = program->find_kernel(name);
    ASSERT_NE(k, nullptr) << name;
    EXPECT_EQ(k->num_regs, regs) << name;
  }
}

// Every kernel nvcc compiled for the executor tests (kernels/features.cu) fits a 1024-thread
// block, as ptxas makes it (none of them needs more than 64 registers).
TEST(RegisterDemand, NvccKernelsFitLargeBlocks) {
  std::ifstream f(GPOOL_EXEC_TEST_PTX);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string error;
  auto program = build_ptx(ss.str(), &error);
  ASSERT_TRUE(program) << error;
  ASSERT_FALSE(program->kernels().empty());
  for (const KernelInfo& k : program->kernels()) {
    EXPECT_GE(k.num_regs, 3u) << k.name;
    EXPECT_LE(k.num_regs, 64u) << k.name;
  }
}

}  // namespace
}  // namespace gpool::emu::exec::test
