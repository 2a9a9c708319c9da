// The quickstart's synthetic task; see synthetic_task.h.
#include "data/synthetic_task.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "config/sections.h"
#include "io/json.h"
#include "runtime/error.h"

namespace acerl::data {
namespace {

const char* const kNames[] = {"Ann", "Ben",  "Cleo", "Dan",  "Eva", "Finn",
                              "Gia", "Hugo", "Ivy",  "Jack", "Kai", "Lena"};
const char* const kItems[] = {"apples", "pens",    "coins", "stamps",
                              "books",  "marbles", "cards", "shells"};

struct Problem {
  std::string key;   // unique: no two splits share one
  std::string type;  // "math" or "code"
  std::string prompt;
  std::string answer;  // math
  json::Value tests;   // code
  std::vector<std::string> solutions;
};

std::string s(int64_t v) { return std::to_string(v); }

// One-operation word problems: "Ann has 3 apples and gets 4 more..." (a + b) or "... had 12 pens
// and lost 5..." (a - b), with two or three differently worded worked solutions.
Problem math_problem(std::mt19937_64& rng, double slip_rate) {
  std::uniform_int_distribution<int> name(0, 11), item(0, 7), digit(1, 9), form(0, 1);
  const std::string n = kNames[name(rng)], it = kItems[item(rng)];
  const bool add = form(rng) == 0;
  const int a = add ? digit(rng) : std::uniform_int_distribution<int>(2, 18)(rng);
  const int b = add ? digit(rng) : std::uniform_int_distribution<int>(1, a - 1)(rng);
  const int ans = add ? a + b : a - b;
  const std::string op = add ? " + " : " - ";
  Problem p;
  p.type = "math";
  p.key = std::string(add ? "a" : "s") + n + it + s(a) + "," + s(b);
  p.prompt =
      add ? n + " has " + s(a) + " " + it + " and gets " + s(b) + " more. How many " + it +
                " does " + n + " have now?"
          : n + " had " + s(a) + " " + it + " and lost " + s(b) + ". How many " + it + " are left?";
  p.answer = s(ans);
  // The teacher slips now and then, as distilled data does: its reasoning is right but the boxed
  // answer is off by one or two. SFT copies the slips; the verifiable reward of RL removes them.
  auto boxed = [&] {
    if (!std::bernoulli_distribution(slip_rate)(rng)) return ans;
    const int delta = std::uniform_int_distribution<int>(0, 3)(rng);
    const int wrong = ans + (delta < 2 ? delta - 2 : delta - 1);  // -2, -1, +1, +2
    return wrong < 0 ? ans + 1 : wrong;
  };
  p.solutions.push_back("<think>\n" + s(a) + op + s(b) + " = " + s(ans) +
                        ".\n</think>\nThe answer is \\boxed{" + s(boxed()) + "}.");
  p.solutions.push_back("<think>\n" + n + " starts with " + s(a) + " " + it +
                        (add ? " and gets " : " and loses ") + s(b) + ": " + s(a) + op + s(b) +
                        " = " + s(ans) + ".\n</think>\n" + n + " has \\boxed{" + s(boxed()) + "} " +
                        it + ".");
  return p;
}

struct CodeOp {
  const char* description;  // with %K for the constant
  const char* expression;   // Python, with K
  int64_t (*value)(int64_t a, int64_t b, int64_t k);
};

const CodeOp kOps[] = {
    {"the sum of the two numbers plus K", "a + b + K",
     [](int64_t a, int64_t b, int64_t k) { return a + b + k; }},
    {"the product of the two numbers plus K", "a * b + K",
     [](int64_t a, int64_t b, int64_t k) { return a * b + k; }},
    {"the larger number plus K", "max(a, b) + K",
     [](int64_t a, int64_t b, int64_t k) { return std::max(a, b) + k; }},
    {"the smaller number times K", "min(a, b) * K",
     [](int64_t a, int64_t b, int64_t k) { return std::min(a, b) * k; }},
    {"the difference a - b times K", "(a - b) * K",
     [](int64_t a, int64_t b, int64_t k) { return (a - b) * k; }},
};

std::string with_k(std::string text, int64_t k) {
  for (size_t at = text.find('K'); at != std::string::npos; at = text.find('K', at))
    text.replace(at, 1, s(k));
  return text;
}

Problem code_problem(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> op_dist(0, 4), k_dist(1, 99), form(0, 1), value(-20, 40);
  const CodeOp& op = kOps[op_dist(rng)];
  const int k = k_dist(rng), f = form(rng);
  Problem p;
  p.type = "code";
  p.key = "c" + s(f) + op.expression + s(k);
  const std::string what = with_k(op.description, k);
  p.prompt = f == 0 ? "Write a program that reads two integers a and b from one line and prints " +
                          what + "."
                    : "Read two integers a and b from standard input and output " + what + ".";
  const std::string expression = with_k(op.expression, k);
  const std::string program = "a, b = map(int, input().split())\nprint(" + expression + ")";
  p.solutions.push_back("<think>\nRead a and b, then print " + expression +
                        ".\n</think>\n```python\n" + program + "\n```");
  p.solutions.push_back("<think>\nThe output is " + what + ", that is " + expression +
                        ".\n</think>\n```python\n" + program + "\n```");
  json::Value tests = json::Array{};
  for (int t = 0; t < 3; ++t) {
    const int64_t a = value(rng), b = value(rng);
    json::Value test;
    test.set("input", s(a) + " " + s(b) + "\n");
    test.set("output", s(op.value(a, b, k)) + "\n");
    tests.push_back(test);
  }
  p.tests = tests;
  return p;
}

// `count` problems whose keys are not in `used`, math and code mixed by `code_fraction`.
std::vector<Problem> draw(std::mt19937_64& rng, int64_t count, double code_fraction, double slip_rate,
                          std::vector<std::string>& used) {
  std::vector<Problem> out;
  std::bernoulli_distribution code(code_fraction);
  int64_t attempts = 0;
  while (static_cast<int64_t>(out.size()) < count) {
    ACERL_CHECK(++attempts < count * 1000, "the synthetic task ran out of distinct problems");
    Problem p = code(rng) ? code_problem(rng) : math_problem(rng, slip_rate);
    if (std::find(used.begin(), used.end(), p.key) != used.end()) continue;
    used.push_back(p.key);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

SynthCounts write_synthetic_task(const std::string& dir, const SynthOptions& o) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(o.seed);
  std::vector<std::string> used;
  // Held-out problems are drawn first so that no training split can take them.
  auto eval = draw(rng, o.eval_prompts, o.code_fraction, 0.0, used);
  auto rl = draw(rng, o.rl_prompts, o.code_fraction, 0.0, used);
  auto sft = draw(rng, o.sft_prompts, o.code_fraction, o.slip_rate, used);
  std::ofstream corpus((std::filesystem::path(dir) / "corpus.txt").string());
  // The chat template's fixed texts, so a tokenizer trained on the corpus covers them too.
  const config::ChatConfig chat;
  for (int i = 0; i < 20; ++i)
    corpus << chat.system << "\n" << chat.math_instruction << "\n" << chat.code_instruction << "\n";
  auto record = [](const Problem& p, const std::string& id) {
    json::Value v;
    v.set("id", id);
    v.set("type", p.type);
    v.set("prompt", p.prompt);
    if (p.type == "math") v.set("answer", p.answer);
    if (p.type == "code") v.set("tests", p.tests);
    return v;
  };
  SynthCounts counts;
  {
    std::ofstream out((std::filesystem::path(dir) / "sft.jsonl").string());
    for (size_t i = 0; i < sft.size(); ++i) {
      const Problem& p = sft[i];
      for (size_t k = 0; k < p.solutions.size() && static_cast<int64_t>(k) < o.solutions_per_prompt;
           ++k) {
        json::Value v = record(p, "sft-" + s(static_cast<int64_t>(i)));
        v.set("response", p.solutions[k]);
        out << json::dump(v) << "\n";
        corpus << p.prompt << "\n" << p.solutions[k] << "\n";
        ++counts.sft;
      }
    }
  }
  for (const auto& [name, problems] : {std::make_pair("rl", &rl), std::make_pair("eval", &eval)}) {
    std::ofstream out((std::filesystem::path(dir) / (std::string(name) + ".jsonl")).string());
    for (size_t i = 0; i < problems->size(); ++i) {
      out << json::dump(
                 record((*problems)[i], std::string(name) + "-" + s(static_cast<int64_t>(i))))
          << "\n";
      corpus << (*problems)[i].prompt << "\n";
    }
    (std::string(name) == "rl" ? counts.rl : counts.eval) = static_cast<int64_t>(problems->size());
  }
  return counts;
}

}  // namespace acerl::data
