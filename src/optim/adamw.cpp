// AdamW and the learning-rate schedule; see adamw.h.
#include "optim/adamw.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "parallel/cpu_math.h"
#include "runtime/error.h"

namespace acerl::optim {
namespace {

struct Update {
  float decay;         // 1 - lr * wd, or 1
  float one_minus_b1;  // 1 - b1
  float b2, one_minus_b2;
  float correction2_sqrt, eps;
  float step;  // -lr / (1 - b1^t)
};

// One pass over a parameter: the same formulas as the operator sequence below, element by element
// (the rounding differs from LibTorch's kernels, which may fuse multiply-adds, in the last bits).
ACERL_CLONES void update_f32(float* p, const float* g, float* m, float* v, int64_t n,
                             const Update& u) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] + u.one_minus_b1 * (gi - m[i]);
    const float vi = v[i] * u.b2 + u.one_minus_b2 * gi * gi;
    const float denom = std::sqrt(vi) / u.correction2_sqrt + u.eps;
    p[i] = p[i] * u.decay + u.step * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}

bool fused_applies(const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& m,
                   const torch::Tensor& v) {
  for (const auto* t : {&p, &g, &m, &v})
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat32 || !t->is_contiguous())
      return false;
  return true;
}

}  // namespace

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
    const bool decays = decay_[i] && options_.weight_decay > 0;
    if (fused_applies(p, g, m_[i], v_[i])) {
      // CPU float32: one pass reading p, g, m, v and writing p, m, v.
      const Update u{decays ? static_cast<float>(1 - lr * options_.weight_decay) : 1.0f,
                     static_cast<float>(1 - b1),
                     static_cast<float>(b2),
                     static_cast<float>(1 - b2),
                     static_cast<float>(correction2_sqrt),
                     static_cast<float>(options_.eps),
                     static_cast<float>(-lr / correction1)};
      float *pp = p.data_ptr<float>(), *mp = m_[i].data_ptr<float>(), *vp = v_[i].data_ptr<float>();
      const float* gp = g.data_ptr<float>();
      at::parallel_for(0, p.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        update_f32(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, u);
      });
      continue;
    }
    if (decays) p.mul_(1 - lr * options_.weight_decay);
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
