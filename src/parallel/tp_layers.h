// defines: the tensor-parallel layers the model is written with. Each holds only its shard of
// the full (HF-shaped) weight; with a size-1 communicator each is exactly its plain counterpart.
//   ColumnParallelLinear  weight (out/tp, in)   output split along its last dim
//   RowParallelLinear     weight (out, in/tp)   input split along its last dim, output summed
//   VocabParallelEmbedding weight (vocab/tp, d) rows of this rank's vocab range
// Parameter names are "weight"/"bias" so the model's names stay the Hugging Face ones.
#pragma once

#include <torch/torch.h>

#include "parallel/communicator.h"

namespace acerl::parallel {

// y = x w^T + b, as torch::linear. With few rows (at most kFewRows: decoding, one row per
// sequence) and a large w (at least kLargeWeight elements) in float32 on the CPU it computes the
// same product as w x^T: LibTorch's MKL runs x w^T with few rows 1.3-8x slower there (it repacks
// all of w on every call), and a one-row product on one thread, so a single row goes in twice.
// Which form runs depends only on the shapes and dtypes, so equal inputs give equal results.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w,
                     const torch::Tensor& b = torch::Tensor());
constexpr int64_t kFewRows = 64;
constexpr int64_t kLargeWeight = 512 * 1024;

class ColumnParallelLinearImpl : public torch::nn::Module {
 public:
  ColumnParallelLinearImpl(int64_t in_features, int64_t out_features, bool bias, Communicator& tp);
  torch::Tensor forward(const torch::Tensor& x);  // (..., in) -> (..., out/tp)
  // For layers that share one input (q/k/v, gate/up): the caller applied copy_to_tp once, so
  // the backward all-reduces the summed input gradient once instead of once per layer.
  torch::Tensor forward_in_region(const torch::Tensor& x_in_region);
  torch::Tensor weight, bias;

 private:
  Communicator* tp_;
};
TORCH_MODULE(ColumnParallelLinear);

class RowParallelLinearImpl : public torch::nn::Module {
 public:
  RowParallelLinearImpl(int64_t in_features, int64_t out_features, bool bias, Communicator& tp);
  torch::Tensor forward(const torch::Tensor& x);  // (..., in/tp) -> (..., out), summed over TP
  torch::Tensor weight, bias;

 private:
  Communicator* tp_;
};
TORCH_MODULE(RowParallelLinear);

class VocabParallelEmbeddingImpl : public torch::nn::Module {
 public:
  VocabParallelEmbeddingImpl(int64_t vocab, int64_t dim, Communicator& tp);
  torch::Tensor forward(const torch::Tensor& ids);  // (B, T) -> (B, T, d)
  int64_t vocab_start() const { return vocab_start_; }
  torch::Tensor weight;

 private:
  Communicator* tp_;
  int64_t vocab_start_ = 0;
};
TORCH_MODULE(VocabParallelEmbedding);

}  // namespace acerl::parallel
