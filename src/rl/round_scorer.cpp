// Scoring a round's groups beside generation; see round_scorer.h.
#include "rl/round_scorer.h"

#include <chrono>

#include "runtime/error.h"

namespace acerl::rl {

RoundScorer::RoundScorer(SerialWorker& worker, size_t groups, size_t group_size, Score score,
                         OnScored on_scored)
    : worker_(worker), group_size_(group_size), score_(std::move(score)),
      on_scored_(std::move(on_scored)), rollouts_(groups), values_(groups) {}

RoundScorer::~RoundScorer() {
  if (job_.valid()) job_.wait();
}

void RoundScorer::add(size_t k, std::vector<Rollout> rollouts) {
  ACERL_CHECK(k < rollouts_.size(), "group ", k, " of a round of ", rollouts_.size());
  ACERL_CHECK(rollouts.size() == group_size_, "group ", k, " finished with ", rollouts.size(),
              " rollouts, not ", group_size_);
  rollouts_[k] = std::move(rollouts);
  queued_.push_back(k);
  poll();
}

std::vector<double> RoundScorer::finish() {
  take(true);
  std::vector<double> out;
  for (size_t k = 0; k < values_.size(); ++k) {
    ACERL_CHECK(values_[k].size() == 2 * group_size_, "group ", k, " of the round was not scored");
    out.insert(out.end(), values_[k].begin(), values_[k].end());
  }
  return out;
}

void RoundScorer::take(bool wait) {
  for (;;) {
    if (job_.valid()) {
      if (!wait && job_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
      const std::vector<double> values = job_.get();
      ACERL_CHECK(values.size() == 2 * group_size_ * in_job_.size(), "a scoring job returned ",
                  values.size(), " values for ", in_job_.size(), " groups");
      for (size_t i = 0; i < in_job_.size(); ++i) {
        const size_t k = in_job_[i];
        const auto first = static_cast<std::ptrdiff_t>(2 * group_size_ * i);
        values_[k].assign(values.begin() + first,
                          values.begin() + first + static_cast<std::ptrdiff_t>(2 * group_size_));
        on_scored_(k, rollouts_[k], values_[k].data(), !wait);
        rollouts_[k].clear();
      }
      in_job_.clear();
    }
    if (queued_.empty()) return;
    std::vector<const Rollout*> batch;  // (rollouts_ is never resized: the pointers hold)
    for (size_t k : queued_)
      for (const Rollout& r : rollouts_[k]) batch.push_back(&r);
    in_job_.swap(queued_);
    job_ = worker_.submit([this, batch = std::move(batch)] { return score_(batch); });
    ++jobs_;
    if (!wait) return;
  }
}

}  // namespace acerl::rl
