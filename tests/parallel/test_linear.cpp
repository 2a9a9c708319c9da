// parallel::linear, the few-row float32 product computed as w x^T, equals torch::linear (to
// float32 rounding) for every row count around its threshold, with and without bias, for 2-d
// and 3-d inputs, and is torch::linear itself (bit for bit) under bf16 autocast, for many rows
// and for small weights.
#include "support/catch.h"

#include <torch/torch.h>

#include "model/precision.h"
#include "parallel/tp_layers.h"

using namespace acerl;

TEST_CASE("parallel::linear equals torch::linear for few and many rows", "[parallel]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  torch::Tensor w = torch::randn({parallel::kLargeWeight / 48 + 1, 48});
  torch::Tensor b = torch::randn({w.size(0)});
  for (int64_t rows : {int64_t(1), int64_t(2), int64_t(7), parallel::kFewRows,
                       parallel::kFewRows + 1, int64_t(200)}) {
    INFO("rows " << rows);
    torch::Tensor x = torch::randn({rows, 48});
    CHECK(torch::allclose(parallel::linear(x, w), torch::linear(x, w), 1e-5, 1e-5));
    CHECK(torch::allclose(parallel::linear(x, w, b), torch::linear(x, w, b), 1e-5, 1e-5));
    torch::Tensor x3 = x.view({rows, 1, 48});  // decoding: (batch, 1 token, d)
    torch::Tensor y3 = parallel::linear(x3, w, b);
    CHECK(y3.sizes() == torch::IntArrayRef({rows, 1, w.size(0)}));
    CHECK(y3.is_contiguous());
    CHECK(torch::allclose(y3, torch::linear(x3, w, b), 1e-5, 1e-5));
    if (rows > parallel::kFewRows)
      CHECK(torch::equal(parallel::linear(x, w, b), torch::linear(x, w, b)));
  }
  torch::Tensor small = torch::randn({300, 48}), x1 = torch::randn({1, 48});
  CHECK(torch::equal(parallel::linear(x1, small), torch::linear(x1, small)));
  // Under bf16 autocast it is torch::linear (autocast casts the operands to bfloat16).
  torch::Tensor x = torch::randn({3, 48});
  model::AutocastScope autocast(model::Precision::bf16);
  torch::Tensor y = parallel::linear(x, w, b);
  CHECK(y.scalar_type() == torch::kBFloat16);
  CHECK(torch::equal(y, torch::linear(x, w, b)));
}

TEST_CASE("parallel::linear keeps autograd for few rows", "[parallel]") {
  torch::manual_seed(6);
  torch::Tensor w = torch::randn({20, 8}, torch::requires_grad());
  torch::Tensor x = torch::randn({3, 8}, torch::requires_grad());
  parallel::linear(x, w).pow(2).sum().backward();
  torch::Tensor w2 = w.detach().clone().requires_grad_(true);
  torch::Tensor x2 = x.detach().clone().requires_grad_(true);
  torch::linear(x2, w2).pow(2).sum().backward();
  CHECK(torch::allclose(w.grad(), w2.grad(), 1e-5, 1e-5));
  CHECK(torch::allclose(x.grad(), x2.grad(), 1e-5, 1e-5));
}
