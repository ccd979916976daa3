// Host-side element encodings for the tensor tests: f16/bf16 bits of values
// that are exact in those formats, and back. Independent of the emulator's
// own conversion code on purpose.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace gpool::emu::exec::test {

// f16 bits of v; v must be exactly representable (normal or zero).
inline uint16_t f16_exact(double v) {
  if (v == 0) return std::signbit(v) ? 0x8000 : 0;
  uint16_t sign = v < 0 ? 0x8000 : 0;
  double a = std::fabs(v);
  int e = static_cast<int>(std::floor(std::log2(a)));
  double mant = a / std::ldexp(1.0, e) - 1.0;  // [0, 1)
  double m10 = mant * 1024;
  if (e < -14 || e > 15 || m10 != std::floor(m10)) throw std::runtime_error("value not exact in f16");
  return static_cast<uint16_t>(sign | ((e + 15) << 10) | static_cast<uint16_t>(m10));
}

inline double f16_value(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

inline uint16_t bf16_exact(double v) {
  float f = static_cast<float>(v);
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0xffff) || static_cast<double>(f) != v) throw std::runtime_error("value not exact in bf16");
  return static_cast<uint16_t>(b >> 16);
}

// e4m3 (1-4-3, bias 7) / e5m2 (1-5-2, bias 15) bits of v; v must be exactly representable as a
// normal number or zero.
inline uint8_t fp8_exact(double v, int mbits, int ebits) {
  const int bias = (1 << (ebits - 1)) - 1;
  if (v == 0) return std::signbit(v) ? 0x80 : 0;
  const uint8_t sign = v < 0 ? 0x80 : 0;
  const double a = std::fabs(v);
  const int e = static_cast<int>(std::floor(std::log2(a)));
  const double m = (a / std::ldexp(1.0, e) - 1.0) * (1 << mbits);
  if (e + bias < 1 || e + bias >= (1 << ebits) - 1 || m != std::floor(m)) throw std::runtime_error("value not exact in fp8");
  return static_cast<uint8_t>(sign | ((e + bias) << mbits) | static_cast<int>(m));
}

inline uint32_t f32_bits(double v) {
  float f = static_cast<float>(v);
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline double f32_value(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint64_t f64_bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}
inline double f64_value(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

// Small exact test values: multiples of 0.25 in [-2, 2] (exact in f16, bf16,
// tf32; every product and every partial sum of up to 32 of them is exact in
// f32 and, below 2048/16, in f16).
inline double small_value(int i, int j, int seed) { return (((i * 7 + j * 3 + seed * 5) % 17) - 8) * 0.25; }

}  // namespace gpool::emu::exec::test
