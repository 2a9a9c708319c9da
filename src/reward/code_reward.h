// defines: CodeReward, the code reward of the recipe: 1 when the last ```python block after
// </think> passes every test case within the limits, else 0; CodeVerdict says why. Entry point
// of the code side of reward/: response text + problem tests -> extract (code_extract.h) ->
// sandboxed runs on a worker pool (code_sandbox.h, code_pool.h) -> comparison (code_tests.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/sections.h"
#include "io/json.h"
#include "reward/code_sandbox.h"
#include "reward/code_tests.h"

namespace acerl::reward {

struct CodeVerdict {
  double score = 0;  // 1 or 0
  // "correct", "wrong_answer", "runtime_error", "timeout", "memory", "output_limit", "no_code",
  // "bad_tests": for a failure, that of the lowest-numbered failing test.
  std::string reason;
  int passed = 0;  // tests that ran and passed (with stop_at_first_failure, later ones do not run)
  int total = 0;
  std::string detail;  // which test failed and how, for logs; "" when correct
};

// The tests of one problem, read once and shared by all of its rollouts. `error` non-empty: the
// tests could not be read, and every response to the problem gets verdict bad_tests.
struct CodeTestSet {
  std::vector<CodeTest> tests;
  std::string error;
};
// Never throws for bad test data: that becomes CodeTestSet::error.
CodeTestSet read_code_tests(const json::Value& tests, const std::string& source);

struct CodeSubmission {
  std::string_view response;  // the whole generated text
  const CodeTestSet* tests;
};

class CodeReward {
 public:
  // Probes the sandbox (see Sandbox) and starts reward.code.workers threads.
  explicit CodeReward(const config::CodeRewardConfig& config);
  ~CodeReward();

  const Sandbox& sandbox() const { return *sandbox_; }
  int workers() const;

  // All test runs of the batch share the pool, so G rollouts x T tests keep every worker busy.
  std::vector<CodeVerdict> score(const std::vector<CodeSubmission>& batch);
  CodeVerdict score(std::string_view response, const CodeTestSet& tests);

 private:
  config::CodeRewardConfig config_;
  std::unique_ptr<Sandbox> sandbox_;
  std::unique_ptr<class CodeWorkerPool> pool_;
};

// The verdict of one test run: "" when passed, else a CodeVerdict reason; `detail` says how.
struct TestOutcome {
  std::string failure;
  std::string detail;
};
// Runs `program` on `test` in the sandbox and compares its output.
TestOutcome run_code_test(const Sandbox& sandbox, const std::string& program, const CodeTest& test);

}  // namespace acerl::reward
