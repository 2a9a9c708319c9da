// defines: the GRPO math of the recipe as pure functions on tensors: group-normalised
// advantages and the token-level policy-gradient loss (PPO ratio clipping when a batch is used
// for more than one update, optional KL to a reference and entropy bonus).
//
// Advantages: for the G rollouts of one prompt with rewards r, A_i = (r_i - mean r) / (std r + eps)
// with the sample standard deviation; every token of rollout i gets A_i. Worked example:
// r = [1, 0, 0, 1] -> mean 0.5, std 0.5774 -> A = [0.866, -0.866, -0.866, 0.866] (eps -> 0).
// All-equal rewards give A = 0 (nothing to learn from that group); a single rollout gives 0.
//
// Loss (token level: every response token of the global batch weighs the same):
//   ratio_t = exp(logp_t - old_logp_t)
//   pg_t    = -min(ratio_t A_t, clip(ratio_t, 1 - eps_low, 1 + eps_high) A_t)
//   kl_t    = exp(ref_t - logp_t) - (ref_t - logp_t) - 1            (k3 estimator, >= 0)
//   loss    = sum_t mask_t (pg_t + kl_coef kl_t - entropy_coef H_t) / N_tokens
// Strictly on-policy (old_logp = logp.detach()), ratio = 1 and the gradient is
// -A_t grad logp_t / N: clipping never acts, as in the recipe.
//
// Truncated importance sampling (tokens sampled by an older behaviour policy mu, e.g. the split
// layout with rl.max_lag > 0, rl.is_correction = truncated): with behaviour_logp given and
// is_cap > 0, pg_t is multiplied by the detached weight w_t = min(exp(logp_t - mu_t), is_cap),
// so the gradient is -w_t A_t grad logp_t / N. Worked example: logp = log 0.5, mu = log 0.25,
// cap 1.5 -> w = min(2, 1.5) = 1.5; logp = log 0.2, mu = log 0.4 -> w = 0.5.
#pragma once

#include <torch/torch.h>

namespace acerl::rl {

// rewards (n_groups, G) -> advantages (n_groups, G).
torch::Tensor group_advantages(const torch::Tensor& rewards, double eps = 1e-6);

struct GrpoLossOptions {
  double clip_eps_low = 0.2, clip_eps_high = 0.2;
  double kl_coef = 0.0;
  double entropy_coef = 0.0;
  double is_cap = 0.0;  // > 0 with behaviour_logp: truncated importance weights (see above)
};

struct GrpoLossTerms {
  torch::Tensor loss;     // scalar, to backpropagate
  torch::Tensor clipped;  // scalar: fraction of masked tokens whose ratio was clipped
  torch::Tensor kl;       // scalar: masked mean k3 KL (0 without a reference)
  torch::Tensor is_weight_mean, is_weight_max;  // scalars: masked truncated-IS weights (1 without)
};

// All (N) per-token tensors; mask in {0, 1}; `normaliser` = response tokens of the global batch.
// old_logp / ref_logp / entropy / behaviour_logp may be undefined (on-policy / no KL / no
// entropy bonus / no importance weights).
GrpoLossTerms grpo_token_loss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                              const torch::Tensor& ref_logp, const torch::Tensor& entropy,
                              const torch::Tensor& advantages, const torch::Tensor& mask,
                              double normaliser, const GrpoLossOptions& options,
                              const torch::Tensor& behaviour_logp = {});

}  // namespace acerl::rl
