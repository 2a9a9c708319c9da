// Prompt and rollout filters; see filters.h.
#include "rl/filters.h"

#include <map>

#include "data/jsonl.h"
#include "runtime/error.h"

namespace acerl::rl {

std::vector<bool> zero_variance_groups(const std::vector<std::vector<double>>& rewards) {
  std::vector<bool> out;
  for (const auto& group : rewards) {
    bool same = true;
    for (double r : group) same = same && r == group.front();
    out.push_back(same);
  }
  return out;
}

void EasyPromptFilter::observe(const std::string& prompt_id, const std::vector<double>& rewards) {
  bool all = !rewards.empty();
  for (double r : rewards) all = all && r > 0;
  if (all) solved_.insert(prompt_id);
}

void EasyPromptFilter::end_epoch() {
  easy_.insert(solved_.begin(), solved_.end());
  solved_.clear();
}

void EasyPromptFilter::restore(std::set<std::string> easy,
                               std::set<std::string> solved_this_epoch) {
  easy_ = std::move(easy);
  solved_ = std::move(solved_this_epoch);
}

std::vector<data::PromptRecord> filter_by_pass_rate(const std::vector<data::PromptRecord>& records,
                                                    const std::string& path, double min_rate,
                                                    double max_rate, bool keep_unknown) {
  std::map<std::string, double> rates;
  data::read_jsonl(path, false, [&](const json::Value& v, const std::string& where) {
    const json::Value* id = v.find("id");
    const json::Value* rate = v.find("pass_rate");
    ACERL_USAGE_CHECK(id && (id->is_string() || id->is_int()), where, ": \"id\" is required");
    ACERL_USAGE_CHECK(rate && rate->is_number() && rate->as_number() >= 0 && rate->as_number() <= 1,
                      where, ": \"pass_rate\" must be a number in [0, 1]");
    rates[id->is_string() ? id->as_string() : std::to_string(id->as_int())] = rate->as_number();
  });
  std::vector<data::PromptRecord> out;
  for (const auto& r : records) {
    auto it = rates.find(r.id);
    if (it == rates.end() ? keep_unknown : (it->second >= min_rate && it->second <= max_rate))
      out.push_back(r);
  }
  return out;
}

}  // namespace acerl::rl
