// GRPO advantages and token-level loss; see grpo.h.
#include "rl/grpo.h"

#include "runtime/error.h"

namespace acerl::rl {

torch::Tensor group_advantages(const torch::Tensor& rewards, double eps) {
  ACERL_CHECK(rewards.dim() == 2, "group_advantages expects (groups, G) rewards");
  torch::Tensor r = rewards.to(torch::kFloat64);
  if (r.size(1) < 2) return torch::zeros_like(r).to(torch::kFloat32);
  torch::Tensor mean = r.mean(1, true);
  torch::Tensor std = r.std(1, /*unbiased=*/true, true);
  return ((r - mean) / (std + eps)).to(torch::kFloat32);
}

GrpoLossTerms grpo_token_loss(const torch::Tensor& logp, const torch::Tensor& old_logp,
                              const torch::Tensor& ref_logp, const torch::Tensor& entropy,
                              const torch::Tensor& advantages, const torch::Tensor& mask,
                              double normaliser, const GrpoLossOptions& o,
                              const torch::Tensor& behaviour_logp) {
  const torch::Tensor m = mask.to(torch::kFloat32);
  const torch::Tensor old = old_logp.defined() ? old_logp : logp.detach();
  torch::Tensor ratio = torch::exp(logp - old);
  torch::Tensor clipped_ratio = ratio.clamp(1 - o.clip_eps_low, 1 + o.clip_eps_high);
  torch::Tensor pg = -torch::minimum(ratio * advantages, clipped_ratio * advantages);
  GrpoLossTerms out;
  out.is_weight_mean = out.is_weight_max = torch::ones({});
  if (o.is_cap > 0 && behaviour_logp.defined()) {
    torch::Tensor w = torch::exp(logp.detach() - behaviour_logp).clamp_max(o.is_cap);
    pg = pg * w;
    out.is_weight_mean = (w * m).sum() / m.sum().clamp_min(1);
    out.is_weight_max = (w * m).max();
  }
  torch::Tensor per_token = pg;
  const double n = std::max(normaliser, 1e-12);
  if (o.kl_coef > 0 && ref_logp.defined()) {
    torch::Tensor d = ref_logp - logp;
    torch::Tensor kl = torch::exp(d) - d - 1;
    per_token = per_token + o.kl_coef * kl;
    out.kl = (kl.detach() * m).sum() / m.sum().clamp_min(1);
  } else {
    out.kl = torch::zeros({});
  }
  if (o.entropy_coef > 0 && entropy.defined()) per_token = per_token - o.entropy_coef * entropy;
  out.loss = (per_token * m).sum() / n;
  torch::Tensor was_clipped = (ratio.detach() - clipped_ratio.detach()).abs() > 0;
  out.clipped = (was_clipped.to(torch::kFloat32) * m).sum() / m.sum().clamp_min(1);
  return out;
}

}  // namespace acerl::rl
