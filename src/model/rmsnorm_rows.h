// defines: RMSNorm's CPU loops for float32 rows, forward and backward, one pass each (the
// LibTorch expression takes eight operators forward and keeps float32 temporaries). Rows are
// split over LibTorch's intra-op threads; each row's sum, and each weight column's gradient sum
// over rows, is taken by one thread in a fixed order, so results do not depend on the thread
// count. The math is kernels/rmsnorm_math.h's:
//   r = 1 / sqrt(mean(x^2) + eps),  y_i = w_i (x_i r),
//   dx_i = r w_i dy_i - x_i r^3 sum_j(w_j dy_j x_j) / d,  dw_i = sum over rows of dy_i x_i r.
#pragma once

#include <torch/torch.h>

namespace acerl::model {

// x (rows, d) float32 with contiguous rows, w (d) float32. Returns y like x; fills inv_rms (rows)
// float32 when it is not null (what backward needs).
torch::Tensor rmsnorm_rows_forward(const torch::Tensor& x, const torch::Tensor& w, double eps,
                                   torch::Tensor* inv_rms);

// dx (rows, d) and dw (d) from dy (rows, d) and the forward's inv_rms.
void rmsnorm_rows_backward(const torch::Tensor& x, const torch::Tensor& w,
                           const torch::Tensor& inv_rms, const torch::Tensor& dy,
                           torch::Tensor& dx, torch::Tensor& dw);

}  // namespace acerl::model
