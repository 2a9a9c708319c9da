// defines: RlProducer, the producer half of an acerl rl step: draw the step's prompts, generate
// G rollouts for this replica's share of each round (rollout/generator), score each group on a
// worker thread as soon as its last sample finishes (rl/round_scorer, reward/), apply dynamic
// sampling with refill rounds (rl/filters), and hand the consumer a StepBatch (train/rl_step)
// whose totals are summed over every replica in a fixed order. In the split layout it runs on
// the rollout ranks and sends each kept group to its learner replica through train/split_link
// as soon as the group is scored. train/rl_trainer owns it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "job/setup.h"
#include "model/qwen2.h"
#include "parallel/process_groups.h"
#include "reward/registry.h"
#include "rl/filters.h"
#include "rl/prompt_sampler.h"
#include "rl/rl_state.h"
#include "rollout/generator.h"
#include "runtime/serial_worker.h"
#include "tokenizer/tokenizer.h"
#include "train/rl_step.h"

namespace acerl::train {

class SplitLink;

class RlProducer {
 public:
  // `link`: the split layout's (this is a rollout rank), or null (colocated). Everything passed
  // must outlive the producer. The replica's first rank starts the reward registry and the
  // scoring thread here.
  RlProducer(const config::Config& cfg, const job::SplitRoles& roles,
             const parallel::ProcessGroups& groups, model::Qwen2ForCausalLM model,
             const tokenizer::Tokenizer& tok, rollout::GeneratorOptions generation,
             SplitLink* link);

  // One step's batch at `state` (the step after state.global_step), with the weights the model
  // holds now; advances `sampler` and `easy` as the step draws and solves prompts.
  StepBatch produce(const Stage& stage, rl::PromptSampler& sampler, rl::EasyPromptFilter& easy,
                    const rl::RlState& state);

 private:
  // The rollouts of `prompts` (G each), in prompt order; `on_group`, if given, gets each prompt's
  // group (its index in `prompts`, its rollouts) as soon as the group has finished, and
  // `after_step` runs after each decode step.
  using OnGroup = std::function<void(size_t, std::vector<rl::Rollout>)>;
  std::vector<rl::Rollout> generate(const Stage& stage, const std::vector<size_t>& prompts,
                                    double temperature, int64_t step, int64_t round,
                                    const OnGroup& on_group = nullptr,
                                    const std::function<void()>& after_step = nullptr);
  // The replica's first rank (on scorer_, while generation goes on): `rollouts`' rewards as
  // (score, reason) pairs, the reason as its index in kRewardReasons (-1: another one).
  std::vector<double> reward_values(const Stage& stage,
                                    const std::vector<const rl::Rollout*>& rollouts) const;
  // Writes the pairs of reward_values into the rollouts.
  static void apply_rewards(const Stage& stage, const double* values,
                            std::vector<rl::Rollout>& rollouts, size_t first, size_t count);
  // Whether dynamic sampling keeps a group of these rollouts.
  bool keeps(const std::vector<rl::Rollout>& rollouts, size_t first, size_t count) const;

  const config::Config& cfg_;
  const job::SplitRoles& roles_;
  const parallel::ProcessGroups& groups_;
  model::Qwen2ForCausalLM model_;
  const tokenizer::Tokenizer& tok_;
  rollout::GeneratorOptions generation_;
  SplitLink* link_;
  std::unique_ptr<reward::RewardRegistry> rewards_;
  // The replica's first rank: scores each group on a thread of its own as soon as the generator
  // reports it (declared after rewards_, which its jobs use: it ends first).
  std::unique_ptr<SerialWorker> scorer_;
};

}  // namespace acerl::train
