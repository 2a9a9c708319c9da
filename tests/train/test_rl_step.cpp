// One GRPO update through the real learner path (learner rows, vocab-parallel log-probs, token
// loss, AdamW): the rewarded rollout becomes more likely and the unrewarded one less likely.
#include "support/catch.h"

#include <torch/torch.h>

#include "model/qwen2.h"
#include "optim/adamw.h"
#include "parallel/grad_sync.h"
#include "rl/grpo.h"
#include "rl/rollout_batch.h"
#include "rollout/recompute.h"
#include "support/tiny_model.h"
#include "train/train_step.h"

using namespace acerl;

TEST_CASE("a GRPO step raises the rewarded rollout's log-probability and lowers the other's", "[rl]") {
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(test::tiny_config(), *groups);
  model::init_parameters(*m, 4);
  std::vector<rl::Rollout> rollouts(4);
  const auto prompt = test::random_ids(6, 256, 1);
  for (size_t i = 0; i < rollouts.size(); ++i) {
    rollouts[i].prompt_ids = prompt;
    rollouts[i].tokens = test::random_ids(5, 256, 10 + i);
    rollouts[i].logprobs.assign(5, 0.f);
    rollouts[i].reward = i == 0 ? 1.0 : 0.0;  // one right, three wrong
  }
  rl::assign_advantages(rollouts, 4, 1e-6);
  CHECK(rollouts[0].advantage == Approx(1.5));
  auto total_logprob = [&](size_t i) {
    auto s = rollout::recompute_logprobs(*m, *groups, {prompt}, {rollouts[i].tokens}, 0.7, model::Precision::fp32);
    double sum = 0;
    for (float x : s[0].logprobs) sum += x;
    return sum;
  };
  std::vector<double> before;
  for (size_t i = 0; i < 4; ++i) before.push_back(total_logprob(i));
  std::vector<torch::Tensor> params;
  for (const auto& s : m->param_shards()) params.push_back(s.tensor);
  optim::AdamW adamw(params, std::vector<bool>(params.size(), false), {});
  parallel::GradSync sync(params, groups->dp());
  train::PackedRows rows = rl::learner_rows(rollouts, 32, true, 1);
  train::TokenLoss loss = [](const torch::Tensor& logp, const torch::Tensor&, const train::PackedRows& r, double n) {
    return rl::grpo_token_loss(logp, {}, {}, {}, r.advantages.reshape({-1}), r.weights.reshape({-1}), n, {}).loss;
  };
  train::LossOptions options;
  options.temperature = 0.7;
  sync.zero_grad();
  train::forward_backward(*m, *groups, rows, 1, model::Precision::fp32, &sync, loss, options);
  adamw.step(1e-3);
  CHECK(total_logprob(0) > before[0] + 0.05);
  for (size_t i = 1; i < 4; ++i) CHECK(total_logprob(i) < before[i]);
}
