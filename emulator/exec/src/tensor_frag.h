// Matrix fragments of the warp-wide matrix instructions (wmma.*, mma.sync):
// which matrix element each lane's register holds, and the scalar
// multiply-accumulate they compute.
//
// Owner: the tensor family (tensor_ops.cc). Internal to emulator/exec/src.
// Pure functions of their arguments; callable from any thread.
//
// mma.sync fragments follow the per-lane layouts of the PTX ISA ("Matrix
// fragments for mma.m16n8k16" and siblings): groupID = lane >> 2,
// threadID_in_group = lane & 3. wmma fragments have no defined layout in the
// ISA (only their register counts); the emulator's is documented in
// docs/emulator.md: element i of lane l is matrix element
// (l * E + i) mod (rows * cols) in row-major order, E elements per lane, so a
// fragment with more slots than elements (f16 A/B) holds every element twice.
#pragma once

#include <cstdint>

namespace gpool::emu::exec::tensor {

// E4M3 / E5M2: the 8-bit float formats of mma.sync (.e4m3 / .e5m2), four to a register.
enum class Elem : uint8_t { F16, BF16, TF32, F32, F64, S8, U8, S32, E4M3, E5M2 };

inline uint32_t elem_bits(Elem e) {
  switch (e) {
    case Elem::F16: case Elem::BF16: return 16;
    case Elem::S8: case Elem::U8: case Elem::E4M3: case Elem::E5M2: return 8;
    case Elem::F64: return 64;
    default: return 32;
  }
}
inline bool elem_is_int(Elem e) { return e == Elem::S8 || e == Elem::U8 || e == Elem::S32; }

enum class Role : uint8_t { A, B, C };  // C also describes D
enum class Family : uint8_t { Wmma, Mma };

struct Shape {
  uint8_t m = 0, n = 0, k = 0;
};

// One operand fragment of one lane: `nregs` registers of `per_reg` elements
// (per_reg is 1 for 32- and 64-bit elements).
struct Frag {
  Family fam = Family::Wmma;
  Shape shape;
  Role role = Role::A;
  Elem elem = Elem::F16;
  uint32_t rows = 0, cols = 0;
  uint32_t per_lane = 0;  // elements per lane
  uint32_t per_reg = 1;
  uint32_t nregs = 0;
  bool m8n8k4_f16 = false;  // mma.m8n8k4 f16: four independent quad-pair products
  bool a_col = false, b_row = false;  // mma.m8n8k4 f16 only: the A/B layouts change the fragment
};

inline Frag make_frag(Family fam, Shape s, Role role, Elem e) {
  Frag f;
  f.fam = fam;
  f.shape = s;
  f.role = role;
  f.elem = e;
  f.rows = role == Role::B ? s.k : s.m;
  f.cols = role == Role::A ? s.k : s.n;
  f.per_reg = elem_bits(e) < 32 ? 32 / elem_bits(e) : 1;
  f.per_lane = f.rows * f.cols / 32;
  if (fam == Family::Wmma && e == Elem::F16 && role != Role::C) f.per_lane = 16;
  if (fam == Family::Mma && s.m == 8 && s.n == 8 && s.k == 4 && e == Elem::F16) {
    // Each quad pair holds its own A (8x4), B (4x8), C (8x8).
    f.m8n8k4_f16 = true;
    f.per_lane = role == Role::C ? 8 : 4;
  }
  if (fam == Family::Mma && s.m == 8 && s.n == 8 && s.k == 4 && role == Role::C && e == Elem::F32) {
    f.m8n8k4_f16 = true;
    f.per_lane = 8;
  }
  f.nregs = f.per_lane / f.per_reg;
  return f;
}

// Row and column of element i of `lane`'s fragment. For m8n8k4 f16 the row
// and column are within the lane's quad pair's own matrices; quad_pair()
// says which.
inline void element_pos(const Frag& f, int lane, uint32_t i, uint32_t* row, uint32_t* col) {
  const uint32_t l = static_cast<uint32_t>(lane);
  if (f.fam == Family::Wmma) {
    const uint32_t idx = (l * f.per_lane + i) % (f.rows * f.cols);
    *row = idx / f.cols;
    *col = idx % f.cols;
    return;
  }
  const uint32_t g = l >> 2, t = l & 3;
  if (f.m8n8k4_f16) {
    const uint32_t hi = l >= 16 ? 4 : 0;
    if (f.role == Role::A) {
      if (!f.a_col) *row = (l & 3) + hi, *col = i;
      else *row = i + hi, *col = l & 3;
    } else if (f.role == Role::B) {
      if (f.b_row) *row = l & 3, *col = i + hi;
      else *row = i, *col = (l & 3) + hi;
    } else if (f.elem == Elem::F16) {
      *row = (l & 3) + hi, *col = i;
    } else {  // f32 accumulator
      *row = (l & 1) + (i & 2) + hi;
      *col = (i & 4) + (l & 2) + (i & 1);
    }
    return;
  }
  const Shape s = f.shape;
  if (f.role == Role::C) {  // every shape: 8 rows per group of registers, 2 columns per thread
    if (s.m == 8) {  // m8n8k4 f64, m8n8k16 int: 2 elements
      *row = g;
      *col = t * 2 + i;
    } else {  // m16n8: 4 elements
      *row = g + (i >= 2 ? 8 : 0);
      *col = t * 2 + (i & 1);
    }
    return;
  }
  const uint32_t bits = elem_bits(f.elem);
  if (bits == 64 && s.m == 8) {  // m8n8k4 f64: one element each
    if (f.role == Role::A) *row = g, *col = t;
    else *row = t, *col = g;
    return;
  }
  if (bits >= 32) {  // tf32 m16n8k4/k8, f64 m16n8k4/k8/k16: one element per register
    if (f.role == Role::A) {
      *row = g + ((i & 1) ? 8 : 0);
      *col = t + 4 * (i >> 1);
    } else {
      *row = t + 4 * i;
      *col = g;
    }
    return;
  }
  // 16-bit elements: 2 per register; 8-bit (integer or fp8): 4 per register. A: registers
  // alternate row halves (r0: rows 0-7, r1: rows 8-15), then column halves.
  const uint32_t pr = f.per_reg;  // elements per register
  const uint32_t reg = i / pr, sub = i % pr;
  if (f.role == Role::A) {
    if (s.m == 8) {  // m8n8k16 int: one register
      *row = g;
      *col = t * pr + sub;
      return;
    }
    *row = g + ((reg & 1) ? 8 : 0);
    *col = t * pr + sub + ((reg & 2) ? 4 * pr : 0);
  } else {
    *row = t * pr + sub + (reg ? 4 * pr : 0);
    *col = g;
  }
}

// The quad pair (0-3) whose matrices lane belongs to (mma.m8n8k4 f16).
inline uint32_t quad_pair(int lane) { return (static_cast<uint32_t>(lane) >> 2) & 3; }

}  // namespace gpool::emu::exec::tensor
