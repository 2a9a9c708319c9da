// Tensor-parallel linear and embedding layers; see tp_layers.h.
#include "parallel/tp_layers.h"

#include "parallel/tp_mappings.h"
#include "runtime/error.h"

namespace acerl::parallel {
namespace {
int64_t shard(int64_t full, const Communicator& tp, const char* what) {
  ACERL_CHECK(full % tp.size() == 0, what, " of ", full, " is not divisible by tp = ", tp.size());
  return full / tp.size();
}
}  // namespace

ColumnParallelLinearImpl::ColumnParallelLinearImpl(int64_t in_features, int64_t out_features,
                                                   bool with_bias, Communicator& tp)
    : tp_(&tp) {
  int64_t local = shard(out_features, tp, "output features");
  weight = register_parameter("weight", torch::empty({local, in_features}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({local}));
}

torch::Tensor ColumnParallelLinearImpl::forward(const torch::Tensor& x) {
  return forward_in_region(copy_to_tp(x, *tp_));
}

torch::Tensor ColumnParallelLinearImpl::forward_in_region(const torch::Tensor& x_in_region) {
  return torch::linear(x_in_region, weight, bias);
}

RowParallelLinearImpl::RowParallelLinearImpl(int64_t in_features, int64_t out_features,
                                             bool with_bias, Communicator& tp)
    : tp_(&tp) {
  int64_t local = shard(in_features, tp, "input features");
  weight = register_parameter("weight", torch::empty({out_features, local}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
}

torch::Tensor RowParallelLinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = reduce_from_tp(torch::linear(x, weight), *tp_);
  return bias.defined() ? y + bias : y;
}

VocabParallelEmbeddingImpl::VocabParallelEmbeddingImpl(int64_t vocab, int64_t dim, Communicator& tp)
    : tp_(&tp) {
  int64_t local = shard(vocab, tp, "vocab_size");
  vocab_start_ = tp.rank() * local;
  weight = register_parameter("weight", torch::empty({local, dim}));
}

torch::Tensor VocabParallelEmbeddingImpl::forward(const torch::Tensor& ids) {
  if (tp_->size() == 1) return torch::embedding(weight, ids);
  const int64_t local = weight.size(0);
  torch::Tensor outside = (ids < vocab_start_) | (ids >= vocab_start_ + local);  // (B, T)
  torch::Tensor rows = (ids - vocab_start_).masked_fill(outside, 0);
  torch::Tensor out = torch::embedding(weight, rows).masked_fill(outside.unsqueeze(-1), 0.0);
  return reduce_from_tp(out, *tp_);
}

}  // namespace acerl::parallel
