// The code reward: extraction, sandboxed test runs on the worker pool, verdicts; see
// code_reward.h.
#include "reward/code_reward.h"

#include <atomic>
#include <optional>

#include "reward/code_extract.h"
#include "reward/code_pool.h"
#include "runtime/error.h"

namespace acerl::reward {
namespace {

SandboxLimits limits_of(const config::CodeRewardConfig& c) {
  SandboxLimits l;
  l.timeout_s = c.timeout_s;
  l.memory_mb = c.memory_mb;
  l.max_output_kb = c.max_output_kb;
  l.max_processes = c.max_processes;
  return l;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, end + 1 - start);
}

std::string failure_detail(const SandboxRun& run, const SandboxLimits& limits) {
  if (run.failure == "timeout")
    return str("no result within ", limits.timeout_s, " s wall clock (or CPU-time limit)");
  if (run.failure == "output_limit")
    return str("printed more than ", limits.max_output_kb, " KiB (or wrote a file too large)");
  if (run.failure == "memory") return str("ran out of its ", limits.memory_mb, " MiB");
  std::string line = last_line(run.err);
  if (!line.empty()) return excerpt(line, 160);
  if (run.signal != 0) return str("killed by signal ", run.signal);
  return str("exit status ", run.exit_code);
}

}  // namespace

CodeTestSet read_code_tests(const json::Value& tests, const std::string& source) {
  CodeTestSet set;
  try {
    set.tests = parse_code_tests(tests, source);
  } catch (const UsageError& e) {
    set.error = e.what();
  }
  return set;
}

TestOutcome run_code_test(const Sandbox& sandbox, const std::string& program,
                          const CodeTest& test) {
  const bool call = test.kind == CodeTest::Kind::call;
  SandboxRun run =
      sandbox.run(program, call ? "call" : "stdio", call ? call_request(test) : test.input);
  if (!run.failure.empty()) return {run.failure, failure_detail(run, sandbox.limits())};
  if (!call) {
    if (stdout_matches(run.out, test.output)) return {};
    return {"wrong_answer",
            str("expected '", excerpt(test.output), "', got '", excerpt(run.out), "'")};
  }
  json::Value result;
  try {
    result = json::parse(run.out, "result");
  } catch (const UsageError&) {
    return {"wrong_answer", str("the call returned no JSON result: '", excerpt(run.out), "'")};
  }
  if (json_matches(result, test.expected)) return {};
  return {"wrong_answer", str("expected ", excerpt(json::dump(test.expected)), ", got ",
                              excerpt(json::dump(result)))};
}

CodeReward::CodeReward(const config::CodeRewardConfig& config)
    : config_(config),
      sandbox_(std::make_unique<Sandbox>(config.python, config.sandbox, limits_of(config),
                                         config.allow_unsafe, config.prestart)),
      pool_(std::make_unique<CodeWorkerPool>(config.workers)) {}

CodeReward::~CodeReward() = default;

int CodeReward::workers() const { return pool_->size(); }

std::vector<CodeVerdict> CodeReward::score(const std::vector<CodeSubmission>& batch) {
  struct Job {
    size_t submission, test;
  };
  std::vector<CodeVerdict> verdicts(batch.size());
  std::vector<std::optional<std::string>> programs(batch.size());
  std::vector<Job> jobs;
  for (size_t i = 0; i < batch.size(); ++i) {
    const CodeTestSet& set = *batch[i].tests;
    verdicts[i].total = static_cast<int>(set.tests.size());
    if (!set.error.empty()) {
      verdicts[i].reason = "bad_tests";
      verdicts[i].detail = set.error;
      continue;
    }
    programs[i] = extract_python_code(batch[i].response);
    if (!programs[i]) {
      verdicts[i].reason = "no_code";
      verdicts[i].detail = "no ```python block after </think>";
      continue;
    }
    for (size_t t = 0; t < set.tests.size(); ++t) jobs.push_back({i, t});
  }

  // Jobs start in index order, so a test skipped after a failure always comes after a test that
  // ran and failed: the lowest failing test, hence the reason, does not depend on timing.
  std::vector<TestOutcome> outcomes(jobs.size());
  std::vector<char> ran(jobs.size(), 0);
  std::unique_ptr<std::atomic<bool>[]> failed(new std::atomic<bool>[batch.size()]);
  for (size_t i = 0; i < batch.size(); ++i) failed[i] = false;
  pool_->run(jobs.size(), [&](size_t j) {
    const Job& job = jobs[j];
    if (config_.stop_at_first_failure && failed[job.submission]) return;
    outcomes[j] = run_code_test(*sandbox_, *programs[job.submission],
                                batch[job.submission].tests->tests[job.test]);
    ran[j] = 1;
    if (!outcomes[j].failure.empty()) failed[job.submission] = true;
  });

  for (size_t j = 0; j < jobs.size(); ++j) {
    CodeVerdict& v = verdicts[jobs[j].submission];
    if (!ran[j]) continue;
    if (outcomes[j].failure.empty()) {
      ++v.passed;
    } else if (v.reason.empty()) {
      v.reason = outcomes[j].failure;
      v.detail = str("test ", jobs[j].test, ": ", outcomes[j].detail);
    }
  }
  for (auto& v : verdicts) {
    if (!v.reason.empty()) continue;
    v.reason = "correct";
    v.score = 1;
  }
  return verdicts;
}

CodeVerdict CodeReward::score(std::string_view response, const CodeTestSet& tests) {
  return score(std::vector<CodeSubmission>{{response, &tests}}).front();
}

}  // namespace acerl::reward
