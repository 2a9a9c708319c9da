// The step totals of acerl rl; see rl_step.h.
#include "train/rl_step.h"

#include <algorithm>

#include "runtime/error.h"

namespace acerl::train {

const std::vector<std::string> kRewardTypes = {"math", "code"};
const std::map<std::string, std::vector<std::string>> kRewardReasons = {
    {"math", {"correct", "wrong", "no_answer", "unparsable"}},
    {"code",
     {"correct", "wrong_answer", "runtime_error", "timeout", "memory", "output_limit", "no_code",
      "bad_tests"}}};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

size_t StepTotals::size() const {
  size_t reasons = 0;
  for (const auto& [type, list] : kRewardReasons) reasons += list.size();
  return 8 + 3 * kRewardTypes.size() + reasons + grid_ + kHistogramBins;
}

double& StepTotals::reason(const std::string& type, const std::string& reason) {
  size_t at = 8 + 3 * kRewardTypes.size();
  for (const auto& [t, list] : kRewardReasons) {
    for (const auto& r : list) {
      if (t == type && r == reason) return values_[at];
      ++at;
    }
  }
  return unknown_;
}

void StepTotals::add_rollout(const rl::Rollout& r, const std::string& type) {
  rollouts() += 1;
  tokens() += static_cast<double>(r.tokens.size());
  length() += static_cast<double>(r.tokens.size());
  truncated() += r.truncated;
  for (size_t i = 0; i < r.entropies.size(); ++i) {
    entropy() += r.entropies[i];
    bin(std::min<size_t>(kHistogramBins - 1, static_cast<size_t>(r.entropies[i] / kHistogramMax *
                                                                 kHistogramBins))) += 1;
    for (size_t k = 0; k < grid_; ++k) curve(k) += r.curve[i * grid_ + k];
  }
  for (size_t t = 0; t < kRewardTypes.size(); ++t) {
    if (kRewardTypes[t] != type) continue;
    type_count(t) += 1;
    type_reward(t) += r.reward;
    type_correct(t) += r.reward > 0;
  }
  reason(type, r.reason) += 1;
}

void StepTotals::add(const double* values) {
  for (size_t i = 0; i < values_.size(); ++i) values_[i] += values[i];
}

void StepTotals::assign(std::vector<double> values) {
  ACERL_CHECK(values.size() == values_.size(), "step totals of ", values.size(),
              " values, expected ", values_.size());
  values_ = std::move(values);
}

std::vector<double> StepTotals::curve_means() const {
  std::vector<double> out;
  const size_t first = size() - kHistogramBins - grid_;
  for (size_t k = 0; k < grid_; ++k) out.push_back(values_[first + k] / std::max(1.0, values_[1]));
  return out;
}

}  // namespace acerl::train
