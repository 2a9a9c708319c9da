// defines: sum_of_squares, the float64 sum of x^2 over a tensor, for the global gradient norm
// (parallel/grad_sync): CPU float32 tensors in a vectorised loop without a float64 copy.
#pragma once

#include <torch/torch.h>

namespace acerl::parallel {

// sum_i x_i^2 accumulated in float64. CPU float32 contiguous tensors go through a loop over
// fixed chunks (each summed in a fixed order, the chunks then in order), so the result does not
// depend on the thread count; others through LibTorch operators.
double sum_of_squares(const torch::Tensor& x);

}  // namespace acerl::parallel
