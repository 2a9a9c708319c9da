// defines: RMSNorm as Qwen2 computes it: normalise in float32, cast back to the input dtype,
// then scale by the (replicated) weight.
#pragma once

#include <torch/torch.h>

namespace acerl::model {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., d) -> (..., d)
  torch::Tensor weight;                           // (d)

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace acerl::model
