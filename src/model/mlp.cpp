// SwiGLU MLP; see mlp.h.
#include "model/mlp.h"

#include "parallel/tp_mappings.h"

namespace acerl::model {

MlpImpl::MlpImpl(int64_t hidden, int64_t intermediate, parallel::Communicator& tp) : tp_(&tp) {
  gate_proj =
      register_module("gate_proj", parallel::ColumnParallelLinear(hidden, intermediate, false, tp));
  up_proj =
      register_module("up_proj", parallel::ColumnParallelLinear(hidden, intermediate, false, tp));
  down_proj =
      register_module("down_proj", parallel::RowParallelLinear(intermediate, hidden, false, tp));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor shared = parallel::copy_to_tp(x, *tp_);
  return down_proj(torch::silu(gate_proj->forward_in_region(shared)) *
                   up_proj->forward_in_region(shared));
}

}  // namespace acerl::model
