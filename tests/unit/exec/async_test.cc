// cp.async (sizes, .ca/.cg, src-size zero fill, ignore-src), its group
// waits, mbarrier phases and transaction counts, and griddepcontrol, with
// hand-written PTX kernels.
#include "exec_test_util.h"

#include <fmt/format.h>

#include <ostream>

namespace gpool::emu::exec::test {
namespace {

struct CpCase {
  const char* name;
  const char* form;  // ca or cg
  int size;
  int src_size_mode;  // 0: none, 1: register lane % (size + 1), 2: ignore-src predicate on odd lanes
  const char* suffix = "";  // prefetch-size or cache-hint qualifiers (.L2::cache_hint adds the policy operand)
};

// Test names in ctest: the case name, not its bytes.
void PrintTo(const CpCase& c, std::ostream* os) { *os << c.name; }

// Lane l copies `size` bytes from src + l * 16 to shared + l * 16 (shared
// pre-filled with 0xaa), then the block writes all of shared to out.
std::string cp_kernel(const CpCase& c) {
  std::string extra;
  if (c.src_size_mode == 1) extra = ", %ss";
  if (c.src_size_mode == 2) extra = ", %p1";
  if (std::string(c.suffix).find("cache_hint") != std::string::npos) extra += ", %pol";
  return fmt::format(R"(
.visible .entry cp(.param .u64 psrc, .param .u64 pout)
{{
  .shared .align 16 .b8 sm[512];
  .reg .pred %p<2>;
  .reg .b32 %t<8>;
  .reg .b32 %ss;
  .reg .b64 %rd<8>;
  .reg .b64 %pol;
  griddepcontrol.wait;
  mov.b64 %pol, 0;
  mov.u32 %t0, %tid.x;
  mov.u32 %t1, sm;
  shl.b32 %t2, %t0, 4;
  add.u32 %t3, %t1, %t2;
  mov.u32 %t4, 0xaaaaaaaa;
  st.shared.v4.b32 [%t3], {{%t4, %t4, %t4, %t4}};
  ld.param.u64 %rd1, [psrc];
  cvta.to.global.u64 %rd1, %rd1;
  mul.wide.u32 %rd2, %t0, 16;
  add.s64 %rd3, %rd1, %rd2;
  rem.u32 %ss, %t0, {size_plus_one};
  and.b32 %t5, %t0, 1;
  setp.eq.u32 %p1, %t5, 1;
  cp.async.{form}.shared.global{suffix} [%t3], [%rd3], {size}{extra};
  cp.async.commit_group;
  cp.async.wait_group 0;
  cp.async.wait_all;
  bar.sync 0;
  griddepcontrol.launch_dependents;
  ld.shared.v4.b32 {{%t4, %t5, %t6, %t7}}, [%t3];
  ld.param.u64 %rd4, [pout];
  add.s64 %rd5, %rd4, %rd2;
  st.global.v4.b32 [%rd5], {{%t4, %t5, %t6, %t7}};
  ret;
}}
)",
                     fmt::arg("form", c.form), fmt::arg("suffix", c.suffix), fmt::arg("size", c.size),
                     fmt::arg("extra", extra),
                     fmt::arg("size_plus_one", c.size + 1));
}

class CpAsync : public ::testing::TestWithParam<CpCase> {};

TEST_P(CpAsync, CopiesAndZeroFills) {
  const CpCase& c = GetParam();
  std::string err;
  auto p = build_ptx(ptx_module(cp_kernel(c)), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* src = mem.alloc<uint8_t>(512);
  auto* out = mem.alloc<uint8_t>(512);
  for (int i = 0; i < 512; ++i) src[i] = static_cast<uint8_t>(i * 13 + 1);
  auto r = run(*p, "cp", Launch{}, {src, out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l) {
    int n = c.size;
    if (c.src_size_mode == 1) n = l % (c.size + 1);
    if (c.src_size_mode == 2 && (l & 1)) n = 0;
    for (int b = 0; b < 16; ++b) {
      const int want = b < n ? src[l * 16 + b] : b < c.size ? 0 : 0xaa;
      ASSERT_EQ(out[l * 16 + b], want) << c.name << " lane " << l << " byte " << b;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Forms, CpAsync,
                         ::testing::Values(CpCase{"ca4", "ca", 4, 0}, CpCase{"ca8", "ca", 8, 0},
                                           CpCase{"ca16", "ca", 16, 0}, CpCase{"cg16", "cg", 16, 0},
                                           CpCase{"ca4_srcsize", "ca", 4, 1}, CpCase{"ca8_srcsize", "ca", 8, 1},
                                           CpCase{"cg16_srcsize", "cg", 16, 1},
                                           CpCase{"ca16_ignore_src", "ca", 16, 2},
                                           CpCase{"cg16_ignore_src", "cg", 16, 2},
                                           // as cuBLAS/cuBLASLt write them (prefetch size), and with cache policies
                                           CpCase{"ca4_L2_128B", "ca", 4, 0, ".L2::128B"},
                                           CpCase{"ca16_L2_128B", "ca", 16, 0, ".L2::128B"},
                                           CpCase{"cg16_L2_128B_srcsize", "cg", 16, 1, ".L2::128B"},
                                           CpCase{"cg16_L2_256B_ignore_src", "cg", 16, 2, ".L2::256B"},
                                           CpCase{"ca8_cache_hint", "ca", 8, 0, ".L2::cache_hint"},
                                           CpCase{"cg16_cache_hint_srcsize", "cg", 16, 1, ".L2::cache_hint"},
                                           CpCase{"ca16_L2_64B_cache_hint_ignore_src", "ca", 16, 2,
                                                  ".L2::cache_hint.L2::64B"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CpAsyncFaults, MisalignedSourceAndBadFormsFailLoudly) {
  std::string kernel = cp_kernel(CpCase{"x", "ca", 8, 0});
  kernel.replace(kernel.find("add.s64 %rd3, %rd1, %rd2;"), 25, "add.s64 %rd3, %rd1, %rd2;\n  add.s64 %rd3, %rd3, 4;");
  std::string err;
  auto p = build_ptx(ptx_module(kernel), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* src = mem.alloc<uint8_t>(1024);
  auto* out = mem.alloc<uint8_t>(512);
  auto r = run(*p, "cp", Launch{}, {src, out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::MisalignedAddress) << r.message;

  std::string cg8 = cp_kernel(CpCase{"x", "cg", 8, 0});
  EXPECT_FALSE(build_ptx(ptx_module(cg8), &err));
  EXPECT_NE(err.find("copy size 8"), std::string::npos) << err;
  std::string bulk = cp_kernel(CpCase{"x", "ca", 16, 0});
  bulk.replace(bulk.find("cp.async.ca.shared.global [%t3], [%rd3], 16;"), 44,
               "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%t3], [%rd3], "
               "16, [%t1], %t5;");
  EXPECT_FALSE(build_ptx(ptx_module(bulk), &err));
  EXPECT_NE(err.find("multicast"), std::string::npos) << err;
}

// cp.async.bulk: thread 0 expects 256 bytes on an mbarrier and copies them global -> shared
// with complete_tx; the phase completes, the block reads shared, and a bulk_group copy writes
// shared back to a second global buffer.
const char* kBulk = R"(
.visible .entry bulk(.param .u64 pin, .param .u64 pout, .param .u64 pout2)
{
  .shared .align 16 .b8 sm[256];
  .shared .align 8 .b64 bar;
  .reg .pred %p<4>;
  .reg .b32 %t<8>;
  .reg .b64 %rd<8>;
  .reg .b64 %tok;
  mov.u32 %t0, %tid.x;
  setp.eq.u32 %p0, %t0, 0;
  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  ld.param.u64 %rd3, [pout2];
  mov.u32 %t1, sm;
  mov.u32 %t2, bar;
  @%p0 mbarrier.init.shared::cta.b64 [%t2], 1;
  bar.sync 0;
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%t2], 0;
  @%p0 mbarrier.arrive.expect_tx.shared::cta.b64 %tok, [%t2], 256;
  @%p0 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%t1], [%rd1], 256, [%t2];
  mbarrier.try_wait.parity.shared::cta.b64 %p2, [%t2], 0;
  shl.b32 %t3, %t0, 3;
  add.u32 %t4, %t1, %t3;
  ld.shared.v2.b32 {%t5, %t6}, [%t4];
  mul.wide.u32 %rd4, %t3, 1;
  add.s64 %rd5, %rd2, %rd4;
  st.global.v2.b32 [%rd5], {%t5, %t6};
  selp.u32 %t7, 1, 0, %p1;
  selp.u32 %t5, 2, 0, %p2;
  or.b32 %t7, %t7, %t5;
  st.global.u32 [%rd5+256], %t7;
  @%p0 cp.async.bulk.global.shared::cta.bulk_group [%rd3], [%t1], 256;
  cp.async.bulk.commit_group;
  cp.async.bulk.wait_group.read 0;
  cp.async.bulk.wait_group 0;
  ret;
}
)";

TEST(CpAsyncBulk, CopiesAndCompletesTheMbarrierTransaction) {
  std::string err;
  auto p = build_ptx(ptx_module(kBulk), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* in = mem.alloc<uint8_t>(256);
  auto* out = mem.alloc<uint32_t>(64 + 64 * 2, 0xffffffffu);
  auto* out2 = mem.alloc<uint8_t>(256);
  for (int i = 0; i < 256; ++i) in[i] = static_cast<uint8_t>(i * 7 + 3);
  auto r = run(*p, "bulk", Launch{}, {in, out, out2}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(std::memcmp(out, in, 256), 0);
  EXPECT_EQ(std::memcmp(out2, in, 256), 0);
  // Before the copy the phase was open (no 1); after arrive + complete_tx it is complete (2).
  const auto* flags = reinterpret_cast<const uint8_t*>(out) + 256;
  for (int t = 0; t < 32; ++t) {
    uint32_t f;
    std::memcpy(&f, flags + t * 8, 4);
    EXPECT_EQ(f, 2u) << t;
  }
}

// Two warps arrive on one mbarrier (count 64); after bar.sync every thread
// sees the phase complete through its token and through the parity form,
// the next phase is open again, pending_count reads the token, and an
// expect_tx / complete_tx pair holds a phase until the bytes are counted.
const char* kMbar = R"(
.visible .entry mbar(.param .u64 pout)
{
  .shared .align 8 .b64 bar;
  .shared .align 8 .b64 txbar;
  .reg .pred %p<8>;
  .reg .b32 %t<8>;
  .reg .b64 %rd<8>;
  .reg .b64 %tok;
  .reg .b64 %tok2;
  mov.u32 %t0, %tid.x;
  setp.eq.u32 %p0, %t0, 0;
  @%p0 mbarrier.init.shared.b64 [bar], 64;
  @%p0 mbarrier.init.shared::cta.b64 [txbar], 1;
  bar.sync 0;
  mbarrier.arrive.shared.b64 %tok, [bar];
  bar.sync 0;
  mbarrier.test_wait.shared.b64 %p1, [bar], %tok;
  mbarrier.try_wait.parity.shared.b64 %p2, [bar], 0;
  mbarrier.test_wait.parity.shared.b64 %p3, [bar], 1;
  mbarrier.pending_count.b64 %t1, %tok;
  // tx barrier: thread 0 arrives expecting 16 bytes; not complete until complete_tx.
  @%p0 mbarrier.arrive.expect_tx.shared.b64 %tok2, [txbar], 16;
  bar.sync 0;
  mbarrier.test_wait.parity.shared.b64 %p4, [txbar], 0;
  bar.sync 0;
  @%p0 mbarrier.complete_tx.shared.b64 [txbar], 16;
  bar.sync 0;
  mbarrier.test_wait.parity.shared.b64 %p5, [txbar], 0;
  selp.u32 %t2, 1, 0, %p1;
  selp.u32 %t3, 2, 0, %p2;
  selp.u32 %t4, 4, 0, %p3;
  selp.u32 %t5, 8, 0, %p4;
  selp.u32 %t6, 16, 0, %p5;
  or.b32 %t2, %t2, %t3;
  or.b32 %t2, %t2, %t4;
  or.b32 %t2, %t2, %t5;
  or.b32 %t2, %t2, %t6;
  ld.param.u64 %rd1, [pout];
  mul.wide.u32 %rd2, %t0, 8;
  add.s64 %rd3, %rd1, %rd2;
  st.global.v2.u32 [%rd3], {%t2, %t1};
  ret;
}
)";

TEST(Mbarrier, PhasesTokensParityAndTransactions) {
  std::string err;
  auto p = build_ptx(ptx_module(kMbar), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(128, 0xffffffffu);
  Launch cfg;
  cfg.block = {64, 1, 1};
  auto r = run(*p, "mbar", cfg, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  std::vector<int> seen(65, 0);
  for (int t = 0; t < 64; ++t) {
    // token phase complete (1), parity-0 phase complete (2), parity-1 (the new phase) open (no 4),
    // tx phase open before complete_tx (no 8), complete after (16).
    EXPECT_EQ(out[2 * t], 1u | 2u | 16u) << "thread " << t;
    // The token records the arrivals still pending before this thread's: each of 64..1 once.
    ASSERT_GE(out[2 * t + 1], 1u);
    ASSERT_LE(out[2 * t + 1], 64u);
    ++seen[out[2 * t + 1]];
  }
  for (int v = 1; v <= 64; ++v) EXPECT_EQ(seen[v], 1) << v;
}

TEST(Mbarrier, OverArrivalAndNonSharedObjectsFault) {
  std::string kernel = R"(
.visible .entry over(.param .u64 p)
{
  .shared .align 8 .b64 bar;
  .reg .b64 %tok;
  mbarrier.init.shared.b64 [bar], 16;
  mbarrier.arrive.shared.b64 %tok, [bar], 20;
  ret;
}
.visible .entry global_obj(.param .u64 p)
{
  .reg .b64 %rd<2>;
  .reg .b64 %tok;
  ld.param.u64 %rd1, [p];
  mbarrier.arrive.b64 %tok, [%rd1];
  ret;
}
)";
  std::string err;
  auto p = build_ptx(ptx_module(kernel), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* g = mem.alloc<uint64_t>(4);
  Launch one;
  one.block = {1, 1, 1};
  auto r = run(*p, "over", one, {g}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalInstruction) << r.message;
  EXPECT_NE(r.message.find("pending"), std::string::npos) << r.message;
  r = run(*p, "global_obj", Launch{}, {g}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress) << r.message;
  EXPECT_NE(r.message.find("shared"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace gpool::emu::exec::test
