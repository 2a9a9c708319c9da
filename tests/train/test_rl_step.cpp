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

TEST_CASE("learner rows with a shared prefix: the prompt once, a branch per rollout", "[rl]") {
  std::vector<rl::Rollout> group(2);
  for (auto& r : group) {
    r.prompt = 3;
    r.prompt_ids = {5, 6, 7};
    r.advantage = 0.5f;
  }
  group[0].tokens = {8, 9};
  group[0].logprobs = {-0.1f, -0.2f};
  group[1].tokens = {10};
  group[1].logprobs = {-0.3f};
  group[1].advantage = -0.5f;
  train::PackedRows rows = rl::learner_rows(group, 6, false, 1, true);
  // prefix [5 6] | branch 1 [7 8 9] | branch 2 [7 10], in one row of 7 (wider than seq_len 6).
  REQUIRE(rows.ids.sizes() == torch::IntArrayRef({1, 7}));
  auto row = [](const torch::Tensor& t) {
    std::vector<double> out;
    for (int64_t i = 0; i < t.size(1); ++i) out.push_back(t[0][i].item<double>());
    return out;
  };
  CHECK(row(rows.ids) == std::vector<double>{5, 6, 7, 8, 9, 7, 10});
  CHECK(row(rows.positions) == std::vector<double>{0, 1, 2, 3, 4, 2, 3});
  CHECK(row(rows.segment_ids) == std::vector<double>{0, 0, 1, 1, 1, 2, 2});
  CHECK(row(rows.doc_ids) == std::vector<double>{0, 0, 0, 0, 0, 0, 0});
  CHECK(row(rows.targets) == std::vector<double>{6, 7, 8, 9, 0, 10, 0});
  CHECK(row(rows.weights) == std::vector<double>{0, 0, 1, 1, 0, 1, 0});
  CHECK(row(rows.advantages) == std::vector<double>{0, 0, 0.5, 0.5, 0, -0.5, 0});
  CHECK(row(rows.rollout_logprobs)[2] == Approx(-0.1));
  CHECK(row(rows.rollout_logprobs)[3] == Approx(-0.2));
  CHECK(row(rows.rollout_logprobs)[5] == Approx(-0.3));
  // Without sharing, each rollout is its own document: prompt + response.
  train::PackedRows plain = rl::learner_rows(group, 6, false, 1, false);
  CHECK_FALSE(plain.segment_ids.defined());
  CHECK(plain.weights.sum().item<double>() == 3);
}

TEST_CASE("a shared prefix gives the loss and gradients of one row per rollout", "[rl]") {
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(test::tiny_config(), *groups);
  model::init_parameters(*m, 9);
  // Two groups of three rollouts, prompts of 7 and 4 tokens, responses of different lengths.
  std::vector<rl::Rollout> rollouts;
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < 3; ++i) {
      rl::Rollout r;
      r.prompt = static_cast<size_t>(g);
      r.prompt_ids = test::random_ids(g == 0 ? 7 : 4, 256, 40 + g);
      r.tokens = test::random_ids(3 + 2 * i + g, 256, 50 + 3 * g + i);
      for (size_t t = 0; t < r.tokens.size(); ++t) r.logprobs.push_back(-0.5f - 0.1f * t);
      r.reward = i == g ? 1.0 : 0.0;
      rollouts.push_back(r);
    }
  rl::assign_advantages(rollouts, 3, 1e-6);
  train::TokenLoss loss = [](const torch::Tensor& logp, const torch::Tensor&,
                             const train::PackedRows& r, double n) {
    return rl::grpo_token_loss(logp, r.rollout_logprobs.reshape({-1}), {}, {},
                               r.advantages.reshape({-1}), r.weights.reshape({-1}), n, {})
        .loss;
  };
  auto run = [&](bool shared, int64_t micro) {
    for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
    train::PackedRows rows = rl::learner_rows(rollouts, 20, false, 1, shared);
    auto r = train::forward_backward(*m, *groups, rows, micro, model::Precision::fp32, nullptr,
                                     loss, {});
    std::vector<torch::Tensor> grads;
    for (auto& p : m->parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(r, grads);
  };
  const auto plain = run(false, 2);
  for (int64_t micro : {1, 2}) {
    INFO("micro-batch rows " << micro);
    const auto shared = run(true, micro);
    CHECK(shared.first.global_weight == plain.first.global_weight);
    CHECK(shared.first.loss == Approx(plain.first.loss).epsilon(1e-5));
    for (size_t i = 0; i < plain.second.size(); ++i)
      CHECK(torch::allclose(shared.second[i], plain.second[i], 1e-4, 1e-6));
  }
}

TEST_CASE("a shared-prefix document stops growing at max(seq_len, 512) tokens", "[rl]") {
  // Three rollouts of one 10-token prompt with 300-token responses: one document would be
  // 9 + 3 * 301 = 912 wide, two branches 611: each branch gets its own 310-token document.
  std::vector<rl::Rollout> group(3);
  for (size_t i = 0; i < group.size(); ++i) {
    group[i].prompt = 0;
    group[i].prompt_ids = test::random_ids(10, 256, 3);
    group[i].tokens = test::random_ids(300, 256, 20 + i);
    group[i].logprobs.assign(300, -1.f);
  }
  train::PackedRows rows = rl::learner_rows(group, 310, false, 1, true);
  CHECK(rows.ids.size(1) == 310);
  CHECK(rows.rows() == 3);
  CHECK(rows.weights.sum().item<double>() == 900);
  // Short responses share one document, even past seq_len (up to 512).
  for (auto& r : group) {
    r.tokens.resize(40);
    r.logprobs.resize(40);
  }
  rows = rl::learner_rows(group, 50, false, 1, true);
  CHECK(rows.rows() == 1);
  CHECK(rows.ids.size(1) == 9 + 3 * 41);
}
