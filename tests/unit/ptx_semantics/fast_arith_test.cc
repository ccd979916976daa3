// The specialised f32/f64 add/sub/mul/fma handlers (float_fast.cc): the
// AVX2/FMA build (when the host has it, which the lowerer picks) and the
// portable build must agree bit for bit on every input class, with register
// and immediate operands and partial masks, and leave inactive lanes alone.
#include "float_family.h"
#include "op_harness.h"

#include <random>

namespace gpool::emu::exec::testing {
namespace {

uint64_t special_or_random(std::mt19937_64& rng, bool f64) {
  static const uint32_t f32s[] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                  0xffc01234u, 0x00000001u, 0x807fffffu, 0x3f800000u, 0x7f7fffffu};
  static const uint64_t f64s[] = {0x0ull, 0x8000000000000000ull, 0x7ff0000000000000ull, 0x7ff8000000000001ull,
                                  0x0000000000000001ull, 0x3ff0000000000000ull, 0x7fefffffffffffffull};
  uint64_t r = rng();
  if (r % 4 == 0) return f64 ? f64s[(r >> 8) % std::size(f64s)] : f32s[(r >> 8) % std::size(f32s)];
  return f64 ? rng() : (rng() & 0xffffffffu);
}

TEST(FastArith, PortableAndHostBuildsAgreeWithPartialMasksAndImmediates) {
  std::mt19937_64 rng(11);
  const char* texts[] = {"add.f32 %d, %a, %b",           "sub.rn.f32 %d, %a, 0f3FC00000",
                         "mul.f32 %d, 0fC0000000, %b",    "fma.rn.f32 %d, %a, %b, %c",
                         "fma.rn.f32 %d, %a, 0f40400000, %c", "mad.rn.f32 %d, %a, %b, 0f00000001",
                         "add.f64 %d, %a, %b",           "fma.rn.f64 %d, %a, %b, %c",
                         "mul.rn.f64 %d, %a, 0d4008000000000000"};
  const fl::Arith ops[] = {fl::Arith::Add, fl::Arith::Sub, fl::Arith::Mul, fl::Arith::Fma, fl::Arith::Fma,
                           fl::Arith::Fma, fl::Arith::Add, fl::Arith::Fma, fl::Arith::Mul};
  for (size_t t = 0; t < std::size(texts); ++t) {
    const bool f64 = std::string(texts[t]).find("f64") != std::string::npos;
    for (int round = 0; round < 20; ++round) {
      Bench host, portable;
      for (int l = 0; l < kWarpSize; ++l)
        for (const char* reg : {"%a", "%b", "%c", "%d"}) {
          uint64_t v = special_or_random(rng, f64);
          host.r(reg, l) = v;
          portable.r(reg, l) = v;
        }
      const LaneMask mask = round == 0 ? kFullMask : static_cast<LaneMask>(rng());
      LInstr li;
      ASSERT_TRUE(portable.lower(texts[t], &li)) << texts[t] << ": " << portable.error();
      Handler slow = fl::fast_arith_handler(li, ops[t], false);
      ASSERT_NE(slow, nullptr) << texts[t];
      host.run(texts[t], mask);  // whatever the lowerer picks on this host
      std::vector<uint64_t> before(kWarpSize);
      for (int l = 0; l < kWarpSize; ++l) before[l] = portable.r("%d", l);
      // Run the portable build on the same registers through the Bench's warp.
      LInstr li2;
      ASSERT_TRUE(portable.lower(texts[t], &li2));
      li2.fn = slow;
      portable.exec(li2, mask);
      for (int l = 0; l < kWarpSize; ++l) {
        ASSERT_EQ(host.r("%d", l), portable.r("%d", l)) << texts[t] << " lane " << l << std::hex << " a="
                                                         << host.r("%a", l) << " b=" << host.r("%b", l)
                                                         << " c=" << host.r("%c", l);
        if (!(mask >> l & 1)) {
          ASSERT_EQ(portable.r("%d", l), before[l]) << "inactive lane " << l << " written";
        }
      }
    }
  }
}

}  // namespace
}  // namespace gpool::emu::exec::testing
