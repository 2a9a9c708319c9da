// RMSNorm's CPU float32 path (model/rmsnorm_rows, taken by the RMSNorm module for float32 CPU
// tensors): values and input/weight gradients against the formula in float64 with autograd, rows
// of widths with and without a partial 16-lane block, a zero row, 3-D input; the no-grad path
// gives the autograd path's values; 1 and 2 threads agree bit for bit on rows that split.
#include "support/catch.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "model/rmsnorm.h"

using acerl::model::RMSNorm;

namespace {

double max_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

struct Out {
  torch::Tensor y, dx, dw;
};

Out run(RMSNorm& norm, const torch::Tensor& x, const torch::Tensor& dy) {
  norm->weight.mutable_grad() = torch::Tensor();
  torch::Tensor xr = x.clone().requires_grad_(true);
  torch::Tensor y = norm(xr);
  torch::autograd::backward({y}, {dy});
  return {y.detach(), xr.grad(), norm->weight.grad().clone()};
}

}  // namespace

TEST_CASE("RMSNorm's CPU float32 loops equal the float64 formula, values and gradients",
          "[model]") {
  torch::manual_seed(5);
  for (int64_t d : {1, 7, 64, 130, 896}) {
    for (double eps : {1e-6, 1e-5}) {
      torch::Tensor x = torch::randn({3, 5, d}) * 3;
      x[1][2].fill_(0);  // a zero row: r = 1 / sqrt(eps), y = 0, finite gradients
      torch::Tensor dy = torch::randn({3, 5, d});
      RMSNorm norm(d, eps);
      {
        torch::NoGradGuard no_grad;
        norm->weight.copy_(torch::randn({d}));
      }
      Out out = run(norm, x, dy);

      // The formula in float64 (what HF's Qwen2RMSNorm computes, without its float32 rounding).
      torch::Tensor x64 = x.to(torch::kFloat64).requires_grad_(true);
      torch::Tensor w64 = norm->weight.detach().to(torch::kFloat64).requires_grad_(true);
      torch::Tensor y64 = w64 * (x64 * torch::rsqrt(x64.pow(2).mean(-1, true) + eps));
      torch::autograd::backward({y64}, {dy.to(torch::kFloat64)});

      INFO("d = " << d << ", eps = " << eps);
      CHECK(out.y.scalar_type() == torch::kFloat32);
      CHECK(out.y.sizes() == x.sizes());
      CHECK(max_error(out.y, y64) < 1e-5 * (1 + y64.abs().max().item<double>()));
      CHECK(max_error(out.dx, x64.grad()) < 1e-4 * (1 + x64.grad().abs().max().item<double>()));
      CHECK(max_error(out.dw, w64.grad()) < 1e-4 * (1 + w64.grad().abs().max().item<double>()));
      CHECK(torch::isfinite(out.dx).all().item<bool>());

      torch::Tensor y_no_grad;
      {
        torch::NoGradGuard no_grad;
        y_no_grad = norm(x);
      }
      CHECK(torch::equal(y_no_grad, out.y));
    }
  }
}

TEST_CASE("RMSNorm's CPU loops split over threads give one thread's bits", "[model]") {
  torch::manual_seed(7);
  RMSNorm norm(96, 1e-6);  // 600 rows of 96: several tasks for the rows and for dw's columns
  {
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::randn({96}));
  }
  torch::Tensor x = torch::randn({600, 96}), dy = torch::randn({600, 96});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  Out one = run(norm, x, dy);
  at::set_num_threads(2);
  Out two = run(norm, x, dy);
  at::set_num_threads(threads);
  CHECK(torch::equal(one.y, two.y));
  CHECK(torch::equal(one.dx, two.dx));
  CHECK(torch::equal(one.dw, two.dw));
}

TEST_CASE("RMSNorm of a non-contiguous float32 input equals that of its contiguous copy",
          "[model]") {
  torch::manual_seed(6);
  RMSNorm norm(48, 1e-6);
  torch::Tensor x = torch::randn({48, 10}).t();  // rows strided
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(norm(x), norm(x.contiguous())));
}
