// defines: functions of vocab-parallel logits that never gather the full vocabulary: each TP
// rank holds logits (N, V/tp) of its vocab range and the ranks exchange per-row statistics only
// (max, sum of exponentials, weighted sums: 3 numbers per row).
//   vocab_parallel_logprob    log softmax(logits / T)[target], with backward
//   vocab_parallel_entropy    entropy of softmax(logits / T), with backward
//   vocab_parallel_entropies  entropies at several temperatures (no grad): the H(T') curve
// Cross-entropy is -logprob. With T = 1 these are the learner's quantities; with the sampling
// temperature they are the rollout's (the recipe's temperature-adjusted entropy).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "parallel/communicator.h"

namespace acerl::parallel {

// logits (N, V/tp) any float dtype (computed in float32); targets (N) global token ids;
// vocab_start = first id of this rank's range. Returns (N) float32.
torch::Tensor vocab_parallel_logprob(const torch::Tensor& logits, const torch::Tensor& targets,
                                     int64_t vocab_start, Communicator& tp,
                                     double temperature = 1.0);
torch::Tensor vocab_parallel_entropy(const torch::Tensor& logits, Communicator& tp,
                                     double temperature = 1.0);
// (N, temperatures.size()) float32, no autograd.
torch::Tensor vocab_parallel_entropies(const torch::Tensor& logits, Communicator& tp,
                                       const std::vector<double>& temperatures);

}  // namespace acerl::parallel
