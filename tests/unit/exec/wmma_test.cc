// wmma.load / wmma.mma / wmma.store as nvcc emits them for nvcuda::wmma
// (kernels/tensor.cu): one table row per shape, element type, accumulator
// type and layout; each computes D = A * B + C on one tile with padded
// leading dimensions and is compared with a scalar reference. Plus the
// fragment placement the emulator documents (docs/emulator.md) and the fault
// for a warp that is not whole.
#include "exec_test_util.h"
#include "tensor_test_util.h"

#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include <ostream>

namespace gpool::emu::exec::test {
namespace {

enum class T { F16, BF16, TF32, F32, F64, S8, U8, S32 };

uint32_t size_of(T t) {
  switch (t) {
    case T::F16: case T::BF16: return 2;
    case T::S8: case T::U8: return 1;
    case T::F64: return 8;
    default: return 4;
  }
}
bool is_int(T t) { return t == T::S8 || t == T::U8 || t == T::S32; }

// Writes value v (exact in t) at element index i of buffer p.
void put(uint8_t* p, T t, size_t i, double v) {
  uint8_t* at = p + i * size_of(t);
  switch (t) {
    case T::F16: { uint16_t h = f16_exact(v); std::memcpy(at, &h, 2); break; }
    case T::BF16: { uint16_t h = bf16_exact(v); std::memcpy(at, &h, 2); break; }
    case T::TF32: case T::F32: { uint32_t b = f32_bits(v); std::memcpy(at, &b, 4); break; }
    case T::F64: { uint64_t b = f64_bits(v); std::memcpy(at, &b, 8); break; }
    case T::S8: { int8_t x = static_cast<int8_t>(v); std::memcpy(at, &x, 1); break; }
    case T::U8: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(at, &x, 1); break; }
    case T::S32: { int32_t x = static_cast<int32_t>(v); std::memcpy(at, &x, 4); break; }
  }
}

double get(const uint8_t* p, T t, size_t i) {
  const uint8_t* at = p + i * size_of(t);
  switch (t) {
    case T::F16: { uint16_t h; std::memcpy(&h, at, 2); return f16_value(h); }
    case T::F32: { uint32_t b; std::memcpy(&b, at, 4); return f32_value(b); }
    case T::F64: { uint64_t b; std::memcpy(&b, at, 8); return f64_value(b); }
    case T::S32: { int32_t x; std::memcpy(&x, at, 4); return x; }
    default: return NAN;
  }
}

struct WmmaCase {
  const char* kernel;
  int m, n, k;
  T ab, c;
  bool a_col, b_col;
};

// Test names in ctest: the case name, not its bytes.
void PrintTo(const WmmaCase& c, std::ostream* os) { *os << c.kernel; }

const WmmaCase kCases[] = {
    {"wmma_f16_f32_m16n16k16_rc", 16, 16, 16, T::F16, T::F32, false, true},
    {"wmma_f16_f32_m16n16k16_cr", 16, 16, 16, T::F16, T::F32, true, false},
    {"wmma_f16_f32_m32n8k16_rr", 32, 8, 16, T::F16, T::F32, false, false},
    {"wmma_f16_f32_m8n32k16_cc", 8, 32, 16, T::F16, T::F32, true, true},
    {"wmma_f16_f16_m16n16k16_rc", 16, 16, 16, T::F16, T::F16, false, true},
    {"wmma_f16_f16_m32n8k16_cr", 32, 8, 16, T::F16, T::F16, true, false},
    {"wmma_f16_f16_m8n32k16_rr", 8, 32, 16, T::F16, T::F16, false, false},
    {"wmma_bf16_f32_m16n16k16_rc", 16, 16, 16, T::BF16, T::F32, false, true},
    {"wmma_bf16_f32_m32n8k16_cr", 32, 8, 16, T::BF16, T::F32, true, false},
    {"wmma_bf16_f32_m8n32k16_rr", 8, 32, 16, T::BF16, T::F32, false, false},
    {"wmma_s8_s32_m16n16k16_rc", 16, 16, 16, T::S8, T::S32, false, true},
    {"wmma_s8_s32_m32n8k16_cr", 32, 8, 16, T::S8, T::S32, true, false},
    {"wmma_u8_s32_m8n32k16_rr", 8, 32, 16, T::U8, T::S32, false, false},
    {"wmma_u8_s32_m16n16k16_cc", 16, 16, 16, T::U8, T::S32, true, true},
    {"wmma_f64_f64_m8n8k4_rc", 8, 8, 4, T::F64, T::F64, false, true},
    {"wmma_f64_f64_m8n8k4_cr", 8, 8, 4, T::F64, T::F64, true, false},
    {"wmma_tf32_f32_m16n16k8_rc", 16, 16, 8, T::TF32, T::F32, false, true},
};

class Wmma : public ::testing::TestWithParam<std::tuple<WmmaCase, bool>> {
 protected:
  static void SetUpTestSuite() {
    std::ifstream f(GPOOL_TENSOR_TEST_PTX);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string err;
    prog_ = build_ptx(ss.str(), &err);
    error_ = err;
  }
  static void TearDownTestSuite() { prog_.reset(); }
  static inline std::shared_ptr<Program> prog_;
  static inline std::string error_;
};

// Value of element (i, j) of the test's A/B/C operand.
double operand_value(T t, int i, int j, int seed) {
  if (t == T::S8) return ((i * 37 + j * 11 + seed * 13) % 255) - 127;
  if (t == T::U8) return (i * 37 + j * 11 + seed * 13) % 256;
  if (t == T::S32) return ((i * 1009 + j * 17 + seed) % 20001) - 10000;
  return small_value(i, j, seed);
}

TEST_P(Wmma, TileGemmMatchesScalarReference) {
  ASSERT_TRUE(prog_) << error_;
  const auto& [tc, c_col] = GetParam();
  HostMemory mem;
  const uint32_t es = size_of(tc.ab), cs = size_of(tc.c);
  const int pad = static_cast<int>(16 / es), cpad = static_cast<int>(16 / cs);  // 16-byte padded rows
  const int lda = (tc.a_col ? tc.m : tc.k) + pad, ldb = (tc.b_col ? tc.k : tc.n) + pad;
  const int ldc = (c_col ? tc.m : tc.n) + cpad;
  const size_t a_elems = static_cast<size_t>(lda) * (tc.a_col ? tc.k : tc.m);
  const size_t b_elems = static_cast<size_t>(ldb) * (tc.b_col ? tc.n : tc.k);
  const size_t c_elems = static_cast<size_t>(ldc) * (c_col ? tc.n : tc.m);
  uint8_t* a = mem.alloc<uint8_t>(a_elems * es + 64);
  uint8_t* b = mem.alloc<uint8_t>(b_elems * es + 64);
  uint8_t* c = mem.alloc<uint8_t>(c_elems * cs + 64);
  uint8_t* d = mem.alloc<uint8_t>(c_elems * cs + 64, 0xcd);
  auto aidx = [&](int i, int kk) { return tc.a_col ? size_t(kk) * lda + i : size_t(i) * lda + kk; };
  auto bidx = [&](int kk, int j) { return tc.b_col ? size_t(j) * ldb + kk : size_t(kk) * ldb + j; };
  auto cidx = [&](int i, int j) { return c_col ? size_t(j) * ldc + i : size_t(i) * ldc + j; };
  for (int i = 0; i < tc.m; ++i)
    for (int kk = 0; kk < tc.k; ++kk) put(a, tc.ab, aidx(i, kk), operand_value(tc.ab, i, kk, 1));
  for (int kk = 0; kk < tc.k; ++kk)
    for (int j = 0; j < tc.n; ++j) put(b, tc.ab, bidx(kk, j), operand_value(tc.ab, kk, j, 2));
  for (int i = 0; i < tc.m; ++i)
    for (int j = 0; j < tc.n; ++j) put(c, tc.c, cidx(i, j), operand_value(tc.c, i, j, 3));
  auto r = run(*prog_, tc.kernel, Launch{}, {a, b, c, d, lda, ldb, ldc, c_col ? 1 : 0}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < tc.m; ++i)
    for (int j = 0; j < tc.n; ++j) {
      // Reference: exact products, summed in k order from C (every partial sum is exact here).
      double want = operand_value(tc.c, i, j, 3);
      for (int kk = 0; kk < tc.k; ++kk) want += operand_value(tc.ab, i, kk, 1) * operand_value(tc.ab, kk, j, 2);
      if (is_int(tc.c)) want = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(want)));
      ASSERT_EQ(get(d, tc.c, cidx(i, j)), want) << tc.kernel << " D[" << i << "][" << j << "]";
    }
  // Padding between rows is left alone.
  for (size_t x = 0; x < c_elems; ++x) {
    const size_t minor = x % ldc;
    if (static_cast<int>(minor) < (c_col ? tc.m : tc.n)) continue;
    for (uint32_t byte = 0; byte < cs; ++byte) ASSERT_EQ(d[x * cs + byte], 0xcd) << "padding " << x;
  }
}

INSTANTIATE_TEST_SUITE_P(Forms, Wmma, ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).kernel) +
                                  (std::get<1>(info.param) ? "_ccol" : "_crow");
                         });

TEST_F(Wmma, SharedMemoryOperandsAndElementwiseScaling) {
  ASSERT_TRUE(prog_) << error_;
  HostMemory mem;
  auto* a = mem.alloc<uint16_t>(256);
  auto* b = mem.alloc<uint16_t>(256);
  auto* c = mem.alloc<float>(256);
  auto* d = mem.alloc<float>(256);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      a[i * 16 + j] = f16_exact(small_value(i, j, 4));
      b[j * 16 + i] = f16_exact(small_value(i, j, 5));  // column-major B: (k=i, n=j)
      c[i * 16 + j] = static_cast<float>(small_value(i, j, 6));
    }
  auto r = run(*prog_, "wmma_shared_scaled", Launch{}, {a, b, c, d, 2.0f, -0.5f}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      double acc = 0;
      for (int k = 0; k < 16; ++k) acc += small_value(i, k, 4) * small_value(k, j, 5);
      ASSERT_EQ(d[i * 16 + j], 2.0 * acc - 0.5 * small_value(i, j, 6)) << i << "," << j;
    }
}

// The emulator's wmma layout: element i of lane l holds matrix element
// (l * E + i) mod (rows * cols), row-major, E elements per lane.
TEST_F(Wmma, FragmentPlacementIsTheDocumentedOne) {
  ASSERT_TRUE(prog_) << error_;
  HostMemory mem;
  auto* a = mem.alloc<uint16_t>(256);
  auto* out = mem.alloc<uint16_t>(32 * 16);
  for (int x = 0; x < 256; ++x) a[x] = f16_exact(x);
  auto r = run(*prog_, "wmma_frag_a_f16", Launch{}, {a, out}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 16; ++i) ASSERT_EQ(f16_value(out[l * 16 + i]), (l * 16 + i) % 256) << l << "," << i;

  auto* bm = mem.alloc<int8_t>(16 * 8);  // B of m32n8k16: 16 x 8, column-major, ldm 16
  auto* bout = mem.alloc<int8_t>(32 * 4);
  for (int rr = 0; rr < 16; ++rr)
    for (int cc = 0; cc < 8; ++cc) bm[cc * 16 + rr] = static_cast<int8_t>(rr * 8 + cc);
  r = run(*prog_, "wmma_frag_b_s8", Launch{}, {bm, bout}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int x = 0; x < 128; ++x) ASSERT_EQ(bout[x], x) << x;

  auto* d = mem.alloc<float>(256, -1.0f);
  r = run(*prog_, "wmma_frag_acc_f32", Launch{}, {d}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  for (int x = 0; x < 256; ++x) ASSERT_EQ(d[x], x) << x;
}

TEST_F(Wmma, PartialWarpFaultsInsteadOfComputing) {
  ASSERT_TRUE(prog_) << error_;
  HostMemory mem;
  auto* d = mem.alloc<float>(256, -1.0f);
  Launch cfg;
  cfg.block = {16, 1, 1};
  auto r = run(*prog_, "wmma_frag_acc_f32", cfg, {d}, mem);
  EXPECT_EQ(r.status, LaunchStatus::IllegalInstruction);
  EXPECT_NE(r.message.find("all 32 lanes"), std::string::npos) << r.message;
  EXPECT_EQ(d[0], -1.0f);
}

}  // namespace
}  // namespace gpool::emu::exec::test

namespace gpool::emu::exec::test {
namespace {

// f16 accumulators: with .satfinite an overflowing sum becomes the largest finite half, without it
// infinity. Uniform fragments (every A and B element 256, C 0) make the result independent of the
// fragment layout: every D element is 16 * 65536, beyond the f16 range.
TEST(WmmaF16, SatfiniteClampsOverflowToMaxFinite) {
  for (bool sat : {false, true}) {
    std::string ab = "{%r0, %r0, %r0, %r0, %r0, %r0, %r0, %r0}";
    std::string body = fmt::format(R"(
.visible .entry sat(.param .u64 pd)
{{
  .reg .b32 %r<8>;
  .reg .b64 %rd<2>;
  mov.b32 %r0, 0x5c005c00;
  mov.b32 %r1, 0;
  ld.param.u64 %rd1, [pd];
  wmma.mma.sync.aligned.row.col.m16n16k16.f16.f16{0} {{%r2, %r3, %r4, %r5}}, {1}, {1}, {{%r1, %r1, %r1, %r1}};
  wmma.store.d.sync.aligned.row.m16n16k16.global.f16 [%rd1], {{%r2, %r3, %r4, %r5}}, 16;
  ret;
}}
)",
                                   sat ? ".satfinite" : "", ab);
    std::string err;
    auto p = build_ptx(ptx_module(body), &err);
    ASSERT_TRUE(p) << err;
    HostMemory mem;
    auto* d = mem.alloc<uint16_t>(256);
    auto r = run(*p, "sat", Launch{}, {d}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
    for (int x = 0; x < 256; ++x) ASSERT_EQ(d[x], sat ? 0x7bff : 0x7c00) << x << (sat ? " satfinite" : "");
  }
}

}  // namespace
}  // namespace gpool::emu::exec::test

namespace gpool::emu::exec::test {
namespace {

// The int8 forms cuBLASLt writes by hand (not as nvcc emits them for nvcuda::wmma): fragments
// loaded from shared memory in every A/B layout, .satfinite after the types, D stored to shared
// memory. One row per layout pair; A (16x16 s8), B (16x16 s8) and C (s32, half of it near
// INT32_MAX so that .satfinite clamps) against a scalar D = A * B + C clamped to s32.
struct WmmaS8Layout {
  const char* a;
  const char* b;
};
const WmmaS8Layout kS8Layouts[] = {{"row", "col"}, {"row", "row"}, {"col", "col"}, {"col", "row"}};

TEST(WmmaS8Shared, EveryLayoutWithSatfiniteLast) {
  for (const auto& lay : kS8Layouts) {
    const std::string body = fmt::format(R"(
.visible .entry w(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 pd)
{{
  .shared .align 16 .b8 sa[256];
  .shared .align 16 .b8 sb[256];
  .shared .align 16 .b8 sd[1024];
  .reg .b32 %t, %o;
  .reg .b32 %s<4>;
  .reg .b32 %x<4>;
  .reg .b32 %a<2>;
  .reg .b32 %b<2>;
  .reg .b32 %c<8>;
  .reg .b32 %d<8>;
  .reg .b64 %rd<10>;
  mov.u32 %t, %tid.x;
  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pb];
  ld.param.u64 %rd3, [pc];
  ld.param.u64 %rd4, [pd];
  mul.wide.u32 %rd5, %t, 8;
  shl.b32 %o, %t, 3;
  add.s64 %rd6, %rd1, %rd5;
  ld.global.v2.b32 {{%x0, %x1}}, [%rd6];
  mov.u32 %s0, sa;
  add.u32 %s1, %s0, %o;
  st.shared.v2.b32 [%s1], {{%x0, %x1}};
  add.s64 %rd6, %rd2, %rd5;
  ld.global.v2.b32 {{%x0, %x1}}, [%rd6];
  mov.u32 %s2, sb;
  add.u32 %s1, %s2, %o;
  st.shared.v2.b32 [%s1], {{%x0, %x1}};
  bar.sync 0;
  wmma.load.a.sync.aligned.{0}.m16n16k16.shared.s8 {{%a0, %a1}}, [%s0], 16;
  wmma.load.b.sync.aligned.{1}.m16n16k16.shared.s8 {{%b0, %b1}}, [%s2], 16;
  wmma.load.c.sync.aligned.row.m16n16k16.global.s32 {{%c0, %c1, %c2, %c3, %c4, %c5, %c6, %c7}}, [%rd3], 16;
  wmma.mma.sync.aligned.{0}.{1}.m16n16k16.s32.s8.s8.s32.satfinite {{%d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7}}, {{%a0, %a1}}, {{%b0, %b1}}, {{%c0, %c1, %c2, %c3, %c4, %c5, %c6, %c7}};
  mov.u32 %s3, sd;
  wmma.store.d.sync.aligned.row.m16n16k16.shared.s32 [%s3], {{%d0, %d1, %d2, %d3, %d4, %d5, %d6, %d7}}, 16;
  bar.sync 0;
  shl.b32 %o, %t, 5;
  add.u32 %s1, %s3, %o;
  mul.wide.u32 %rd7, %t, 32;
  add.s64 %rd8, %rd4, %rd7;
  ld.shared.v4.b32 {{%x0, %x1, %x2, %x3}}, [%s1];
  st.global.v4.b32 [%rd8], {{%x0, %x1, %x2, %x3}};
  ld.shared.v4.b32 {{%x0, %x1, %x2, %x3}}, [%s1+16];
  st.global.v4.b32 [%rd8+16], {{%x0, %x1, %x2, %x3}};
  ret;
}}
)",
                                         lay.a, lay.b);
    std::string err;
    auto p = build_ptx(ptx_module(body), &err);
    ASSERT_TRUE(p) << lay.a << "." << lay.b << ": " << err;
    HostMemory mem;
    auto* a = mem.alloc<int8_t>(256);
    auto* b = mem.alloc<int8_t>(256);
    auto* c = mem.alloc<int32_t>(256);
    auto* d = mem.alloc<int32_t>(256, -1);
    auto av = [](int i, int k) { return static_cast<int8_t>(((i * 37 + k * 11) % 255) - 127); };
    auto bv = [](int k, int j) { return static_cast<int8_t>(((k * 29 + j * 13 + 5) % 255) - 127); };
    auto cv = [](int i, int j) { return (i + j) % 2 ? 2147480000 - i * 1000 : (i * 16 + j) * 7 - 900; };
    const bool a_col = std::string(lay.a) == "col", b_col = std::string(lay.b) == "col";
    for (int i = 0; i < 16; ++i)
      for (int k = 0; k < 16; ++k) a[a_col ? k * 16 + i : i * 16 + k] = av(i, k);
    for (int k = 0; k < 16; ++k)
      for (int j = 0; j < 16; ++j) b[b_col ? j * 16 + k : k * 16 + j] = bv(k, j);
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) c[i * 16 + j] = cv(i, j);
    auto r = run(*p, "w", Launch{}, {a, b, c, d}, mem);
    ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        int64_t want = cv(i, j);
        for (int k = 0; k < 16; ++k) want += int64_t{av(i, k)} * bv(k, j);
        want = std::clamp<int64_t>(want, INT32_MIN, INT32_MAX);
        ASSERT_EQ(d[i * 16 + j], want) << lay.a << "." << lay.b << " D[" << i << "][" << j << "]";
      }
  }
}

}  // namespace
}  // namespace gpool::emu::exec::test
