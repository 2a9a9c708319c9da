// defines: the SwiGLU MLP of a Qwen2 layer, down(silu(gate(x)) * up(x)), tensor-parallel over
// the intermediate dimension (gate/up column-split, down row-split), no biases.
#pragma once

#include <torch/torch.h>

#include "parallel/tp_layers.h"

namespace acerl::model {

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t intermediate, parallel::Communicator& tp);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, d) -> (B, T, d)

  parallel::ColumnParallelLinear gate_proj{nullptr}, up_proj{nullptr};  // (ffn/tp, d)
  parallel::RowParallelLinear down_proj{nullptr};                       // (d, ffn/tp)

 private:
  parallel::Communicator* tp_;
};
TORCH_MODULE(Mlp);

}  // namespace acerl::model
