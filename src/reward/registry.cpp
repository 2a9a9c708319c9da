// Reward registry; see registry.h.
#include "reward/registry.h"

#include "reward/code_reward.h"
#include "reward/math_answer.h"
#include "runtime/error.h"

namespace acerl::reward {

RewardRegistry::RewardRegistry(const config::MathRewardConfig& math,
                               const config::CodeRewardConfig& code)
    : code_config_(code) {
  MathCheckOptions options;
  options.rel_tol = math.rel_tol;
  options.max_answer_chars = static_cast<size_t>(math.max_answer_chars);
  add("math", [options](const std::vector<const RewardRequest*>& batch) {
    std::vector<RewardResult> out;
    for (const RewardRequest* r : batch) {
      const json::Value& answer = *r->answer;
      std::string reference = answer.is_string() ? answer.as_string() : json::dump(answer);
      MathVerdict v = check_math(r->response, reference, options);
      out.push_back({v.score, v.reason, v.extracted});
    }
    return out;
  });
  add("code", [this](const std::vector<const RewardRequest*>& batch) {
    if (!code_) code_ = std::make_unique<CodeReward>(code_config_);
    std::vector<CodeTestSet> sets;
    sets.reserve(batch.size());
    for (const RewardRequest* r : batch) sets.push_back(read_code_tests(*r->tests, r->source));
    std::vector<CodeSubmission> submissions;
    for (size_t i = 0; i < batch.size(); ++i) submissions.push_back({batch[i]->response, &sets[i]});
    std::vector<RewardResult> out;
    for (const CodeVerdict& v : code_->score(submissions))
      out.push_back({v.score, v.reason, v.detail});
    return out;
  });
}

RewardRegistry::~RewardRegistry() = default;

void RewardRegistry::add(const std::string& type, Scorer scorer) {
  scorers_[type] = std::move(scorer);
}

std::vector<std::string> RewardRegistry::types() const {
  std::vector<std::string> out;
  for (const auto& [type, scorer] : scorers_) out.push_back(type);
  return out;
}

std::vector<RewardResult> RewardRegistry::score(const std::vector<RewardRequest>& requests) {
  std::map<std::string, std::vector<size_t>> by_type;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RewardRequest& r = requests[i];
    ACERL_USAGE_CHECK(scorers_.count(r.type), r.source, ": no reward for type \"", r.type,
                      "\" (known: math, code)");
    if (r.type == "math")
      ACERL_USAGE_CHECK(r.answer && (r.answer->is_string() || r.answer->is_number()), r.source,
                        ": a math record needs \"answer\" (a string or a number)");
    if (r.type == "code")
      ACERL_USAGE_CHECK(r.tests && !r.tests->is_null(), r.source,
                        ": a code record needs \"tests\"");
    by_type[r.type].push_back(i);
  }
  std::vector<RewardResult> out(requests.size());
  for (const auto& [type, indices] : by_type) {
    std::vector<const RewardRequest*> batch;
    for (size_t i : indices) batch.push_back(&requests[i]);
    std::vector<RewardResult> results = scorers_.at(type)(batch);
    for (size_t k = 0; k < indices.size(); ++k) out[indices[k]] = std::move(results[k]);
  }
  return out;
}

std::vector<std::pair<std::string, double>> ReasonCounts::flat() const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [type, reasons] : counts_)
    for (const auto& [reason, n] : reasons)
      out.emplace_back(type + "/" + reason, static_cast<double>(n));
  return out;
}

}  // namespace acerl::reward
