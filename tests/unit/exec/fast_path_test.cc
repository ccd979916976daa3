// The interpreter's fast paths (whole-warp shared and global ld/st, the
// global span cache) must behave exactly like the general checked paths:
// same values, same faults naming the same lane and address.
#include "exec_test_util.h"

#include <atomic>

namespace gpool::emu::exec::test {
namespace {

// HostMemory that counts accessible() calls.
class CountingMemory final : public GlobalMemory {
 public:
  explicit CountingMemory(const HostMemory& m) : m_(m) {}
  bool accessible(uint64_t addr, uint64_t len) const override {
    calls.fetch_add(1, std::memory_order_relaxed);
    return m_.accessible(addr, len);
  }
  mutable std::atomic<int> calls{0};

 private:
  const HostMemory& m_;
};

// out[tid] = shared[(tid * stride + base) words] after every lane stored
// tid * 3 + 1 at word tid; v4 loads and stores too.
const char* kShared = R"(
.visible .entry sh(.param .u64 out, .param .u32 stride, .param .u32 base)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<4>;
  .shared .align 16 .b8 buf[512];
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [stride];
  ld.param.u32 %r2, [base];
  mov.u32 %r3, %tid.x;
  mov.u32 %r4, buf;
  shl.b32 %r5, %r3, 2;
  add.s32 %r6, %r4, %r5;
  mad.lo.s32 %r7, %r3, 3, 1;
  st.shared.u32 [%r6], %r7;
  bar.sync 0;
  mad.lo.s32 %r8, %r3, %r1, %r2;
  shl.b32 %r8, %r8, 2;
  add.s32 %r8, %r4, %r8;
  ld.shared.u32 %r9, [%r8];
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r9;
  ret;
}

.visible .entry shv4(.param .u64 out)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<4>;
  .shared .align 16 .b8 buf[512];
  ld.param.u64 %rd1, [out];
  mov.u32 %r3, %tid.x;
  mov.u32 %r4, buf;
  shl.b32 %r5, %r3, 4;
  add.s32 %r6, %r4, %r5;
  add.s32 %r10, %r3, 100;
  add.s32 %r11, %r3, 200;
  st.shared.v4.u32 [%r6], {%r3, %r10, %r11, 7};
  bar.sync 0;
  xor.b32 %r7, %r3, 31;
  shl.b32 %r7, %r7, 4;
  add.s32 %r7, %r4, %r7;
  ld.shared.v4.u32 {%r12, %r13, %r14, %r15}, [%r7];
  add.s32 %r12, %r12, %r13;
  add.s32 %r12, %r12, %r14;
  add.s32 %r12, %r12, %r15;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r12;
  ret;
}

.visible .entry shmis(.param .u64 out)
{
  .reg .pred %p<2>;
  .reg .b32 %r<10>;
  .reg .b64 %rd<4>;
  .shared .align 4 .b8 buf[512];
  ld.param.u64 %rd1, [out];
  mov.u32 %r3, %tid.x;
  mov.u32 %r4, buf;
  shl.b32 %r5, %r3, 2;
  add.s32 %r6, %r4, %r5;
  setp.eq.u32 %p1, %r3, 7;
  selp.u32 %r9, 2, 0, %p1;
  add.s32 %r6, %r6, %r9;
  ld.shared.u32 %r7, [%r6];
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r7;
  ret;
}

// Shared addresses are 32 bits wide: lane l's pointer is buf + 4l - 8 in a 32-bit register
// (below zero for lanes 0 and 1 when buf is at 0), and [p+8] wraps to buf + 4l. Store, atomic
// add and load through it; out[l] = (3l + 1) + 5.
.visible .entry shwrap(.param .u64 out)
{
  .reg .b32 %r<10>;
  .reg .b64 %rd<4>;
  .shared .align 4 .b8 buf[128];
  ld.param.u64 %rd1, [out];
  mov.u32 %r3, %tid.x;
  mov.u32 %r4, buf;
  shl.b32 %r5, %r3, 2;
  add.s32 %r6, %r4, %r5;
  add.s32 %r6, %r6, -8;
  mad.lo.s32 %r7, %r3, 3, 1;
  st.shared.u32 [%r6+8], %r7;
  atom.shared.add.u32 %r8, [%r6+8], 5;
  ld.shared.u32 %r9, [%r6+8];
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r9;
  ret;
}

.visible .entry params(.param .u64 out, .param .u32 a, .param .u64 b, .param .u32 c)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  setp.lt.u32 %p1, %r1, 5;
  @%p1 bra SKIP;
  ld.param.u32 %r2, [a];
  ld.param.u64 %rd2, [b];
  ld.param.s8 %r3, [c+1];
  cvt.u32.u64 %r4, %rd2;
  add.s32 %r2, %r2, %r4;
  add.s32 %r2, %r2, %r3;
  cvta.to.global.u64 %rd3, %rd1;
  mul.wide.u32 %rd4, %r1, 4;
  add.s64 %rd3, %rd3, %rd4;
  st.global.u32 [%rd3], %r2;
SKIP:
  ret;
}

.visible .entry param_oob(.param .u64 out)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [out+64];
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r1;
  ret;
}

.global .align 8 .u32 gtab[4] = {11, 22, 33, 44};
.const .align 8 .u32 ctab[4] = {5, 6, 7, 8};

.visible .entry module_vars(.param .u64 out)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, 1000;
  and.b32 %r5, %r1, 1;
  setp.eq.u32 %p1, %r5, 0;
  @%p1 ld.global.u32 %r2, [gtab+8];
  ld.const.v2.u32 {%r3, %r4}, [ctab+8];
  add.s32 %r2, %r2, %r3;
  add.s32 %r2, %r2, %r4;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r2;
  ret;
}

.visible .entry same_addr(.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r1;
  ret;
}

.visible .entry ld_self(.param .u64 tab, .param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [tab];
  ld.param.u64 %rd4, [out];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd2, %r1, 8;
  add.s64 %rd3, %rd1, %rd2;
  ld.global.u64 %rd3, [%rd3];
  add.s64 %rd5, %rd4, %rd2;
  st.global.u64 [%rd5], %rd3;
  ret;
}

.visible .entry two_reads(.param .u64 in, .param .u64 out, .param .u32 second)
{
  .reg .b32 %r<6>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  ld.param.u32 %r5, [second];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd1, %rd3;
  ld.global.u32 %r2, [%rd4];
  cvt.u64.u32 %rd6, %r5;
  add.s64 %rd7, %rd4, %rd6;
  ld.global.u32 %r3, [%rd7];
  add.s32 %r4, %r2, %r3;
  add.s64 %rd5, %rd2, %rd3;
  st.global.u32 [%rd5], %r4;
  ret;
}
)";

std::shared_ptr<Program> build(std::string* err) { return build_ptx(ptx_module(kShared), err); }

TEST(ExecFastPath, WholeWarpSharedLoadsAndStores) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0xdead);
  // Only words 0..31 were written; lane l reads word 31 - l (stride -1, base 31).
  auto r = run(*p, "sh", Launch{{1, 1, 1}, {32, 1, 1}}, {out, static_cast<unsigned>(-1), 31u}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (uint32_t l = 0; l < 32; ++l) EXPECT_EQ(out[l], (31 - l) * 3 + 1) << l;
}

TEST(ExecFastPath, WholeWarpVectorSharedLoadsAndStores) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  auto r = run(*p, "shv4", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (uint32_t l = 0; l < 32; ++l) {
    uint32_t t = l ^ 31;
    EXPECT_EQ(out[l], t + (t + 100) + (t + 200) + 7) << l;
  }
}

TEST(ExecFastPath, SharedOutOfBoundsLaneFaultsWithItsAddress) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  // Lane l reads word l * 4 + 4: lane 31 reads word 128, the first byte past the 512-byte buffer.
  auto r = run(*p, "sh", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 4u, 4u}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("ld.shared.u32"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("0x200"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("thread [31,0,0]"), std::string::npos) << r.message;
}

TEST(ExecFastPath, SharedMisalignedLaneFaults) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  auto r = run(*p, "shmis", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::MisalignedAddress);
  EXPECT_NE(r.message.find("misaligned shared read"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("thread [7,0,0]"), std::string::npos) << r.message;
}

TEST(ExecFastPath, AddressesFarOutsideSharedFault) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  // Every lane reads word 0x3fffffff, far past the 512-byte buffer.
  auto r = run(*p, "sh", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 0u, 0x3fffffffu}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("thread [0,0,0]"), std::string::npos) << r.message;
}

TEST(ExecFastPath, SharedAddressesWrapAt32Bits) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0xdead);
  // A whole warp (the fast path refuses the wrapped lanes and the checked path takes over) and a
  // partial one (the checked path only).
  for (unsigned threads : {32u, 20u}) {
    auto r = run(*p, "shwrap", Launch{{1, 1, 1}, {threads, 1, 1}}, {out}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
    for (uint32_t l = 0; l < threads; ++l) EXPECT_EQ(out[l], l * 3 + 1 + 5) << threads << " threads, lane " << l;
  }
}

TEST(ExecFastPath, ParamLoadsBroadcastToActiveLanesOnly) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0xdead);
  // c = 0x0000ff00: byte 1 is 0xff, sign-extended to -1.
  auto r = run(*p, "params", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 1000, uint64_t{0x500000007}, 0xff00u}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l) EXPECT_EQ(out[l], l < 5 ? 0xdeadu : 1006u) << l;
}

TEST(ExecFastPath, ParamReadPastTheBufferFaults) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(1, 0);
  auto r = run(*p, "param_oob", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("param read"), std::string::npos) << r.message;
}

TEST(ExecFastPath, ModuleVariablesAtConstantAddressesBroadcast) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  bind_globals(*p, mem);
  auto* out = mem.alloc<uint32_t>(32, 0);
  auto r = run(*p, "module_vars", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  // Even lanes load gtab[2] = 33 (guarded load), odd lanes keep 1000; all add ctab[2] + ctab[3].
  for (int l = 0; l < 32; ++l) EXPECT_EQ(out[l], (l % 2 == 0 ? 33u : 1000u) + 7u + 8u) << l;
}

TEST(ExecFastPath, ModuleVariableOutsideAnyAllocationFaults) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  auto* dead = mem.alloc<uint8_t>(64);
  // Bind gtab to an address no allocation covers (past the end of `dead`), ctab properly.
  for (auto& g : p->globals()) {
    if (g.name == "gtab") {
      p->bind_global(g.name, reinterpret_cast<uint64_t>(dead) + 4096);
    } else {
      auto* buf = mem.alloc<uint8_t>(g.size + g.align);
      uint64_t addr = (reinterpret_cast<uint64_t>(buf) + g.align - 1) / g.align * g.align;
      std::memcpy(reinterpret_cast<void*>(addr), g.init.data(), g.init.size());
      p->bind_global(g.name, addr);
    }
  }
  auto r = run(*p, "module_vars", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("ld.global.u32"), std::string::npos) << r.message;
}

TEST(ExecFastPath, SameAddressStoreKeepsHighestLane) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(1, 0);
  auto r = run(*p, "same_addr", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  EXPECT_EQ(out[0], 31u);
}

TEST(ExecFastPath, GlobalLoadIntoItsOwnBaseRegister) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* tab = mem.alloc<uint64_t>(32);
  auto* out = mem.alloc<uint64_t>(32, 0);
  for (int i = 0; i < 32; ++i) tab[i] = 0x1234567800000000ull + static_cast<uint64_t>(i) * 77;
  auto r = run(*p, "ld_self", Launch{{1, 1, 1}, {32, 1, 1}}, {tab, out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], tab[i]) << i;
}

TEST(ExecFastPath, SpanCacheSavesChecksButStillFaultsPastTheEnd) {
  std::string err;
  auto p = build(&err);
  ASSERT_TRUE(p) << err;
  HostMemory host;
  const int n = 64;
  auto* in = host.alloc<uint32_t>(n);
  auto* out = host.alloc<uint32_t>(32 * 8, 0);
  for (int i = 0; i < n; ++i) in[i] = static_cast<uint32_t>(i * i);
  CountingMemory mem(host);
  // 8 blocks of 32 threads all read in[0..32) and in[32..64): every span after the first
  // of each kind is answered from the cache.
  Launch cfg{{8, 1, 1}, {32, 1, 1}};
  cfg.threads = 1;
  auto r = run(*p, "two_reads", cfg, {in, out, 128u}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l) EXPECT_EQ(out[l], static_cast<uint32_t>(l * l + (l + 32) * (l + 32))) << l;
  // Checking per warp access would ask 24 times (8 blocks x 3 accesses). With the cache,
  // block 0 confirms its three spans, each followed by at most one refused probe past
  // either end (the buffers are smaller than a probe), and later blocks ask nothing.
  EXPECT_LE(mem.calls.load(), 9);
  // The second read now reaches one word past the end of `in` for lane 31 (in + 33 words
  // + 31 words = word 64): the span that includes it was never confirmed, so it faults.
  r = run(*p, "two_reads", cfg, {in, out, 132u}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("thread [31,0,0]"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace gpool::emu::exec::test
