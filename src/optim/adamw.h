// defines: AdamW, Adam with decoupled weight decay over this rank's parameter shards, with its
// state (first and second moments, step count) exposed for layout-independent checkpoints.
// The update is torch.optim.AdamW's: p *= 1 - lr * wd; m = b1 m + (1 - b1) g;
// v = b2 v + (1 - b2) g^2; p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace acerl::optim {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  // `decay[i]`: whether params[i] gets weight decay (biases and norm weights usually do not).
  AdamW(std::vector<torch::Tensor> params, std::vector<bool> decay, AdamWOptions options);
  void step(double lr);  // uses each parameter's .grad(); parameters without a gradient are skipped
  int64_t steps() const { return step_; }
  void set_steps(int64_t steps) { step_ = steps; }
  torch::Tensor& exp_avg(size_t i) { return m_[i]; }
  torch::Tensor& exp_avg_sq(size_t i) { return v_[i]; }
  size_t size() const { return params_.size(); }

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  std::vector<bool> decay_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

// Linear warm-up from 0 to `lr` over `warmup` steps, then cosine decay to `min_lr` at `total`.
double lr_at(int64_t step, int64_t warmup, int64_t total, double lr, double min_lr);

}  // namespace acerl::optim
