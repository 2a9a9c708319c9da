// defines: the inline float helpers that the vectorised CPU loops share (model/decode_attention,
// model/rmsnorm_rows, model/rope, parallel/softmax_rows, parallel/sum_squares, optim/adamw):
// bfloat16 widening and rounding, 16-lane sums, exp of x <= 0 without a library call. Written so
// that GCC vectorises the loops calling them; the including files are built with -O3
// -ffp-contract=off and clone their loops per vector unit (ACERL_CLONES).
#pragma once

#include <cstdint>
#include <cstring>

namespace acerl::parallel::cpu_math {

#define ACERL_INLINE inline __attribute__((always_inline))

// Functions cloned for AVX-512, AVX2 and the baseline on x86-64, chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__)
#define ACERL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else  // (other architectures: one build for the compiler's target)
#define ACERL_CLONES
#endif

constexpr int kLanes = 16;

ACERL_INLINE float widen(float x) { return x; }
ACERL_INLINE float widen(uint16_t x) {  // bfloat16 bits -> float32
  const uint32_t bits = static_cast<uint32_t>(x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Sum of 16 lanes (float or double), pairwise.
template <typename T>
ACERL_INLINE T lane_sum(T* acc) {
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

// exp(x), x <= 0: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by its degree-6 polynomial (the
// Cephes expf coefficients), times 2^n built in the exponent bits. n comes from rounding with
// the 1.5 * 2^23 shift (the integer lands in the low mantissa bits), so the loop has no calls.
ACERL_INLINE float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23
  const float t = x * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  // n + 127 in the exponent field (unsigned: a NaN's bits shift out without overflow)
  const uint32_t e = static_cast<uint32_t>(bits - 0x4B400000 + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

// exp(x), x <= 0, with the masses that underflow float32 (x <= -87, a masked -inf logit among
// them) exactly 0 and a NaN kept: what sums over softmax rows with masked entries need.
ACERL_INLINE float exp_or_zero(float x) {
  const float e = exp_nonpositive(x);
  return (x > -87.0f || x != x) ? e : 0.0f;
}

// float32 -> bfloat16 bits, rounding to nearest even as c10::BFloat16 does (NaN stays NaN).
ACERL_INLINE uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return f != f ? uint16_t{0x7FC0} : static_cast<uint16_t>(rounded);
}
ACERL_INLINE void store(float* out, float x) { *out = x; }
ACERL_INLINE void store(uint16_t* out, float x) { *out = to_bf16(x); }

}  // namespace acerl::parallel::cpu_math
