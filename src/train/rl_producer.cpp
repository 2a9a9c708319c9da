// The producer half of an acerl rl step; see rl_producer.h.
#include "train/rl_producer.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>

#include "parallel/gather.h"
#include "rl/round_scorer.h"
#include "rollout/rollout_setup.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "train/profiler.h"
#include "train/split_link.h"

namespace acerl::train {

RlProducer::RlProducer(const config::Config& cfg, const job::SplitRoles& roles,
                       const parallel::ProcessGroups& groups, model::Qwen2ForCausalLM model,
                       const tokenizer::Tokenizer& tok, rollout::GeneratorOptions generation,
                       SplitLink* link)
    : cfg_(cfg),
      roles_(roles),
      groups_(groups),
      model_(std::move(model)),
      tok_(tok),
      generation_(std::move(generation)),
      link_(link) {
  if (groups_.replica().rank() == 0) {
    rewards_ = std::make_unique<reward::RewardRegistry>(cfg_.math_reward, cfg_.code_reward);
    scorer_ = std::make_unique<SerialWorker>();
  }
}

std::vector<rl::Rollout> RlProducer::generate(const Stage& stage,
                                              const std::vector<size_t>& prompts,
                                              double temperature, int64_t step, int64_t round,
                                              const OnGroup& on_group,
                                              const std::function<void()>& after_step) {
  rollout::GeneratorOptions options = generation_;
  options.sampling.temperature = temperature;
  options.max_new_tokens = stage.max_response;
  std::vector<rollout::GenerationRequest> requests;
  for (size_t p : prompts)
    requests.push_back(
        {str(stage.prompts[p].id, "#", step, "#", round), stage.prompt_ids[p], stage.group_size});
  auto to_rollout = [&](rollout::Completion c) {
    rl::Rollout r;
    r.prompt = prompts[c.request];
    r.sample = c.sample;
    r.prompt_ids = stage.prompt_ids[r.prompt];
    r.tokens = std::move(c.tokens);
    r.logprobs = std::move(c.logprobs);
    r.entropies = std::move(c.entropies);
    r.curve = std::move(c.entropy_curve);
    r.truncated = c.truncated;
    return r;
  };
  rollout::RequestDone done;
  if (on_group)
    done = [&](size_t request, const rollout::Completion* first, size_t count) {
      std::vector<rl::Rollout> group;
      for (size_t i = 0; i < count; ++i) group.push_back(to_rollout(first[i]));
      on_group(request, std::move(group));
    };
  auto completions =
      rollout::Generator(*model_, groups_, options).generate(requests, done, after_step);
  std::vector<rl::Rollout> out;
  for (auto& c : completions) out.push_back(to_rollout(std::move(c)));
  return out;
}

std::vector<double> RlProducer::reward_values(
    const Stage& stage, const std::vector<const rl::Rollout*>& rollouts) const {
  std::vector<std::string> texts;
  for (const rl::Rollout* r : rollouts) {
    std::vector<int32_t> ids;
    for (int64_t t : r->tokens)
      if (t < tok_.vocab_size()) ids.push_back(static_cast<int32_t>(t));
    texts.push_back(tok_.decode(ids, /*skip_special=*/true));
  }
  std::vector<reward::RewardRequest> requests;
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const auto& p = stage.prompts[rollouts[i]->prompt];
    requests.push_back({p.type, texts[i], &p.answer, &p.tests, p.where});
  }
  auto results = rewards_->score(requests);
  std::vector<double> values;
  for (size_t i = 0; i < results.size(); ++i) {
    values.push_back(results[i].score);
    const auto& list = kRewardReasons.at(stage.prompts[rollouts[i]->prompt].type);
    auto at = std::find(list.begin(), list.end(), results[i].reason);
    values.push_back(at == list.end() ? -1.0 : static_cast<double>(at - list.begin()));
  }
  return values;
}

void RlProducer::apply_rewards(const Stage& stage, const double* values,
                               std::vector<rl::Rollout>& rollouts, size_t first, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    rl::Rollout& r = rollouts[first + i];
    r.reward = values[2 * i];
    const auto reason = static_cast<int64_t>(values[2 * i + 1]);
    const auto& list = kRewardReasons.at(stage.prompts[r.prompt].type);
    r.reason = reason >= 0 ? list[static_cast<size_t>(reason)] : "other";
  }
}

bool RlProducer::keeps(const std::vector<rl::Rollout>& rollouts, size_t first, size_t count) const {
  if (!cfg_.rl.drop_zero_variance_groups) return true;
  std::vector<double> r;
  for (size_t i = 0; i < count; ++i) r.push_back(rollouts[first + i].reward);
  return !rl::zero_variance_groups({r})[0];
}

StepBatch RlProducer::produce(const Stage& stage, rl::PromptSampler& sampler,
                              rl::EasyPromptFilter& easy, const rl::RlState& state) {
  const parallel::ProcessGroups& g = groups_;
  StepBatch batch(cfg_.rl.entropy_grid.values.size());
  batch.weights_version = state.global_step;  // this rank's weights: the latest (colocated)
  StepTotals& totals = batch.totals;
  auto skip = [&](size_t p) { return stage.cfg.easy_filter && easy.easy(stage.prompts[p].id); };
  auto epoch_end = [&] { easy.end_epoch(); };
  std::vector<std::pair<size_t, std::vector<double>>> group_rewards;  // this replica's groups
  // Each of this replica's groups as (round, slot, its totals), summed over the replicas in that
  // order at the end: the summation order does not depend on how many replicas generate (the
  // totals do only where the groups' own values do).
  std::vector<double> group_totals;
  double kept_here = 0;
  size_t needed = static_cast<size_t>(stage.prompts_per_step);
  for (int64_t round = 0; needed > 0; ++round) {
    std::vector<size_t> drawn = sampler.next(needed, skip, epoch_end);
    if (drawn.empty()) break;
    auto [first, count] = rollout::replica_share(drawn.size(), g);
    std::vector<size_t> mine(drawn.begin() + static_cast<std::ptrdiff_t>(first),
                             drawn.begin() + static_cast<std::ptrdiff_t>(first + count));
    const auto G = static_cast<size_t>(stage.group_size);
    auto key = [&](size_t k) {  // this replica's prompt k of this round of the coming step
      return rl::GroupKey{state.global_step + 1, round, static_cast<int64_t>(first + k)};
    };
    auto learner_of = [&](size_t k) {  // split: the learner replica that learns from it
      return static_cast<int>(rollout::share_owner(
          drawn.size(), static_cast<size_t>(roles_.learner_replicas), first + k));
    };
    // The replica's first rank scores the groups on scorer_ as the generator finishes them, and in
    // the split layout sends each kept group to its learners as soon as its rewards are in.
    const bool scoring = g.replica().rank() == 0;
    std::optional<rl::RoundScorer> round_scorer;
    if (scoring)
      round_scorer.emplace(
          *scorer_, mine.size(), G,
          [this, &stage](const std::vector<const rl::Rollout*>& r) {
            return reward_values(stage, r);
          },
          [&](size_t k, std::vector<rl::Rollout>& group, const double* values, bool generating) {
            if (!roles_.split) return;
            apply_rewards(stage, values, group, 0, G);
            if (!keeps(group, 0, G)) return;
            link_->send_group(key(k), group, 0, G, learner_of(k));
            if (generating) batch.groups_sent_early += 1;
          });
    OnGroup on_group = [&](size_t k, std::vector<rl::Rollout> group) {
      round_scorer->add(k, std::move(group));
    };
    auto t0 = Clock::now();
    std::vector<rl::Rollout> rollouts;
    {
      ACERL_PROFILE_PHASE("acerl::generate");
      rollouts = generate(stage, mine, state.temperature, state.global_step, round,
                          scoring ? on_group : nullptr,
                          scoring ? [&] { round_scorer->poll(); } : std::function<void()>());
    }
    batch.t_generate += seconds_since(t0);
    t0 = Clock::now();
    {
      // What is left of scoring after the generation: the groups that finished last, and the
      // rewards to the rest of the replica.
      ACERL_PROFILE_PHASE("acerl::score");
      torch::Tensor scores =
          torch::zeros({static_cast<int64_t>(rollouts.size()) * 2}, torch::kFloat64);
      if (scoring) {
        const std::vector<double> values = round_scorer->finish();
        ACERL_CHECK(values.size() == rollouts.size() * 2, "scored ", values.size() / 2, " of ",
                    rollouts.size(), " rollouts");
        std::copy(values.begin(), values.end(), scores.data_ptr<double>());
      }
      g.replica().broadcast(scores, 0);
      apply_rewards(stage, scores.data_ptr<double>(), rollouts, 0, rollouts.size());
    }
    batch.t_score += seconds_since(t0);
    for (size_t k = 0; k < mine.size(); ++k) {
      std::vector<double> r;
      StepTotals group(cfg_.rl.entropy_grid.values.size());
      group.drawn() = 1;
      for (size_t i = 0; i < G; ++i) {
        const rl::Rollout& x = rollouts[k * G + i];
        r.push_back(x.reward);
        group.add_rollout(x, stage.prompts[x.prompt].type);
      }
      group_rewards.emplace_back(mine[k], r);
      const bool kept = keeps(rollouts, k * G, G);
      (kept ? group.kept() : group.dropped()) = 1;
      group_totals.push_back(static_cast<double>(round));
      group_totals.push_back(static_cast<double>(first + k));
      group_totals.insert(group_totals.end(), group.values().begin(), group.values().end());
      if (!kept) continue;
      kept_here += 1;
      batch.kept_keys.push_back(key(k));
      if (roles_.split) batch.kept_learners.push_back(learner_of(k));
      // A rollout rank that did not score sends its kept groups now (the first one sent them).
      if (roles_.split && !scoring) link_->send_group(key(k), rollouts, k * G, G, learner_of(k));
      for (size_t i = 0; i < G; ++i) batch.kept.push_back(rollouts[k * G + i]);
    }
    if (!cfg_.rl.drop_zero_variance_groups || round >= cfg_.rl.max_refill_rounds) break;
    torch::Tensor kept_total = torch::tensor({kept_here}, torch::kFloat64);
    g.dp().all_reduce(kept_total);
    needed = static_cast<size_t>(
        std::max(0.0, static_cast<double>(stage.prompts_per_step) - kept_total.item<double>()));
  }
  // Every rank learns which prompts every rollout solved (the easy filter must agree).
  std::vector<double> solved;
  for (const auto& [p, r] : group_rewards) {
    bool all = std::all_of(r.begin(), r.end(), [](double x) { return x > 0; });
    solved.push_back(all ? static_cast<double>(p) : -1.0);
  }
  for (double p : parallel::all_gather_concat(solved, g.dp().mpi_comm()))
    if (p >= 0) easy.observe(stage.prompts[static_cast<size_t>(p)].id, {1.0});
  int64_t longest = 0;
  for (const auto& r : batch.kept)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(r.tokens.size()));
  torch::Tensor t = torch::tensor({longest}, torch::kInt64);
  g.dp().all_reduce(t, parallel::ReduceOp::max);
  batch.max_length = t.item<int64_t>();
  {
    const std::vector<double> all = parallel::all_gather_concat(group_totals, g.dp().mpi_comm());
    const size_t width = 2 + totals.size();
    std::vector<size_t> order;  // record starts, by (round, slot)
    for (size_t at = 0; at < all.size(); at += width) order.push_back(at);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::tie(all[a], all[a + 1]) < std::tie(all[b], all[b + 1]);
    });
    for (size_t at : order) totals.add(&all[at + 2]);
  }
  if (roles_.split) {
    torch::Tensor early = torch::tensor({batch.groups_sent_early}, torch::kFloat64);
    g.dp().all_reduce(early);
    batch.groups_sent_early = early.item<double>();
  }
  return batch;
}

}  // namespace acerl::train
