// The quickstart's synthetic task; see synthetic_task.h.
#include "data/synthetic_task.h"

#include <algorithm>
#include <cctype>
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

// The story of a math problem, a + b ("Ann has 3 apples and gets 4 more...") or a - b ("... had
// 12 pens and lost 5..."), with its answer; `tag` starts the key, which tells the task's
// variants apart.
Problem word_problem(bool add, const std::string& n, const std::string& it, int a, int b,
                     const char* tag) {
  Problem p;
  p.type = "math";
  p.key = tag + n + it + s(a) + "," + s(b);
  p.prompt =
      add ? n + " has " + s(a) + " " + it + " and gets " + s(b) + " more. How many " + it +
                " does " + n + " have now?"
          : n + " had " + s(a) + " " + it + " and lost " + s(b) + ". How many " + it + " are left?";
  p.answer = s(add ? a + b : a - b);
  return p;
}

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
  Problem p = word_problem(add, n, it, a, b, add ? "a" : "s");
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

// Two-digit problems (SynthOptions::digits == 2): the same two stories with operands 10..99,
// and up to four worked solutions by different methods (column, tens then ones, split into tens
// and ones, compensation or counting up), each a chain of small steps. A teacher slip changes one
// step's result by one and the rest of that chain follows from the wrong value, so the boxed
// answer is wrong but consistent with the reasoning shown.
struct Chain {
  int slipped = -1, delta = 0;  // which step slips (-1: none), and by how much
  int step = 0;
  int operator()(int value) {  // the result of the next step, as the teacher writes it
    const int written = step++ == slipped ? value + delta : value;
    return written < 0 ? value + 1 : written;
  }
};

std::string addition_solution(int method, int a, int b, Chain& c) {
  const int at = a / 10, ao = a % 10, bt = b / 10, bo = b % 10;
  const std::string sa = s(a), sb = s(b);
  switch (method) {
    case 0: {  // column: ones, then tens with the carry
      const int ones = c(ao + bo);
      const int carry = ones / 10;
      const int tens = c(at + bt + carry);
      const int r = tens * 10 + ones % 10;
      return sa + " + " + sb + ": " + s(ao) + " + " + s(bo) + " = " + s(ones) + ", " + s(at) +
             " + " + s(bt) + (carry ? " + " + s(carry) : "") + " = " + s(tens) + ", so " + s(r) +
             ".";
    }
    case 1: {  // add the tens of b, then its ones
      const int x = c(a + bt * 10);
      const int r = c(x + bo);
      return sa + " + " + s(bt * 10) + " = " + s(x) + ". " + s(x) + " + " + s(bo) + " = " + s(r) +
             ".";
    }
    case 2: {  // tens and ones apart
      const int tens = c(at * 10 + bt * 10);
      const int ones = c(ao + bo);
      const int r = c(tens + ones);
      return s(at * 10) + " + " + s(bt * 10) + " = " + s(tens) + ". " + s(ao) + " + " + s(bo) +
             " = " + s(ones) + ". " + s(tens) + " + " + s(ones) + " = " + s(r) + ".";
    }
    default: {  // round b up to the next ten, then give back the difference (b % 10 != 0)
      const int up = (bt + 1) * 10, back = up - b;
      const int x = c(a + up);
      const int r = c(x - back);
      return sb + " = " + s(up) + " - " + s(back) + ". " + sa + " + " + s(up) + " = " + s(x) +
             ". " + s(x) + " - " + s(back) + " = " + s(r) + ".";
    }
  }
}

std::string subtraction_solution(int method, int a, int b, Chain& c) {
  const int at = a / 10, ao = a % 10, bt = b / 10, bo = b % 10;
  const std::string sa = s(a), sb = s(b);
  switch (method) {
    case 0: {  // column, borrowing a ten when the ones do not suffice
      const bool borrow = ao < bo;
      const int ones = c((borrow ? ao + 10 : ao) - bo);
      const int tens = c((borrow ? at - 1 : at) - bt);
      const int r = tens * 10 + ones;
      return sa + " - " + sb + ": " + s(borrow ? ao + 10 : ao) + " - " + s(bo) + " = " + s(ones) +
             ", " + s(borrow ? at - 1 : at) + " - " + s(bt) + " = " + s(tens) + ", so " + s(r) +
             ".";
    }
    case 1: {  // take away the tens of b, then its ones
      const int x = c(a - bt * 10);
      const int r = c(x - bo);
      return sa + " - " + s(bt * 10) + " = " + s(x) + ". " + s(x) + " - " + s(bo) + " = " + s(r) +
             ".";
    }
    case 2: {  // take away the next ten up, then give back the difference (b % 10 != 0, a's
               // decade above b's)
      const int up = (bt + 1) * 10, back = up - b;
      const int x = c(a - up);
      const int r = c(x + back);
      return sa + " - " + s(up) + " = " + s(x) + ". " + s(x) + " + " + s(back) + " = " + s(r) + ".";
    }
    default: {  // count up from b to the next ten, then to a
      const int up = (bt + 1) * 10;
      const int first = c(up - b);
      const int second = c(a - up);
      const int r = c(first + second);
      return sb + " + " + s(first) + " = " + s(up) + ". " + s(up) + " + " + s(second) + " = " + sa +
             ". " + s(first) + " + " + s(second) + " = " + s(r) + ".";
    }
  }
}

Problem two_digit_problem(std::mt19937_64& rng, double slip_rate, int64_t solutions) {
  std::uniform_int_distribution<int> name(0, 11), item(0, 7), form(0, 1), value(10, 99);
  const std::string n = kNames[name(rng)], it = kItems[item(rng)];
  const bool add = form(rng) == 0;
  // Operands every method applies to, so that the four solutions differ: b is not a multiple of
  // ten, and a subtraction's a and b lie in different decades.
  int a = 0, b = 0;
  do {
    a = value(rng);
    b = value(rng);
    if (!add && a < b) std::swap(a, b);
  } while (b % 10 == 0 || (!add && a / 10 == b / 10));
  Problem p = word_problem(add, n, it, a, b, add ? "A" : "S");
  // The methods in a per-problem order, so that "the first R solutions" are not always the same
  // methods.
  std::vector<int> methods = {0, 1, 2, 3};
  std::shuffle(methods.begin(), methods.end(), rng);
  std::bernoulli_distribution slips(slip_rate);
  std::uniform_int_distribution<int> step(0, 1), sign(0, 1);
  for (int64_t k = 0; k < solutions; ++k) {
    Chain chain;
    if (slips(rng)) {
      chain.slipped = step(rng);
      chain.delta = sign(rng) ? 1 : -1;
    }
    const int method = methods[static_cast<size_t>(k % 4)];
    const std::string work =
        add ? addition_solution(method, a, b, chain) : subtraction_solution(method, a, b, chain);
    // The last number of the chain is the answer the teacher boxes.
    const size_t end = work.find_last_of("0123456789");
    size_t begin = end;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(work[begin - 1]))) --begin;
    const std::string boxed = work.substr(begin, end - begin + 1);
    p.solutions.push_back("<think>\n" + work + "\n</think>\n" +
                          (k % 2 == 0 ? "The answer is \\boxed{" + boxed + "}."
                                      : n + " has \\boxed{" + boxed + "} " + it + "."));
  }
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
std::vector<Problem> draw(std::mt19937_64& rng, int64_t count, const SynthOptions& o,
                          double slip_rate, std::vector<std::string>& used) {
  std::vector<Problem> out;
  std::bernoulli_distribution code(o.code_fraction);
  int64_t attempts = 0;
  while (static_cast<int64_t>(out.size()) < count) {
    ACERL_CHECK(++attempts < count * 1000, "the synthetic task ran out of distinct problems");
    Problem p = code(rng)       ? code_problem(rng)
                : o.digits == 2 ? two_digit_problem(rng, slip_rate, o.solutions_per_prompt)
                                : math_problem(rng, slip_rate);
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
  ACERL_CHECK(o.digits == 1 || o.digits == 2, "synthetic task: digits must be 1 or 2, not ",
              o.digits);
  const int64_t max_solutions = o.digits == 1 ? 2 : 4;
  ACERL_CHECK(o.solutions_per_prompt >= 1 && o.solutions_per_prompt <= max_solutions,
              "synthetic task: solutions per prompt must be 1..", max_solutions, " with digits ",
              o.digits, ", not ", o.solutions_per_prompt);
  auto eval = draw(rng, o.eval_prompts, o, 0.0, used);
  auto rl = draw(rng, o.rl_prompts, o, 0.0, used);
  auto sft = draw(rng, o.sft_prompts, o, o.slip_rate, used);
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
