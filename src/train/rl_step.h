// defines: what one step of acerl rl carries from the producer (draw, generate, score, dynamic
// sampling) to the consumer (learn, trace, temperature control): a curriculum Stage as the run
// uses it, the step's totals over every replica (StepTotals) and the StepBatch itself. Shared
// by train/rl_producer (which makes a batch), train/rl_trainer (which learns from it) and the
// split layout's train/split_link (which carries it from rollout ranks to learner ranks).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/prompt_dataset.h"
#include "rl/group_stream.h"
#include "rl/rollout_batch.h"

namespace acerl::train {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t);

// The reward types the trace breaks down, and each one's canonical reasons (a reward's reason
// travels between ranks as its index in this list).
extern const std::vector<std::string> kRewardTypes;
extern const std::map<std::string, std::vector<std::string>> kRewardReasons;
constexpr int kHistogramBins = 20;     // the trace's entropy histogram
constexpr double kHistogramMax = 4.0;  // nats; the last bin also holds everything above

// One curriculum stage ([stage.NAME]) with its prompts loaded and its settings resolved.
struct Stage {
  config::StageConfig cfg;
  std::vector<data::PromptRecord> prompts;
  std::vector<std::vector<int64_t>> prompt_ids;
  int64_t longest_prompt = 1, steps = 0, group_size = 1, prompts_per_step = 1, max_response = 1;
  double lr = 0, fixed_temperature = 1.0;
  bool auto_temperature = false;
};

// The per-step sums over the step's groups (each replica's groups, gathered over the
// data-parallel ranks and added in key order), in one flat vector.
class StepTotals {
 public:
  explicit StepTotals(size_t grid) : grid_(grid), values_(size(), 0.0) {}
  size_t size() const;
  double& rollouts() { return values_[0]; }
  double& tokens() { return values_[1]; }
  double& entropy() { return values_[2]; }
  double& length() { return values_[3]; }
  double& truncated() { return values_[4]; }
  double& dropped() { return values_[5]; }
  double& kept() { return values_[6]; }
  double& drawn() { return values_[7]; }
  double& type_count(size_t t) { return values_[8 + 3 * t]; }
  double& type_reward(size_t t) { return values_[9 + 3 * t]; }
  double& type_correct(size_t t) { return values_[10 + 3 * t]; }
  // A reason outside the canonical list is not traced (its count goes to a dummy).
  double& reason(const std::string& type, const std::string& reason);
  // The entropy curve's sum at grid point k, and the entropy histogram's bin k.
  double& curve(size_t k) { return values_[size() - kHistogramBins - grid_ + k]; }
  double& bin(size_t k) { return values_[size() - kHistogramBins + k]; }
  void add_rollout(const rl::Rollout& r, const std::string& type);
  void add(const double* values);
  const std::vector<double>& values() const { return values_; }
  void assign(std::vector<double> values);
  // The entropy curve per token (what the temperature controller reads).
  std::vector<double> curve_means() const;

 private:
  size_t grid_;
  std::vector<double> values_;
  double unknown_ = 0;
};

// One step's work as the producer hands it to the consumer: this replica's kept rollouts (whole
// groups, in drawing order) and the step's totals over every replica.
struct StepBatch {
  explicit StepBatch(size_t grid) : totals(grid) {}
  std::vector<rl::Rollout> kept;
  std::vector<rl::GroupKey> kept_keys;  // the kept groups' keys, in the order of `kept`
  std::vector<int> kept_learners;       // split: the learner replica each kept group goes to
  StepTotals totals;
  int64_t max_length = 0;  // longest response kept by any replica
  double t_generate = 0, t_score = 0;
  // Split layout: the weights version the rollouts used (updates done), the rollout rank's wait
  // for those weights (idle, then receiving and unpacking them: the bytes received since its
  // previous batch), whether a stop signal reached it; the learner's wait for the batch.
  int64_t weights_version = 0;
  double t_rollout_wait = 0, t_weight_transfer = 0, weight_bytes = 0, t_wait = 0;
  // Kept groups the rollout replicas sent while they were still generating (depends on timing).
  double groups_sent_early = 0;
  bool rollout_stop_signal = false;
};

}  // namespace acerl::train
