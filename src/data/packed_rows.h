// defines: PackedRows, one step's training rows of a data-parallel rank as tensors: token ids,
// positions, document ids, targets and loss weights, and for RL the advantages and log-probs
// aligned with the targets. data/packing builds them from SFT examples, rl/rollout_batch from
// rollouts; train/train_step consumes them.
#pragma once

#include <torch/torch.h>

namespace acerl::data {

struct PackedRows {
  torch::Tensor ids;        // (n, T) int64
  torch::Tensor positions;  // (n, T) int64, restarting at every document
  torch::Tensor doc_ids;    // (n, T) int64, -1 = padding; undefined = one document per row
  // (n, T) int64 or undefined: within a document, a token of segment s > 0 attends only to
  // segment 0 (a shared prefix) and to segment s (its own branch).
  torch::Tensor segment_ids;
  torch::Tensor targets;    // (n, T) int64, the next token
  torch::Tensor weights;    // (n, T) float32 per-token loss weight (0 = no loss)
  // RL only (undefined otherwise), aligned with targets: the advantage of the rollout a target
  // token belongs to, the log-prob the rollout sampled it with, and a frozen reference's.
  torch::Tensor advantages, rollout_logprobs, ref_logprobs;
  int64_t rows() const { return ids.size(0); }
  // Rows [start, start + count) of every defined tensor (views, no copy).
  PackedRows narrow(int64_t start, int64_t count) const;
  // The first `length` columns of every defined tensor (contiguous copies; itself when length
  // is not shorter than the rows).
  PackedRows narrow_columns(int64_t length) const;
  // Per row, how many leading columns hold documents (the rest is padding), on the host;
  // undefined when doc_ids is.
  torch::Tensor used_columns() const;
  // Every defined tensor on `device`: to a GPU through pinned host memory with non-blocking
  // copies (ordered on the compute stream); tensors already there are shared, not copied.
  PackedRows to(const torch::Device& device) const;
};

}  // namespace acerl::data
