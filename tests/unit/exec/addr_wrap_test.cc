// Addresses in the explicit .shared and .local spaces are 32-bit offsets: a base register below
// the variable plus a larger immediate wraps modulo 2^32, as ptxas's code expects (cuRAND's
// mt19937_jump_ahead kernel computes `buf - 4 * clz(x)` and adds immediates of about 40 KB).
// The wrap must hold on every path: whole-warp fast path, partial warps (the checked path),
// atomics and local memory; an address that wraps to a place outside the buffer still faults.
#include "exec_test_util.h"

namespace gpool::emu::exec::test {
namespace {

// Each thread stores tid * 5 + 3 at buf[tid] through a base register 4096 bytes below buf,
// adds 1 with an atomic through a base 8 bytes below, reads it back through a third
// base, and stores the value in out[tid]. `lift` moves the final read by that many bytes
// (a read outside the buffer when large).
const char* kWrap = R"(
.visible .entry shared_wrap(.param .u64 out, .param .u32 lift)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<4>;
  .shared .align 4 .b8 buf[256];
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r10, [lift];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, buf;
  shl.b32 %r3, %r1, 2;
  add.s32 %r4, %r2, %r3;
  add.s32 %r5, %r4, -4096;
  mad.lo.s32 %r6, %r1, 5, 3;
  st.shared.u32 [%r5+4096], %r6;
  add.s32 %r7, %r4, -8;
  atom.shared.add.u32 %r8, [%r7+8], 1;
  bar.sync 0;
  sub.s32 %r9, %r4, 65536;
  add.s32 %r9, %r9, %r10;
  ld.shared.u32 %r11, [%r9+65536];
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r11;
  ret;
}

.visible .entry local_wrap(.param .u64 out)
{
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  .local .align 4 .b8 loc[16];
  ld.param.u64 %rd1, [out];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, loc;
  add.s32 %r3, %r2, -16;
  add.s32 %r4, %r1, 7;
  st.local.u32 [%r3+20], %r4;
  ld.local.u32 %r5, [%r2+4];
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r5;
  ret;
}
)";

TEST(ExecAddressWrap, SharedBaseBelowTheBufferWrapsOnEveryPath) {
  std::string err;
  auto p = build_ptx(ptx_module(kWrap), &err);
  ASSERT_TRUE(p) << err;
  // 32 threads: whole warps take the fast path; 20 threads: a partial warp takes the checked one.
  for (unsigned threads : {32u, 20u}) {
    HostMemory mem;
    auto* out = mem.alloc<uint32_t>(threads, 0xdead);
    auto r = run(*p, "shared_wrap", Launch{{1, 1, 1}, {threads, 1, 1}}, {out, 0u}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
    for (uint32_t t = 0; t < threads; ++t) EXPECT_EQ(out[t], t * 5 + 4) << "thread " << t << " of " << threads;
  }
}

TEST(ExecAddressWrap, WrappedSharedAddressOutsideTheBufferStillFaults) {
  std::string err;
  auto p = build_ptx(ptx_module(kWrap), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  // Lifted by 256 bytes, thread t reads word t + 64 of the 64-word buffer: every read is out.
  auto r = run(*p, "shared_wrap", Launch{{1, 1, 1}, {32, 1, 1}}, {out, 256u}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalAddress);
  EXPECT_NE(r.message.find("ld.shared.u32"), std::string::npos) << r.message;
}

TEST(ExecAddressWrap, LocalBaseBelowTheBufferWraps) {
  std::string err;
  auto p = build_ptx(ptx_module(kWrap), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* out = mem.alloc<uint32_t>(32, 0);
  auto r = run(*p, "local_wrap", Launch{{1, 1, 1}, {32, 1, 1}}, {out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (uint32_t t = 0; t < 32; ++t) EXPECT_EQ(out[t], t + 7) << t;
}

}  // namespace
}  // namespace gpool::emu::exec::test
