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
  EXPECT_NE(err.find(".v8 needs .global and a 32-bit type"), std::string::npos) << err;
}


// cvt.pack.sat (PTX ISA: a and b clamped to the narrow type, b in the low bits, a above it, the
// rest of d from the low bits of c), in the sequence cutlass's int8 epilogue in cuBLASLt uses to
// pack four s32 values into one word of s8, plus the 16-, 4- and 2-bit forms. Lane l reads four
// s32 from in + 16 l and writes five words to out + 20 l.
const char* kCvtPack = R"(
.visible .entry pack(.param .u64 in, .param .u64 out)
{
  .reg .b32 %r<12>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [in];
  ld.param.u64 %rd2, [out];
  mov.u32 %r10, %tid.x;
  mul.wide.u32 %rd3, %r10, 16;
  add.s64 %rd3, %rd1, %rd3;
  mul.wide.u32 %rd4, %r10, 20;
  add.s64 %rd4, %rd2, %rd4;
  ld.global.v4.u32 {%r1, %r2, %r3, %r4}, [%rd3];
  { .reg .u32 r4;cvt.pack.sat.s8.s32.b32 r4, %r4, %r3, 0;cvt.pack.sat.s8.s32.b32 %r5, %r2, %r1, r4;}
  cvt.pack.sat.u16.s32 %r6, %r2, %r1;
  cvt.pack.sat.s16.s32 %r7, %r4, %r3;
  cvt.pack.sat.u8.s32.b32 %r8, %r2, %r1, 0x12345678;
  cvt.pack.sat.s4.s32.b32 %r9, %r4, %r3, 0xfedcba98;
  cvt.pack.sat.u2.s32.b32 %r11, %r2, %r1, %r9;
  st.global.u32 [%rd4], %r5;
  st.global.u32 [%rd4+4], %r6;
  st.global.u32 [%rd4+8], %r7;
  st.global.u32 [%rd4+12], %r8;
  st.global.u32 [%rd4+16], %r9;
  st.global.u32 [%rd4+16], %r11;
  ret;
}
)";

// x clamped to [lo, hi] and cut to `bits` bits.
uint32_t sat_bits(int32_t x, int32_t lo, int32_t hi, unsigned bits) {
  const int32_t c = x < lo ? lo : x > hi ? hi : x;
  return static_cast<uint32_t>(c) & ((bits == 32 ? 0u : 1u << bits) - 1u);
}

TEST(LibraryPtx, CvtPackSaturatesAndPacks) {
  std::string err;
  auto p = build_ptx(ptx_module(kCvtPack), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  auto* in = mem.alloc<int32_t>(128);
  auto* out = mem.alloc<uint32_t>(160);
  const int32_t samples[] = {0, 1, -1, 7, -8, 8, -9, 100, -100, 127, 128, -128, -129, 255, 256,
                             32767, 32768, -32768, -32769, 65535, 65536, 2147483647, -2147483647 - 1, 3};
  for (int i = 0; i < 128; ++i) in[i] = samples[(i * 7 + i / 24) % 24];
  auto r = run(*p, "pack", Launch{}, {in, out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l) {
    const int32_t* v = in + 4 * l;
    const uint32_t* o = out + 5 * l;
    const uint32_t s8 = sat_bits(v[0], -128, 127, 8) | sat_bits(v[1], -128, 127, 8) << 8 |
                        sat_bits(v[2], -128, 127, 8) << 16 | sat_bits(v[3], -128, 127, 8) << 24;
    EXPECT_EQ(o[0], s8) << "s8 x4, lane " << l;
    EXPECT_EQ(o[1], sat_bits(v[0], 0, 65535, 16) | sat_bits(v[1], 0, 65535, 16) << 16) << "u16, lane " << l;
    EXPECT_EQ(o[2], sat_bits(v[2], -32768, 32767, 16) | sat_bits(v[3], -32768, 32767, 16) << 16) << "s16, lane " << l;
    EXPECT_EQ(o[3], sat_bits(v[0], 0, 255, 8) | sat_bits(v[1], 0, 255, 8) << 8 | 0x5678u << 16) << "u8, lane " << l;
    const uint32_t s4 = sat_bits(v[2], -8, 7, 4) | sat_bits(v[3], -8, 7, 4) << 4 | 0xfedcba98u << 8;
    EXPECT_EQ(o[4], sat_bits(v[0], 0, 3, 2) | sat_bits(v[1], 0, 3, 2) << 2 | s4 << 4) << "s4 then u2, lane " << l;
  }
}

TEST(LibraryPtx, CvtPackRefusesOtherForms) {
  for (const char* form : {"cvt.pack.sat.s8.s32 %r1, %r2, %r3;", "cvt.pack.sat.u16.s32.b32 %r1, %r2, %r3, %r2;",
                           "cvt.pack.s8.s32.b32 %r1, %r2, %r3, %r2;", "cvt.pack.sat.s8.u32.b32 %r1, %r2, %r3, %r2;"}) {
    std::string err;
    auto p = build_ptx(ptx_module(std::string(".visible .entry k()\n{\n  .reg .b32 %r<4>;\n  mov.u32 %r2, 1;\n  mov.u32 %r3, 2;\n  ") +
                                  form + "\n  ret;\n}\n"),
                       &err);
    EXPECT_FALSE(p) << form;
    EXPECT_NE(err.find("cvt.pack"), std::string::npos) << err;
    EXPECT_EQ(err.find("parse"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace gpool::emu::exec::test
