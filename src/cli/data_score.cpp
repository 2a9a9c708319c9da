// `acerl data score`; see data_score.h.
#include "cli/data_score.h"

#include <fstream>
#include <iostream>

#include "data/jsonl.h"
#include "reward/registry.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace acerl::cli {
namespace {

constexpr size_t kBatch = 512;  // records scored together (code runs fill the worker pool)

struct Pending {
  json::Value record;
  std::string where;
};

void flush(std::vector<Pending>& pending, reward::RewardRegistry& registry,
           reward::ReasonCounts& reasons, std::map<std::string, std::pair<double, int64_t>>& totals,
           std::ostream& out) {
  std::vector<reward::RewardRequest> requests;
  for (const auto& p : pending) {
    const json::Value* type = p.record.find("type");
    const json::Value* response = p.record.find("response");
    ACERL_USAGE_CHECK(type && type->is_string(), p.where,
                      ": \"type\" (\"math\" or \"code\") is required");
    ACERL_USAGE_CHECK(response && response->is_string(), p.where,
                      ": \"response\" (a string) is required");
    requests.push_back({type->as_string(), response->as_string(), p.record.find("answer"),
                        p.record.find("tests"), p.where});
  }
  std::vector<reward::RewardResult> results = registry.score(requests);
  for (size_t i = 0; i < pending.size(); ++i) {
    json::Value record = pending[i].record;
    record.set("score", results[i].score);
    record.set("reason", results[i].reason);
    if (!results[i].detail.empty()) record.set("reward_detail", results[i].detail);
    out << json::dump(record) << "\n";
    reasons.add(requests[i].type, results[i].reason);
    auto& [sum, n] = totals[requests[i].type];
    sum += results[i].score;
    ++n;
  }
  pending.clear();
}

}  // namespace

int run_score(MpiRuntime& runtime, Invocation& inv) {
  if (runtime.rank() != 0)
    return 0;  // an offline tool: one process scores (code runs use the worker pool)
  ACERL_USAGE_CHECK(inv.flags.count("input"), "acerl data score: --input FILE is required");
  const std::string input = inv.flags["input"].as<std::string>();
  std::ofstream file;
  if (inv.flags.count("output")) {
    file.open(inv.flags["output"].as<std::string>(), std::ios::trunc);
    ACERL_USAGE_CHECK(file.good(), "cannot write '", inv.flags["output"].as<std::string>(), "'");
  }
  std::ostream& out = file.is_open() ? static_cast<std::ostream&>(file) : std::cout;
  reward::RewardRegistry registry(inv.config.math_reward, inv.config.code_reward);
  reward::ReasonCounts reasons;
  std::map<std::string, std::pair<double, int64_t>> totals;
  std::vector<Pending> pending;
  data::JsonlStats stats =
      data::read_jsonl(input, false, [&](const json::Value& record, const std::string& where) {
        pending.push_back({record, where});
        if (pending.size() >= kBatch) flush(pending, registry, reasons, totals, out);
      });
  flush(pending, registry, reasons, totals, out);
  std::string summary = str("scored ", stats.records, " records from ", input);
  for (const auto& [type, total] : totals) {
    summary += str("\n  ", type, ": mean score ", total.first / static_cast<double>(total.second),
                   " over ", total.second);
    for (const auto& [reason, n] : reasons.counts().at(type)) summary += str(", ", reason, " ", n);
  }
  std::cerr << summary << std::endl;
  return 0;
}

}  // namespace acerl::cli
