// Code reward end to end: responses with correct and wrong programs on stdin/stdout and
// function-call tests, verdict reasons, the worker pool, and the rlimit fallback.
#include "support/catch.h"

#include <atomic>
#include <set>
#include <thread>

#include "reward/code_pool.h"
#include "reward/code_reward.h"

using namespace acerl;
using namespace acerl::reward;

namespace {

config::CodeRewardConfig test_config(const std::string& sandbox = "auto", int workers = 2) {
  config::CodeRewardConfig c;
  c.workers = workers;
  c.timeout_s = 2;
  c.memory_mb = 512;
  c.max_output_kb = 64;
  c.sandbox = sandbox;
  c.allow_unsafe = sandbox == "rlimit";  // the fallback must be asked for explicitly
  return c;
}

std::string response(const std::string& code) {
  return "<think>\nLet me think.\n</think>\nHere is my solution:\n```python\n" + code + "```\n";
}

CodeTestSet tests(const char* json_text) {
  CodeTestSet set = read_code_tests(json::Value(std::string(json_text)), "problem");
  REQUIRE(set.error == "");
  return set;
}

const char* kSumTests =
    R"([{"input": "1 2\n", "output": "3\n"}, {"input": "10 -4\n", "output": "6"},
        {"input": "1000000000000 1000000000000\n", "output": "2000000000000\n"}])";

}  // namespace

TEST_CASE("stdin/stdout problems: correct, wrong, crashing and slow programs", "[code]") {
  CodeReward reward(test_config());
  CodeTestSet set = tests(kSumTests);

  CodeVerdict ok = reward.score(response("a, b = map(int, input().split())\nprint(a + b)\n"), set);
  CHECK(ok.score == 1);
  CHECK(ok.reason == "correct");
  CHECK(ok.passed == 3);
  CHECK(ok.total == 3);
  CHECK(ok.detail == "");

  // Right on the first two tests only: the third overflows a 32-bit wrap-around.
  CodeVerdict wrong = reward.score(
      response("a, b = map(int, input().split())\nprint((a + b + 2**31) % 2**32 - 2**31)\n"), set);
  CHECK(wrong.score == 0);
  CHECK(wrong.reason == "wrong_answer");
  CHECK(wrong.detail.find("test 2: expected '2000000000000\\n'") == 0);

  CodeVerdict crash = reward.score(response("print(1 / 0)\n"), set);
  CHECK(crash.reason == "runtime_error");
  CHECK(crash.detail == "test 0: ZeroDivisionError: division by zero");

  CodeVerdict slow = reward.score(response("while True:\n    pass\n"), set);
  CHECK(slow.reason == "timeout");
  CHECK(slow.score == 0);
}

TEST_CASE("float answers pass within 1e-6 and fail beyond", "[code]") {
  CodeReward reward(test_config());
  CodeTestSet set = tests(R"([{"input": "2\n", "output": "0.333333333333\n"},
                              {"input": "3\n", "output": "0.25\n"}])");
  // 1 / (n + 1) printed with 7 digits: off by < 5e-8.
  CHECK(reward.score(response("n = int(input())\nprint(f'{1 / (n + 1):.7f}')\n"), set).score == 1);
  // With 3 digits: off by 3.3e-4.
  CodeVerdict coarse =
      reward.score(response("n = int(input())\nprint(f'{1 / (n + 1):.3f}')\n"), set);
  CHECK(coarse.reason == "wrong_answer");
}

TEST_CASE("function-call problems: Solution methods, plain functions, keyword args", "[code]") {
  CodeReward reward(test_config());
  CodeTestSet two_sum = tests(R"([
      {"fn_name": "twoSum", "args": [[2, 7, 11, 15], 9], "expected": [0, 1]},
      {"fn_name": "twoSum", "args": [[3, 2, 4], 6], "expected": [1, 2]}])");
  const char* solution = R"(class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
        print("debug output goes to stderr, not into the result")
)";
  CodeVerdict ok = reward.score(response(solution), two_sum);
  INFO(ok.detail);
  CHECK(ok.reason == "correct");
  CHECK(ok.passed == 2);

  // A tuple result is the same JSON array.
  CHECK(reward
            .score(response("def twoSum(nums, target):\n"
                            "    return next((i, j) for i in range(len(nums))\n"
                            "                for j in range(i + 1, len(nums))\n"
                            "                if nums[i] + nums[j] == target)\n"),
                   two_sum)
            .reason == "correct");
  CodeVerdict reversed = reward.score(
      response("class Solution:\n    def twoSum(self, nums, target):\n        return [1, 0]\n"),
      two_sum);
  CHECK(reversed.reason == "wrong_answer");
  CHECK(reversed.detail == "test 0: expected [0,1], got [1,0]");

  CodeVerdict missing = reward.score(response("def other():\n    pass\n"), two_sum);
  CHECK(missing.reason == "runtime_error");
  CHECK(missing.detail.find("neither Solution.twoSum nor twoSum") != std::string::npos);

  CodeTestSet area =
      tests(R"([{"fn_name": "area", "args": {"r": 2.0}, "expected": 12.566370614359172},
                               {"fn_name": "area", "args": {"r": 0}, "expected": 0}])");
  CHECK(reward.score(response("def area(r):\n    return round(pi * r * r, 9)\n"), area).score == 1);
  CHECK(reward.score(response("def area(r):\n    return 3.14 * r * r\n"), area).reason ==
        "wrong_answer");
  CHECK(reward.score(response("def area(r):\n    return object()\n"), area).reason ==
        "runtime_error");
}

TEST_CASE("no code, bad tests, and every reason of a batch", "[code]") {
  CodeReward reward(test_config());
  CodeTestSet set = tests(R"([{"input": "", "output": "hi\n"}])");
  CodeTestSet bad = read_code_tests(json::Value(std::string("[{\"input\": 3}]")), "problem 7");
  CHECK(bad.error.find("problem 7: test 0") != std::string::npos);

  std::vector<std::string> responses = {
      response("print('hi')\n"),
      "<think>```python\nprint('hi')\n```</think> I don't know.",
      response("print('ho')\n"),
      response("import time\ntime.sleep(30)\n"),
      response("x = bytearray(2 << 30)\n"),
      response("while True:\n    print('spam' * 1000)\n"),
      response("print('hi')\n"),
  };
  std::vector<CodeSubmission> batch;
  for (size_t i = 0; i < responses.size(); ++i)
    batch.push_back({responses[i], i == 6 ? &bad : &set});
  std::vector<CodeVerdict> v = reward.score(batch);
  std::vector<std::string> reasons;
  for (const auto& x : v) reasons.push_back(x.reason);
  CHECK(reasons == std::vector<std::string>{"correct", "no_code", "wrong_answer", "timeout",
                                            "memory", "output_limit", "bad_tests"});
  CHECK(v[0].score == 1);
  for (size_t i = 1; i < v.size(); ++i) CHECK(v[i].score == 0);
  CHECK(v[6].total == 0);
}

TEST_CASE("stop at first failure skips the rest; off, every test runs", "[code]") {
  std::string many = "[";
  for (int i = 0; i < 8; ++i)
    many += std::string(i ? "," : "") + R"({"input": ")" + std::to_string(i) +
            R"(\n", "output": ")" + std::to_string(i * i) + R"(\n"})";
  many += "]";
  CodeTestSet set = tests(many.c_str());
  // Squares correctly except for input 1 (test 1).
  std::string program = response("n = int(input())\nprint(n * n if n != 1 else 0)\n");
  config::CodeRewardConfig all = test_config("auto", 1);
  all.stop_at_first_failure = false;
  CodeVerdict full = CodeReward(all).score(program, set);
  CHECK(full.reason == "wrong_answer");
  CHECK(full.passed == 7);
  CHECK(full.detail.find("test 1:") == 0);
  CodeVerdict stopped = CodeReward(test_config("auto", 1)).score(program, set);
  CHECK(stopped.reason == "wrong_answer");
  CHECK(stopped.passed == 1);  // one worker: test 0 passed, test 1 failed, the rest skipped
  CHECK(stopped.detail.find("test 1:") == 0);
}

TEST_CASE("the rlimit fallback scores like the sandbox", "[code]") {
  CodeReward reward(test_config("rlimit"));
  REQUIRE(reward.sandbox().mode() == SandboxMode::rlimit);
  CodeTestSet set = tests(kSumTests);
  CHECK(reward.score(response("a, b = map(int, input().split())\nprint(a + b)\n"), set).score == 1);
  CHECK(reward.score(response("print(3)\n"), set).reason == "wrong_answer");
  CHECK(reward.score(response("import time\ntime.sleep(30)\n"), set).reason == "timeout");
}

TEST_CASE("worker pool: every job once, at most `workers` at a time, errors rethrown", "[code]") {
  CodeWorkerPool pool(3);
  CHECK(pool.size() == 3);
  std::atomic<int> running{0}, peak{0};
  std::vector<int> seen(50, 0);
  pool.run(seen.size(), [&](size_t i) {
    int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ++seen[i];
    --running;
  });
  CHECK(std::set<int>(seen.begin(), seen.end()) == std::set<int>{1});
  CHECK(peak.load() <= 3);
  CHECK(peak.load() >= 2);
  CHECK_THROWS_WITH(pool.run(5,
                             [](size_t i) {
                               if (i == 3) throw std::runtime_error("job 3 failed");
                             }),
                    "job 3 failed");
  pool.run(0, [](size_t) {});
}

TEST_CASE("[reward.code] keys load, and bad values name the key", "[code]") {
  using Catch::Matchers::Contains;
  config::Schema schema;
  config::CodeRewardConfig c;
  config::describe_code_reward(schema, c);
  schema.load({{"reward.code.workers", "3", "r.ini:2"},
               {"reward.code.timeout_s", "2.5", "r.ini:3"},
               {"reward.code.sandbox", "rlimit", "r.ini:4"}});
  CHECK(c.workers == 3);
  CHECK(c.timeout_s == 2.5);
  CHECK(c.sandbox == "rlimit");
  CHECK(c.python == "/usr/bin/python3");
  config::Schema again;
  config::CodeRewardConfig d;
  config::describe_code_reward(again, d);
  CHECK_THROWS_WITH(again.load({{"reward.code.sandbox", "docker", "r.ini:7"}}),
                    Contains("r.ini:7") && Contains("reward.code.sandbox"));
}
