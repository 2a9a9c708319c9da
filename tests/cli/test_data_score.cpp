// `acerl data score` on records whose verdicts are known by construction: math answers right,
// equivalent, wrong and missing; code that passes, fails and never compiles.
#include "support/catch.h"

#include <fstream>
#include <sstream>

#include "io/json.h"
#include "support/process.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

TEST_CASE("acerl data score adds score and reason to every record", "[cli]") {
  std::string dir = scratch_dir("data_score");
  std::ofstream(dir + "/in.jsonl")
      << R"({"id": 1, "type": "math", "response": "<think>2+2=4</think> so \\boxed{4}", "answer": "4"})"
         "\n"
      << R"({"id": 2, "type": "math", "response": "</think> \\boxed{\\dfrac{3}{4}}", "answer": "0.75"})"
         "\n"
      << R"({"id": 3, "type": "math", "response": "</think> \\boxed{0.67}", "answer": "\\frac{2}{3}"})"
         "\n"
      << R"({"id": 4, "type": "math", "response": "I give up", "answer": 12})"
         "\n"
      << R"({"id": 5, "type": "code", "response": "</think>\n```python\na, b = map(int, input().split())\nprint(a * b)\n```", "tests": [{"input": "3 4\n", "output": "12\n"}, {"input": "0 9\n", "output": "0\n"}]})"
         "\n"
      << R"({"id": 6, "type": "code", "response": "</think>\n```python\nprint(5)\n```", "tests": [{"input": "3 4\n", "output": "12\n"}]})"
         "\n"
      << R"({"id": 7, "type": "code", "response": "</think>\n```python\nprint(\n```", "tests": [{"input": "", "output": "1\n"}]})"
         "\n";
  auto r = run_process(quote(ACERL_EXE) + " data score --input " + quote(dir + "/in.jsonl") +
                       " --output " + quote(dir + "/out.jsonl"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(dir + "/out.jsonl");
  std::string line;
  std::vector<std::pair<double, std::string>> got;
  while (std::getline(in, line)) {
    json::Value v = json::parse(line, "out.jsonl");
    got.emplace_back(v.at("score").as_number(), v.at("reason").as_string());
  }
  std::vector<std::pair<double, std::string>> expected = {
      {1, "correct"}, {1, "correct"},      {0, "wrong"},        {0, "no_answer"},
      {1, "correct"}, {0, "wrong_answer"}, {0, "runtime_error"}};
  CHECK(got == expected);
  CHECK_THAT(r.err, Contains("math: mean score 0.5 over 4") &&
                        Contains("code: mean score 0.333333 over 3"));
}

TEST_CASE("acerl data score names the line of a bad record", "[cli]") {
  std::string dir = scratch_dir("data_score_bad");
  std::ofstream(dir + "/in.jsonl") << R"({"type": "math", "response": "\\boxed{1}", "answer": "1"})"
                                      "\n"
                                   << R"({"type": "poem", "response": "roses"})"
                                      "\n";
  auto r = run_process(quote(ACERL_EXE) + " data score --input " + quote(dir + "/in.jsonl"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("in.jsonl:2") && Contains("no reward for type \"poem\""));
}

TEST_CASE("acerl data score --help says what the command needs, and the command does it", "[cli]") {
  auto help = run_process(quote(ACERL_EXE) + " data score --help");
  REQUIRE(help.exit_code == 0);
  CHECK_THAT(help.out, Contains("score --input FILE"));
  CHECK_THAT(help.out, Contains("input file (tokenize: default standard"));
  CHECK_THAT(help.out, Contains("score: required)"));
  auto without = run_process("echo '{}' | " + quote(ACERL_EXE) + " data score");
  CHECK(without.exit_code == 2);
  CHECK_THAT(without.err, Contains("acerl data score: --input FILE is required"));
}
