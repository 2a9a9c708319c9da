// defines: the CPU loops over rows of a logits shard behind the vocab-parallel log-prob and
// entropy (parallel/vocab_parallel) and the sampler's inverse-CDF pick (rollout/sampler): the max
// and the exp-sums of z = x / T in one pass each, the kept masses and the pick, and the gradients
// written straight into the logits' dtype, so that no (N, V) float32 temporary is made or kept
// for backward. Rows are split over LibTorch's intra-op threads; each row is summed by one thread
// in a fixed order (the result does not depend on the thread count).
#pragma once

#include <torch/torch.h>

namespace acerl::parallel {

// Whether these loops take `logits`: a CPU tensor of float32 or bfloat16.
bool softmax_rows_apply(const torch::Tensor& logits);

// x (N, V) with contiguous rows. Returns (N) float32: max_j x_j / T.
torch::Tensor rows_max(const torch::Tensor& x, double temperature);

// With m (N) at least every x_j / T of its row (the max over all vocab shards): e_j =
// exp(x_j / T - m). Fills sum (N) = sum_j e_j and, when `weighted` is defined, weighted (N) =
// sum_j e_j (x_j / T - m). Both float32.
void rows_sum_exp(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                  torch::Tensor& sum, torch::Tensor* weighted);

// Sampling by inverse CDF (rollout/sampler). The kept mass of column j is e_j = exp(x_j / T - m)
// where x_j / T >= threshold (float32, per row; -inf keeps every column), else 0 (also where e_j
// underflows float32); a NaN logit gives a NaN mass. rows_kept_mass returns (N) float64: each
// row's kept masses summed in column order.
torch::Tensor rows_kept_mass(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                             const torch::Tensor& threshold);

// The first column whose running kept mass (float64, summed as rows_kept_mass sums, so it reaches
// that total exactly) exceeds target_i (N, float64). Fills index (N) int64, -1 where target_i is
// negative, NaN or not below the row's kept mass (the column lies in another shard), and chosen
// (N) float64, that column's mass (0 where index is -1).
void rows_pick(const torch::Tensor& x, double temperature, const torch::Tensor& m,
               const torch::Tensor& threshold, const torch::Tensor& target, torch::Tensor& index,
               torch::Tensor& chosen);

// The gradient of sum_i g_i log p_i(t_i) w.r.t. x, in x's dtype: (1[j = t_i] hit_i - p_ij) g_i / T
// with p_ij = e_ij / sum_i. target (N) int64: the column of t_i in this shard (any column where
// hit_i = 0); hit (N) float32, 1 where this shard holds t_i.
torch::Tensor logprob_grad(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                           const torch::Tensor& sum, const torch::Tensor& g,
                           const torch::Tensor& target, const torch::Tensor& hit);

// The gradient of sum_i g_i H_i w.r.t. x, in x's dtype: -p_ij (log p_ij + H_i) g_i / T with
// log p_ij = x_ij / T - m_i - log sum_i.
torch::Tensor entropy_grad(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                           const torch::Tensor& sum, const torch::Tensor& entropy,
                           const torch::Tensor& g);

}  // namespace acerl::parallel
