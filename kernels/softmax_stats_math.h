// defines: SoftmaxStats and its online update/merge: the per-row statistics from which the
// temperature-adjusted entropy and log-partition of softmax(logits / T) follow, accumulated in
// one pass over a (shard of a) vocabulary. Host+device code: the CUDA kernel (softmax_stats.cu)
// and the CPU tests use the same functions.
//
// With z_i = x_i / T, m = max z, S = sum exp(z_i - m), W = sum (z_i - m) exp(z_i - m):
//   log Z = m + log S,  H = log S - W / S.
// Shards combine exactly (merge), so vocab-parallel ranks each reduce their slice and then
// exchange three numbers per row and temperature.
#pragma once

#include <cmath>

#include "hd.h"

namespace acerl::kernels {

struct SoftmaxStats {
  float max = -INFINITY;  // m
  float sum = 0.f;        // S, relative to m
  float wsum = 0.f;       // W, relative to m
};

// Adds one scaled logit z to the running statistics.
ACERL_HD void softmax_stats_add(SoftmaxStats& s, float z) {
  if (z == -INFINITY) return;  // a masked logit: probability 0, no contribution
  if (z <= s.max) {
    float d = z - s.max;
    float e = expf(d);
    s.sum += e;
    s.wsum += d * e;
    return;
  }
  if (s.sum == 0.f) {  // first element
    s.max = z;
    s.sum = 1.f;
    s.wsum = 0.f;
    return;
  }
  // New maximum: re-express what was accumulated relative to it.
  float shift = s.max - z;  // < 0
  float scale = expf(shift);
  s.wsum = (s.wsum + shift * s.sum) * scale;
  s.sum = s.sum * scale + 1.f;
  s.max = z;
}

// Combines the statistics of two disjoint sets of logits.
ACERL_HD SoftmaxStats softmax_stats_merge(const SoftmaxStats& a, const SoftmaxStats& b) {
  if (a.sum == 0.f) return b;
  if (b.sum == 0.f) return a;
  const SoftmaxStats& hi = a.max >= b.max ? a : b;
  const SoftmaxStats& lo = a.max >= b.max ? b : a;
  float shift = lo.max - hi.max;
  float scale = expf(shift);
  SoftmaxStats out;
  out.max = hi.max;
  out.sum = hi.sum + lo.sum * scale;
  out.wsum = hi.wsum + (lo.wsum + shift * lo.sum) * scale;
  return out;
}

ACERL_HD float softmax_stats_entropy(const SoftmaxStats& s) { return logf(s.sum) - s.wsum / s.sum; }
ACERL_HD float softmax_stats_log_partition(const SoftmaxStats& s) { return s.max + logf(s.sum); }

}  // namespace acerl::kernels
