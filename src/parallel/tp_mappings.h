// defines: the four autograd-aware communication primitives of tensor parallelism (Megatron's
// "mappings"). Each is the identity on a size-1 communicator.
//   copy_to_tp      forward: identity                backward: all-reduce (sum) of the grad
//   reduce_from_tp  forward: all-reduce (sum)        backward: identity
//   gather_from_tp  forward: all-gather along dim    backward: keep this rank's slice
//   scatter_to_tp   forward: keep this rank's slice  backward: all-gather along dim
// ColumnParallelLinear opens a TP region with copy_to_tp, RowParallelLinear closes it with
// reduce_from_tp; the communicator must outlive the autograd graph.
#pragma once

#include <torch/torch.h>

#include "parallel/communicator.h"

namespace acerl::parallel {

torch::Tensor copy_to_tp(const torch::Tensor& x, Communicator& tp);
torch::Tensor reduce_from_tp(const torch::Tensor& x, Communicator& tp);
torch::Tensor gather_from_tp(const torch::Tensor& x, Communicator& tp, int64_t dim = -1);
torch::Tensor scatter_to_tp(const torch::Tensor& x, Communicator& tp, int64_t dim = -1);

}  // namespace acerl::parallel
