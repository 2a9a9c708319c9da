// defines: RewardRegistry, the reward interface of RL, evaluation and `acerl data score`: one
// scoring function per task type ("math", "code"), looked up by the record's "type", each
// returning a score and a reason; and ReasonCounts, the tally of reasons that traces record.
// Batches are scored together so code runs fill the sandbox worker pool.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/sections.h"
#include "io/json.h"

namespace acerl::reward {

class CodeReward;

struct RewardRequest {
  std::string type;                     // "math" or "code"
  std::string_view response;            // the generated text
  const json::Value* answer = nullptr;  // math reference
  const json::Value* tests = nullptr;   // code test cases
  std::string source;                   // for messages: "file:line" of the record
};

struct RewardResult {
  double score = 0;
  std::string
      reason;  // math: correct | wrong | no_answer | unparsable; code: correct | wrong_answer | ...
  std::string detail;
};

class RewardRegistry {
 public:
  using Scorer = std::function<std::vector<RewardResult>(const std::vector<const RewardRequest*>&)>;
  // "math" (check_math with [reward.math]) and "code" (sandbox with [reward.code]); the code
  // worker pool starts on first use.
  RewardRegistry(const config::MathRewardConfig& math, const config::CodeRewardConfig& code);
  ~RewardRegistry();
  // Adds or replaces the scorer of a task type.
  void add(const std::string& type, Scorer scorer);
  // Scores every request with the scorer of its type; an unknown type is a UsageError naming it
  // and the source.
  std::vector<RewardResult> score(const std::vector<RewardRequest>& requests);
  std::vector<std::string> types() const;

 private:
  std::map<std::string, Scorer> scorers_;
  config::CodeRewardConfig code_config_;
  std::unique_ptr<CodeReward> code_;
};

// Counts of reward reasons per task type: {"math": {"correct": 12, "wrong": 3}, ...}.
class ReasonCounts {
 public:
  void add(const std::string& type, const std::string& reason) { ++counts_[type][reason]; }
  const std::map<std::string, std::map<std::string, int64_t>>& counts() const { return counts_; }
  // Flat names for traces: "math/correct" -> 12.
  std::vector<std::pair<std::string, double>> flat() const;

 private:
  std::map<std::string, std::map<std::string, int64_t>> counts_;
};

}  // namespace acerl::reward
