// The host+device math of the fused RMSNorm kernel, run on the CPU against LibTorch: Qwen2's
// RMSNorm written as LibTorch operators, forward and backward through autograd.
#include "support/catch.h"

#include <torch/torch.h>

#include "kernels/rmsnorm_math.h"

TEST_CASE("RMSNorm kernel math matches LibTorch forward and backward", "[kernels]") {
  torch::manual_seed(11);
  for (int64_t d : {1, 7, 64, 896, 3584}) {
    for (double eps : {1e-6, 1e-5}) {
      const int64_t rows = 9;
      torch::Tensor x = torch::randn({rows, d}) * 3;
      x[0].fill_(0);  // an all-zero row: r = 1 / sqrt(eps), y = 0, finite gradients
      torch::Tensor weight = torch::randn({d}).requires_grad_(true);
      torch::Tensor xr = x.clone().requires_grad_(true);
      torch::Tensor y_ref = weight * (xr * torch::rsqrt(xr.pow(2).mean(-1, true) + eps));
      torch::Tensor dy = torch::randn({rows, d});
      torch::autograd::backward({y_ref}, {dy});

      torch::Tensor w = weight.detach().contiguous();
      torch::Tensor y = torch::empty({rows, d}), inv = torch::empty({rows});
      acerl::kernels::rmsnorm_forward_rows(x.data_ptr<float>(), w.data_ptr<float>(),
                                           y.data_ptr<float>(), inv.data_ptr<float>(), rows, d,
                                           static_cast<float>(eps));
      torch::Tensor dx = torch::empty({rows, d}), dw = torch::empty({d});
      acerl::kernels::rmsnorm_backward_rows(x.data_ptr<float>(), w.data_ptr<float>(),
                                            dy.data_ptr<float>(), inv.data_ptr<float>(),
                                            dx.data_ptr<float>(), dw.data_ptr<float>(), rows, d);
      INFO("d = " << d << ", eps = " << eps);
      CHECK(torch::allclose(y, y_ref.detach(), 1e-5, 1e-5));
      CHECK(torch::allclose(dx, xr.grad(), 1e-4, 1e-4));
      CHECK(torch::allclose(dw, weight.grad(), 1e-4, 1e-3));
      CHECK(torch::isfinite(dx).all().item<bool>());
    }
  }
}
