// AdamW and the learning-rate schedule; see adamw.h.
#include "optim/adamw.h"

#include <cmath>

#include "runtime/error.h"

namespace acerl::optim {

AdamW::AdamW(std::vector<torch::Tensor> params, std::vector<bool> decay, AdamWOptions options)
    : params_(std::move(params)), decay_(std::move(decay)), options_(options) {
  ACERL_CHECK(params_.size() == decay_.size(), "AdamW: one decay flag per parameter");
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous).detach());
    v_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous).detach());
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double correction1 = 1 - std::pow(b1, static_cast<double>(step_));
  const double correction2_sqrt = std::sqrt(1 - std::pow(b2, static_cast<double>(step_)));
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (decay_[i] && options_.weight_decay > 0) p.mul_(1 - lr * options_.weight_decay);
    m_[i].lerp_(g, 1 - b1);
    v_[i].mul_(b2).addcmul_(g, g, 1 - b2);
    torch::Tensor denom = (v_[i].sqrt() / correction2_sqrt).add_(options_.eps);
    p.addcdiv_(m_[i], denom, -lr / correction1);
  }
}

double lr_at(int64_t step, int64_t warmup, int64_t total, double lr, double min_lr) {
  if (warmup > 0 && step < warmup)
    return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (total <= warmup) return lr;
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * progress));
}

}  // namespace acerl::optim
