// defines: the prompt and rollout filters of the recipe: dynamic sampling (groups whose rewards
// are all equal carry no signal and are dropped), per-epoch easy-prompt filtering (prompts solved
// by every rollout in an epoch are skipped in the next ones), and the difficulty pre-filter
// from a pass-rate file. Overlong filtering is a loss mask, applied where batches are built.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "data/prompt_dataset.h"

namespace acerl::rl {

// True for each group (row of `rewards`, G rollouts each) whose rewards are all equal.
std::vector<bool> zero_variance_groups(const std::vector<std::vector<double>>& rewards);

class EasyPromptFilter {
 public:
  // Records the rewards of one prompt's group in the current epoch.
  void observe(const std::string& prompt_id, const std::vector<double>& rewards);
  // At an epoch boundary: the prompts solved by every rollout become easy (skipped from now on).
  void end_epoch();
  bool easy(const std::string& prompt_id) const { return easy_.count(prompt_id) != 0; }
  const std::set<std::string>& easy_prompts() const { return easy_; }
  const std::set<std::string>& solved_this_epoch() const { return solved_; }
  void restore(std::set<std::string> easy, std::set<std::string> solved_this_epoch);

 private:
  std::set<std::string> easy_, solved_;
};

// Keeps the records whose pass rate in `path` (JSONL {"id", "pass_rate"}) is within
// [min_rate, max_rate]; records missing from the file are kept when `keep_unknown`.
std::vector<data::PromptRecord> filter_by_pass_rate(const std::vector<data::PromptRecord>& records,
                                                    const std::string& path, double min_rate,
                                                    double max_rate, bool keep_unknown = true);

}  // namespace acerl::rl
