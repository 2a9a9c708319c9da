// defines: the host+device math of token sampling shared by the CPU sampler
// (src/rollout/sampler.cpp) and the CUDA pick kernel (sample_pick.cu): the counter-based random
// streams (SplitMix64: one uniform per sequence and step, no state) and the inverse-CDF pick over
// the kept probability masses of one row, e_j = exp(z_j - max) for z_j >= threshold, 0 elsewhere:
// the token is the first j whose running mass exceeds target = min(u * total, total * (1 - 1e-15)).
#pragma once

#include <cmath>
#include <cstdint>

#include "hd.h"

namespace acerl::kernels {

ACERL_HD uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The uniform in [0, 1) of `stream` at decoding step `step`.
ACERL_HD double stream_uniform(uint64_t stream, int64_t step) {
  uint64_t r = splitmix64(stream ^ splitmix64(static_cast<uint64_t>(step) * 0xd1b54a32d192ed03ull + 1));
  return static_cast<double>(r >> 11) * 0x1.0p-53;
}

// The kept mass of one scaled logit: exp(z - max) in float when z reaches the truncation
// threshold, else 0. (The CPU sampler's loops, parallel/softmax_rows, take z = x * (1 / T) and
// exp from parallel/cpu_math.h's polynomial, within 3e-7 of expf, with underflowing masses 0: the
// two pick the same token unless a uniform lands within that margin of a boundary.)
ACERL_HD double sample_kept_mass(float z, float max, float threshold) {
  return z >= threshold ? static_cast<double>(expf(z - max)) : 0.0;
}

ACERL_HD double sample_target(double u, double total) {
  const double t = u * total, cap = total * (1 - 1e-15);
  return t < cap ? t : cap;
}

struct SamplePick {
  int64_t index = 0;   // the chosen entry of the row
  double chosen = 0;   // its kept mass
  double total = 0;    // the row's kept mass
};

// The pick of one row of n scaled logits z, in order (the CPU reference of the kernel).
inline SamplePick sample_pick_row(const float* z, int64_t n, float max, float threshold, double u) {
  SamplePick p;
  for (int64_t i = 0; i < n; ++i) p.total += sample_kept_mass(z[i], max, threshold);
  const double target = sample_target(u, p.total);
  double cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double e = sample_kept_mass(z[i], max, threshold);
    cum += e;
    if (cum > target) {
      p.index = i;
      p.chosen = e;
      return p;
    }
  }
  p.index = n - 1;  // rounding left the target at the very end
  p.chosen = sample_kept_mass(z[n - 1], max, threshold);
  return p;
}

}  // namespace acerl::kernels
