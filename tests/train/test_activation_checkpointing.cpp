// Activation checkpointing (recomputing each layer in backward) against keeping activations.
#include "support/catch.h"

#include <torch/torch.h>

#include "model/qwen2.h"
#include "parallel/process_groups.h"
#include "support/tiny_model.h"
#include "train/train_step.h"

using namespace acerl;

TEST_CASE("activation checkpointing gives the same loss and gradients as keeping activations",
          "[train]") {
  auto groups = parallel::ProcessGroups::single();
  auto config = test::tiny_config();
  train::PackedRows rows;
  rows.ids = torch::tensor(test::random_ids(2 * 16, 256, 8), torch::kInt64).view({2, 16});
  rows.positions = torch::arange(16).repeat({2, 1});
  rows.targets = torch::roll(rows.ids, -1, 1);
  rows.weights = torch::ones({2, 16});
  std::vector<std::vector<torch::Tensor>> grads;
  std::vector<double> losses;
  for (bool checkpointing : {false, true}) {
    model::Qwen2ForCausalLM m(config, *groups);
    model::init_parameters(*m, 5);
    m->set_activation_checkpointing(checkpointing);
    auto result = train::forward_backward(*m, *groups, rows, 1, model::Precision::fp32, nullptr);
    losses.push_back(result.loss);
    grads.emplace_back();
    for (const auto& p : m->parameters()) grads.back().push_back(p.grad().clone());
  }
  CHECK(losses[0] == Approx(losses[1]).epsilon(1e-7));
  for (size_t i = 0; i < grads[0].size(); ++i) {
    CHECK(grads[0][i].abs().max().item<float>() > 0);
    CHECK(torch::allclose(grads[0][i], grads[1][i], 1e-5, 1e-7));
  }
}
