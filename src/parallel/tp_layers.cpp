// Tensor-parallel linear and embedding layers; see tp_layers.h.
#include "parallel/tp_layers.h"

#include <ATen/autocast_mode.h>

#include "parallel/tp_mappings.h"
#include "runtime/error.h"

namespace acerl::parallel {
namespace {
int64_t shard(int64_t full, const Communicator& tp, const char* what) {
  ACERL_CHECK(full % tp.size() == 0, what, " of ", full, " is not divisible by tp = ", tp.size());
  return full / tp.size();
}
}  // namespace

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const int64_t in = x.size(-1);
  const int64_t rows = in > 0 ? x.numel() / in : 0;
  const bool few = rows >= 1 && rows <= kFewRows && w.numel() >= kLargeWeight &&
                   x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
                   w.scalar_type() == torch::kFloat32 &&
                   !at::autocast::is_autocast_enabled(at::kCPU);
  if (!few) return torch::linear(x, w, b);
  torch::Tensor x2 = x.reshape({rows, in});
  if (rows == 1) x2 = x2.repeat({2, 1});
  torch::Tensor yt = b.defined() ? torch::addmm(b.unsqueeze(1), w, x2.t()) : torch::mm(w, x2.t());
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = w.size(0);
  return yt.t().narrow(0, 0, rows).contiguous().view(shape);
}

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
  return parallel::linear(x_in_region, weight, bias);
}

RowParallelLinearImpl::RowParallelLinearImpl(int64_t in_features, int64_t out_features,
                                             bool with_bias, Communicator& tp)
    : tp_(&tp) {
  int64_t local = shard(in_features, tp, "input features");
  weight = register_parameter("weight", torch::empty({out_features, local}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
}

torch::Tensor RowParallelLinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = reduce_from_tp(parallel::linear(x, weight), *tp_);
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
