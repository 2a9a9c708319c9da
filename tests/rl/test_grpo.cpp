// GRPO advantages, loss, filters and the temperature controller on hand-computed examples.
#include "support/catch.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <fstream>

#include "rl/filters.h"
#include "rl/grpo.h"
#include "rl/rollout_batch.h"
#include "rl/temperature.h"
#include "support/process.h"

using namespace acerl;

TEST_CASE("group advantages: (r - mean) / (std + eps), zero for equal rewards and single samples",
          "[rl]") {
  torch::Tensor r =
      torch::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0}).view({3, 4});
  torch::Tensor a = rl::group_advantages(r, 0.0);
  // Group 1: mean 0.5, sample std sqrt(1/3) = 0.57735 -> +-0.866025.
  CHECK(a[0][0].item<float>() == Approx(0.866025).epsilon(1e-5));
  CHECK(a[0][1].item<float>() == Approx(-0.866025).epsilon(1e-5));
  // Group 2: all equal -> 0 (with eps > 0 the 0/0 is avoided).
  torch::Tensor same = rl::group_advantages(r, 1e-6);
  CHECK(same[1].abs().max().item<float>() == 0);
  // Group 3: [0, 0, 0, 1]: mean 0.25, std 0.5 -> [-0.5, -0.5, -0.5, 1.5].
  CHECK(a[2][3].item<float>() == Approx(1.5).epsilon(1e-5));
  CHECK(a[2][0].item<float>() == Approx(-0.5).epsilon(1e-5));
  CHECK(rl::group_advantages(torch::tensor({1.0}).view({1, 1})).item<float>() == 0);
}

TEST_CASE("token-level loss: on-policy gradient, masking, normaliser, clipping, KL", "[rl]") {
  // Two rollouts: 3 tokens (A = +1) and 2 tokens (A = -0.5); the last token of the second is
  // masked.
  torch::Tensor logp = torch::tensor({-1.0, -2.0, -0.5, -1.5, -3.0}).requires_grad_(true);
  torch::Tensor adv = torch::tensor({1.0, 1.0, 1.0, -0.5, -0.5});
  torch::Tensor mask = torch::tensor({1.0, 1.0, 1.0, 1.0, 0.0});
  auto terms = rl::grpo_token_loss(logp, {}, {}, {}, adv, mask, 8.0, {});
  // On-policy: ratio 1, loss = -sum(mask * A) / N = -(3 - 0.5) / 8.
  CHECK(terms.loss.item<double>() == Approx(-2.5 / 8));
  terms.loss.backward();
  // d loss / d logp_t = -A_t mask_t / N.
  std::vector<double> expected = {-1.0 / 8, -1.0 / 8, -1.0 / 8, 0.5 / 8, 0.0};
  for (int t = 0; t < 5; ++t) CHECK(logp.grad()[t].item<double>() == Approx(expected[t]));
  CHECK(terms.clipped.item<double>() == 0);

  // Off-policy: ratio e^{0.5} = 1.6487 for token 0 exceeds 1 + 0.2: clipped (A > 0, so min
  // picks 1.2 A).
  torch::Tensor lp = torch::tensor({-0.5, -2.0}).requires_grad_(true);
  torch::Tensor old = torch::tensor({-1.0, -2.0});
  auto clipped =
      rl::grpo_token_loss(lp, old, {}, {}, torch::tensor({1.0, 1.0}), torch::ones({2}), 2.0, {});
  CHECK(clipped.loss.item<double>() == Approx(-(1.2 + 1.0) / 2));
  CHECK(clipped.clipped.item<double>() == Approx(0.5));
  clipped.loss.backward();
  CHECK(lp.grad()[0].item<double>() == 0);  // clipped: no gradient
  CHECK(lp.grad()[1].item<double>() == Approx(-0.5));

  // KL (k3) to a reference: d = ref - logp = 0.3 -> e^0.3 - 0.3 - 1 = 0.0498588.
  torch::Tensor one = torch::tensor({-1.0});
  rl::GrpoLossOptions kl_options;
  kl_options.kl_coef = 0.1;
  auto kl = rl::grpo_token_loss(one, {}, torch::tensor({-0.7}), {}, torch::zeros({1}),
                                torch::ones({1}), 1.0, kl_options);
  CHECK(kl.kl.item<double>() == Approx(std::exp(0.3) - 1.3));
  CHECK(kl.loss.item<double>() == Approx(0.1 * (std::exp(0.3) - 1.3)));
}

TEST_CASE("truncated importance weights: min(pi / mu, cap) times the on-policy gradient", "[rl]") {
  // Token 0: pi = 0.5, mu = 0.25 -> pi / mu = 2, capped at 1.5. Token 1: pi = 0.2, mu = 0.4 ->
  // 0.5. Token 2 is masked. A = (+1, -2, +3), N = 4.
  torch::Tensor logp =
      torch::tensor({std::log(0.5), std::log(0.2), std::log(0.9)}).requires_grad_(true);
  torch::Tensor mu = torch::tensor({std::log(0.25), std::log(0.4), std::log(0.1)});
  torch::Tensor adv = torch::tensor({1.0, -2.0, 3.0});
  torch::Tensor mask = torch::tensor({1.0, 1.0, 0.0});
  rl::GrpoLossOptions options;
  options.is_cap = 1.5;
  auto terms = rl::grpo_token_loss(logp, {}, {}, {}, adv, mask, 4.0, options, mu);
  // loss = -(1.5 * 1 + 0.5 * (-2)) / 4 = -0.125; d loss / d logp = -w A / N.
  CHECK(terms.loss.item<double>() == Approx(-0.125));
  terms.loss.backward();
  CHECK(logp.grad()[0].item<double>() == Approx(-1.5 / 4));
  CHECK(logp.grad()[1].item<double>() == Approx(1.0 / 4));
  CHECK(logp.grad()[2].item<double>() == 0);
  CHECK(terms.is_weight_mean.item<double>() == Approx((1.5 + 0.5) / 2));
  CHECK(terms.is_weight_max.item<double>() == Approx(1.5));
  CHECK(terms.clipped.item<double>() == 0);  // on-policy ratio: nothing clipped
  // Without a cap (or without behaviour log-probs) the weights are 1: the plain on-policy loss.
  auto plain = rl::grpo_token_loss(logp.detach(), {}, {}, {}, adv, mask, 4.0, {}, mu);
  CHECK(plain.loss.item<double>() == Approx(-(1.0 - 2.0) / 4));
  CHECK(plain.is_weight_mean.item<double>() == 1.0);
}

TEST_CASE("zero-variance groups, easy prompts, pass-rate filter", "[rl]") {
  auto drop = rl::zero_variance_groups({{1, 1, 1}, {0, 1, 0}, {0, 0, 0}});
  CHECK(drop == std::vector<bool>{true, false, true});
  rl::EasyPromptFilter easy;
  easy.observe("a", {1, 1, 1});
  easy.observe("b", {1, 0, 1});
  CHECK_FALSE(easy.easy("a"));  // only from the next epoch on
  easy.end_epoch();
  CHECK(easy.easy("a"));
  CHECK_FALSE(easy.easy("b"));
  std::string dir = test::scratch_dir("pass_rate");
  std::ofstream(dir + "/rates.jsonl")
      << "{\"id\": \"p1\", \"pass_rate\": 0.9}\n{\"id\": \"p2\", \"pass_rate\": 0.2}\n";
  std::vector<data::PromptRecord> records(3);
  records[0].id = "p1";
  records[1].id = "p2";
  records[2].id = "p3";
  auto kept = rl::filter_by_pass_rate(records, dir + "/rates.jsonl", 0.0, 0.5);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].id == "p2");
  CHECK(kept[1].id == "p3");  // unknown: kept
}

TEST_CASE("temperature controller interpolates the curve and respects step and bounds", "[rl]") {
  std::vector<double> t = {0.6, 0.8, 1.0}, h = {0.10, 0.24, 0.40};
  CHECK(rl::temperature_for_entropy(t, h, 0.30) == Approx(0.875));
  CHECK(rl::temperature_for_entropy(t, h, 0.05) == Approx(0.6));
  CHECK(rl::temperature_for_entropy(t, h, 0.90) == Approx(1.0));
  rl::TemperatureControl c;
  c.max_step = 0.1;
  CHECK(rl::next_temperature(0.7, t, h, c) == Approx(0.8));     // toward 0.875, one step
  CHECK(rl::next_temperature(0.85, t, h, c) == Approx(0.875));  // within a step: lands on it
  c.t_max = 0.8;
  CHECK(rl::next_temperature(0.78, t, h, c) == Approx(0.8));  // bounded
  // Closed loop on a synthetic curve H(T) = 0.4 T^2: T moves monotonically to sqrt(0.75) = 0.866.
  rl::TemperatureControl loop;
  double temperature = 0.4;
  std::vector<double> grid = {0.4, 0.6, 0.8, 1.0, 1.2, 1.4};
  std::vector<double> curve;
  for (double g : grid) curve.push_back(0.4 * g * g);
  double previous = temperature;
  for (int i = 0; i < 40; ++i) {
    temperature = rl::next_temperature(temperature, grid, curve, loop);
    CHECK(temperature >= previous);
    previous = temperature;
  }
  CHECK(temperature == Approx(0.8 + 0.2 * (0.3 - 0.256) / (0.4 - 0.256)).margin(1e-9));
}

#include "eval/metrics.h"

TEST_CASE("avg@k with its standard error and the unbiased pass@k", "[rl]") {
  auto a = eval::avg_at_k({1, 3}, 4);
  CHECK(a.mean == Approx(0.5));
  CHECK(a.standard_error == Approx(0.25));
  CHECK(eval::pass_at_k(4, 1, 2) == Approx(0.5));       // 1 - C(3,2)/C(4,2) = 1 - 3/6
  CHECK(eval::pass_at_k(4, 1, 1) == Approx(0.25));      // pass@1 = c / n
  CHECK(eval::pass_at_k(10, 0, 5) == 0);
  CHECK(eval::pass_at_k(10, 6, 5) == 1);                 // fewer than k failures
  CHECK(eval::pass_at_k(64, 8, 8) == Approx(1 - 1.0 * 56 * 55 * 54 * 53 * 52 * 51 * 50 * 49 /
                                                    (64.0 * 63 * 62 * 61 * 60 * 59 * 58 * 57)));
}

TEST_CASE("rollouts round-trip through a flat message bit for bit; a cut message is an error",
          "[rl]") {
  std::vector<rl::Rollout> rollouts(2);
  rollouts[0].prompt = 7;
  rollouts[0].sample = 3;
  rollouts[0].prompt_ids = {1, 2, 151643};
  rollouts[0].tokens = {5, 6};
  rollouts[0].logprobs = {-0.0f, std::nextafter(-1.0f, 0.0f)};
  rollouts[0].entropies = {std::numeric_limits<float>::denorm_min(), 2.5f};
  rollouts[0].curve = {0.1f, 0.2f, 0.3f, 0.4f};
  rollouts[0].truncated = true;
  rollouts[0].reward = 0.1 + 0.2;
  rollouts[0].reason = "wrong_answer";
  rollouts[0].advantage = -0.866f;
  rollouts[1].reason = "";  // empty vectors and strings
  io::ByteWriter w;
  rl::write_rollouts(w, rollouts);
  io::ByteReader r(w.bytes().data(), w.bytes().size());
  std::vector<rl::Rollout> back = rl::read_rollouts(r);
  CHECK(r.done());
  REQUIRE(back.size() == 2);
  CHECK(back[0].prompt == 7);
  CHECK(back[0].sample == 3);
  CHECK(back[0].prompt_ids == rollouts[0].prompt_ids);
  CHECK(back[0].tokens == rollouts[0].tokens);
  CHECK(std::memcmp(back[0].logprobs.data(), rollouts[0].logprobs.data(), 2 * sizeof(float)) == 0);
  CHECK(back[0].entropies == rollouts[0].entropies);
  CHECK(back[0].curve == rollouts[0].curve);
  CHECK(back[0].truncated);
  CHECK(back[0].reward == 0.1 + 0.2);
  CHECK(back[0].reason == "wrong_answer");
  CHECK(back[0].advantage == -0.866f);
  CHECK(back[1].tokens.empty());
  CHECK(back[1].reason.empty());
  CHECK_FALSE(back[1].truncated);
  // One byte short: the reader says so instead of reading past the end.
  io::ByteReader cut(w.bytes().data(), w.bytes().size() - 1);
  CHECK_THROWS_WITH(rl::read_rollouts(cut), Catch::Contains("message ends after"));
}
