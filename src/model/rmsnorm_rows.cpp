// RMSNorm's CPU loops; see rmsnorm_rows.h. Built with -O3 -ffp-contract=off and cloned per vector
// unit (parallel/cpu_math.h), so every clone rounds alike.
#include "model/rmsnorm_rows.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "kernels/rmsnorm_math.h"
#include "parallel/cpu_math.h"
#include "runtime/error.h"

namespace acerl::model {
namespace {

using namespace parallel::cpu_math;

// Sum of squares of one row, in 16 lanes.
ACERL_CLONES float row_sum_squares(const float* x, int64_t d) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= d; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j] * x[i + j];
  for (int j = 0; i < d; ++i, ++j) acc[j] += x[i] * x[i];
  return lane_sum(acc);
}

ACERL_CLONES void row_scale(const float* x, const float* w, float r, int64_t d, float* y) {
  for (int64_t i = 0; i < d; ++i) y[i] = kernels::rmsnorm_forward_element(x[i], w[i], r);
}

// sum_j w_j dy_j x_j of one row, in 16 lanes.
ACERL_CLONES float row_dot(const float* x, const float* w, const float* dy, int64_t d) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= d; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += w[i + j] * dy[i + j] * x[i + j];
  for (int j = 0; i < d; ++i, ++j) acc[j] += w[i] * dy[i] * x[i];
  return lane_sum(acc);
}

ACERL_CLONES void row_dx(const float* x, const float* w, const float* dy, float r, float dot,
                         int64_t d, float* dx) {
  for (int64_t i = 0; i < d; ++i)
    dx[i] = kernels::rmsnorm_backward_element(x[i], w[i], dy[i], r, dot, d);
}

// dw over columns [c0, c1) (at most kColumns): each column sums its rows in order.
constexpr int64_t kColumns = 64;
ACERL_CLONES void columns_dw(const float* x, const float* dy, const float* r, int64_t rows,
                             int64_t d, int64_t c0, int64_t c1, float* dw) {
  float acc[kColumns] = {};
  const int64_t n = c1 - c0;
  for (int64_t row = 0; row < rows; ++row) {
    const float* xr = x + row * d + c0;
    const float* gr = dy + row * d + c0;
    const float rr = r[row];
    for (int64_t j = 0; j < n; ++j) acc[j] += gr[j] * xr[j] * rr;
  }
  for (int64_t j = 0; j < n; ++j) dw[c0 + j] = acc[j];
}

void check_rows(const torch::Tensor& x, const torch::Tensor& w) {
  ACERL_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.is_contiguous() &&
                  w.scalar_type() == torch::kFloat32 && w.is_contiguous() && w.dim() == 1 &&
                  x.dim() >= 1 && x.size(-1) == w.size(0),
              "rmsnorm_rows: contiguous CPU float32 rows and weight, got ", x.scalar_type(), " ",
              x.sizes(), " and ", w.scalar_type(), " ", w.sizes());
}

// A few rows per task: at least 16K elements.
int64_t row_grain(int64_t d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)); }

}  // namespace

torch::Tensor rmsnorm_rows_forward(const torch::Tensor& x, const torch::Tensor& w, double eps,
                                   torch::Tensor* inv_rms) {
  check_rows(x, w);
  const int64_t d = x.size(-1), rows = d ? x.numel() / d : 0;
  torch::Tensor y = torch::empty_like(x);
  if (inv_rms) *inv_rms = torch::empty({rows}, x.options());
  const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  float* rp = inv_rms ? inv_rms->data_ptr<float>() : nullptr;
  const auto e = static_cast<float>(eps);
  at::parallel_for(0, rows, row_grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float r = kernels::rmsnorm_inv_rms(row_sum_squares(xp + i * d, d), d, e);
      row_scale(xp + i * d, wp, r, d, yp + i * d);
      if (rp) rp[i] = r;
    }
  });
  return y;
}

void rmsnorm_rows_backward(const torch::Tensor& x, const torch::Tensor& w,
                           const torch::Tensor& inv_rms, const torch::Tensor& dy,
                           torch::Tensor& dx, torch::Tensor& dw) {
  check_rows(x, w);
  const int64_t d = x.size(-1), rows = d ? x.numel() / d : 0;
  const torch::Tensor g = dy.to(torch::kFloat32).contiguous();
  ACERL_CHECK(g.sizes() == x.sizes() && inv_rms.numel() == rows,
              "rmsnorm_rows_backward: gradient ", g.sizes(), " and ", inv_rms.numel(),
              " row scales for input ", x.sizes());
  dx = torch::empty_like(x);
  dw = torch::empty({d}, x.options());
  const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *gp = g.data_ptr<float>(),
              *rp = inv_rms.data_ptr<float>();
  float *dxp = dx.data_ptr<float>(), *dwp = dw.data_ptr<float>();
  at::parallel_for(0, rows, row_grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float dot = row_dot(xp + i * d, wp, gp + i * d, d);
      row_dx(xp + i * d, wp, gp + i * d, rp[i], dot, d, dxp + i * d);
    }
  });
  const int64_t blocks = (d + kColumns - 1) / kColumns;
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      columns_dw(xp, gp, rp, rows, d, b * kColumns, std::min(d, (b + 1) * kColumns), dwp);
  });
}

}  // namespace acerl::model
