// PTX forms found in NVIDIA's library images (cuBLASLt's kernels, issue 11) that nvcc-built test
// programs do not emit: each test is a hand-written kernel using exactly the form the library
// uses, checked against values computed here.
#include "exec_test_util.h"

#include <cstdint>

namespace gpool::emu::exec::test {
namespace {

// 256-bit vector loads and stores (PTX ISA 8.8 .v8 of a 32-bit type), as in cuBLASLt's
// epilogue::impl::globalKernel: ld.global.nc.v8.f32. Lane l copies 8 words from in + 32 l + off
// to out + 32 l, reversing their order so every register is seen to land where it belongs.
const char* kV8 = R"(
.visible .entry v8(.param .u64 in, .param .u64 out, .param .u32 off)
{
  .reg .b32 %r<12>;
  .reg .f32 %f<9>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  ld.param.u32 %r9, [off];
  mov.u32 %r10, %tid.x;
  mul.wide.u32 %rd3, %r10, 32;
  add.s64 %rd4, %rd1, %rd3;
  cvt.u64.u32 %rd6, %r9;
  add.s64 %rd4, %rd4, %rd6;
  add.s64 %rd5, %rd2, %rd3;
  ld.global.nc.v8.f32 {%f1, %f2, %f3, %f4, %f5, %f6, %f7, %f8}, [%rd4];
  st.global.v8.f32 [%rd5], {%f8, %f7, %f6, %f5, %f4, %f3, %f2, %f1};
  ld.global.v8.u32 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8}, [%rd4];
  add.s32 %r1, %r1, %r8;
  st.global.v8.b32 [%rd5+1024], {%r1, %r2, %r3, %r4, %r5, %r6, %r7, 7};
  ret;
}
)";

// n words of test memory starting at a 32-byte boundary (device addresses are host addresses).
uint32_t* alloc_aligned32(HostMemory& mem, size_t n, uint32_t fill = 0) {
  auto* raw = mem.alloc<uint32_t>(n + 8, fill);
  auto a = (reinterpret_cast<uintptr_t>(raw) + 31) / 32 * 32;
  return reinterpret_cast<uint32_t*>(a);
}

TEST(LibraryPtx, VectorOfEightWordsLoadsAndStores) {
  std::string err;
  auto p = build_ptx(ptx_module(kV8), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* in = alloc_aligned32(mem, 256 + 8);
  auto* out = alloc_aligned32(mem, 512, 0xdeadbeef);
  for (uint32_t i = 0; i < 256 + 8; ++i) in[i] = 1000 + i;
  auto r = run(*p, "v8", Launch{}, {in, out, 0}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (uint32_t l = 0; l < 32; ++l) {
    for (uint32_t v = 0; v < 8; ++v) EXPECT_EQ(out[8 * l + v], in[8 * l + 7 - v]) << l << " " << v;
    EXPECT_EQ(out[256 + 8 * l], in[8 * l] + in[8 * l + 7]) << l;
    for (uint32_t v = 1; v < 7; ++v) EXPECT_EQ(out[256 + 8 * l + v], in[8 * l + v]) << l << " " << v;
    EXPECT_EQ(out[256 + 8 * l + 7], 7u) << l;
  }
}

TEST(LibraryPtx, VectorOfEightWordsMustBe32ByteAligned) {
  std::string err;
  auto p = build_ptx(ptx_module(kV8), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* in = alloc_aligned32(mem, 256 + 8);
  auto* out = alloc_aligned32(mem, 512);
  auto r = run(*p, "v8", Launch{}, {in, out, 16}, mem);  // 16-byte aligned only
  EXPECT_EQ(r.status, LaunchStatus::MisalignedAddress) << r.message;
  EXPECT_NE(r.message.find("ld.global.nc.v8.f32"), std::string::npos) << r.message;
}

TEST(LibraryPtx, VectorOfEightNeedsThirtyTwoBitElements) {
  std::string err;
  auto p = build_ptx(ptx_module(R"(
.visible .entry k(.param .u64 a)
{
  .reg .b64 %rd<10>;
  ld.param.u64 %rd1, [a];
  ld.global.v8.u64 {%rd2, %rd3, %rd4, %rd5, %rd6, %rd7, %rd8, %rd9}, [%rd1];
  ret;
}
)"),
                     &err);
  EXPECT_FALSE(p);
  EXPECT_NE(err.find(".v8 needs a 32-bit type"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::exec::test
