// AdamW against LibTorch's own torch::optim::AdamW over several steps; the learning-rate
// schedule by hand.
#include "support/catch.h"

#include <torch/torch.h>

#include "optim/adamw.h"

using namespace acerl;

TEST_CASE("AdamW matches torch::optim::AdamW step for step", "[optim]") {
  torch::manual_seed(4);
  std::vector<torch::Tensor> ours, theirs;
  for (auto shape : {std::vector<int64_t>{5, 3}, std::vector<int64_t>{7}}) {
    torch::Tensor init = torch::randn(shape);
    ours.push_back(init.clone().requires_grad_(true));
    theirs.push_back(init.clone().requires_grad_(true));
  }
  optim::AdamW adamw(ours, {true, false}, {0.9, 0.95, 1e-8, 0.1});
  torch::optim::AdamW reference_decay(
      {theirs[0]}, torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  torch::optim::AdamW reference_plain(
      {theirs[1]}, torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.0));
  for (int step = 0; step < 5; ++step) {
    for (size_t i = 0; i < 2; ++i) {
      torch::Tensor g = torch::randn(ours[i].sizes());
      ours[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    adamw.step(3e-3);
    reference_decay.step();
    reference_plain.step();
    for (size_t i = 0; i < 2; ++i) CHECK(torch::allclose(ours[i], theirs[i], 1e-6, 1e-7));
  }
  CHECK(adamw.steps() == 5);
}

TEST_CASE("learning rate: linear warm-up then cosine to min_lr", "[optim]") {
  CHECK(optim::lr_at(0, 4, 104, 1.0, 0.1) == Approx(0.25));
  CHECK(optim::lr_at(3, 4, 104, 1.0, 0.1) == Approx(1.0));
  CHECK(optim::lr_at(4, 4, 104, 1.0, 0.1) == Approx(1.0));
  CHECK(optim::lr_at(54, 4, 104, 1.0, 0.1) == Approx(0.55));  // half way: (1 + 0.1) / 2
  CHECK(optim::lr_at(104, 4, 104, 1.0, 0.1) == Approx(0.1));
  CHECK(optim::lr_at(500, 4, 104, 1.0, 0.1) == Approx(0.1));
  CHECK(optim::lr_at(7, 0, 0, 2.0, 0.0) == Approx(2.0));
}
