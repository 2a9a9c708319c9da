// defines: the host+device math of RMSNorm as Qwen2 computes it, one row at a time, forward
// and backward. The CUDA kernel (rmsnorm.cu) and the CPU tests run these same functions.
//   forward:  r = 1 / sqrt(mean(x^2) + eps),  y_i = w_i * (x_i * r)
//   backward: g_i = w_i * dy_i,  dx_i = r * g_i - x_i * r^3 * sum_j(g_j x_j) / d,
//             dw_i = sum over rows of dy_i * x_i * r
// Sums accumulate in float32 as the LibTorch path does (which reduces in a different order, so
// results agree to rounding, not bit for bit).
#pragma once

#include <cmath>
#include <cstdint>

#include "hd.h"

namespace acerl::kernels {

// 1 / sqrt(mean + eps) from the sum of squares of a row of d elements.
ACERL_HD float rmsnorm_inv_rms(float sum_squares, int64_t d, float eps) {
  return 1.f / sqrtf(sum_squares / static_cast<float>(d) + eps);
}

ACERL_HD float rmsnorm_forward_element(float x, float w, float inv_rms) { return w * (x * inv_rms); }

// dx of one element, given the row's r and dot = sum_j w_j dy_j x_j.
ACERL_HD float rmsnorm_backward_element(float x, float w, float dy, float inv_rms, float dot,
                                        int64_t d) {
  return inv_rms * (w * dy) - x * inv_rms * inv_rms * inv_rms * dot / static_cast<float>(d);
}

// Whole rows on the host: x, y (rows, d); w (d); inv_rms (rows) out.
inline void rmsnorm_forward_rows(const float* x, const float* w, float* y, float* inv_rms,
                                 int64_t rows, int64_t d, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float ss = 0.f;
    for (int64_t i = 0; i < d; ++i) ss += xr[i] * xr[i];
    inv_rms[r] = rmsnorm_inv_rms(ss, d, eps);
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = rmsnorm_forward_element(xr[i], w[i], inv_rms[r]);
  }
}

// dx (rows, d) and dw (d, accumulated over rows, zeroed here) from dy and the forward's inv_rms.
inline void rmsnorm_backward_rows(const float* x, const float* w, const float* dy,
                                  const float* inv_rms, float* dx, float* dw, int64_t rows,
                                  int64_t d) {
  for (int64_t i = 0; i < d; ++i) dw[i] = 0.f;
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * d, *gr = dy + r * d;
    float dot = 0.f;
    for (int64_t i = 0; i < d; ++i) dot += w[i] * gr[i] * xr[i];
    for (int64_t i = 0; i < d; ++i) {
      dx[r * d + i] = rmsnorm_backward_element(xr[i], w[i], gr[i], inv_rms[r], dot, d);
      dw[i] += gr[i] * xr[i] * inv_rms[r];
    }
  }
}

}  // namespace acerl::kernels
