// acerl_bench_reward_math: math answers verified per second on one core (check_math on whole
// responses: extraction + normalisation + comparison) over a mixed set: every row of
// tests/reward/math_cases.tsv as a short response and as a long one with a ~5 KB think section,
// then the same set through Hugging Face math-verify in one Python process
// (tests/bench/reward_math_verify.py) for comparison.
//   acerl_bench_reward_math [--seconds S]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "reward/math_answer.h"

using namespace acerl;

namespace {

struct Item {
  std::string response, reference;
};

// Must match make_set() in reward_math_verify.py.
std::vector<Item> make_set() {
  std::ifstream in(std::string(ACERL_SOURCE_DIR) + "/tests/reward/math_cases.tsv");
  std::string think = "<think>";
  for (int k = 0; k < 60; ++k)
    think += "Step " + std::to_string(k) + ": we try n = " + std::to_string(k) +
             ", compute 12 * n and compare with \\boxed{" + std::to_string(k) + "} so far. ";
  think += "</think>\n\n";
  std::vector<Item> short_items, long_items;
  std::string row;
  while (std::getline(in, row)) {
    if (row.empty() || row[0] == '#') continue;
    size_t t1 = row.find('\t'), t2 = row.find('\t', t1 + 1);
    std::string reference = row.substr(0, t1), candidate = row.substr(t1 + 1, t2 - t1 - 1);
    short_items.push_back({"</think>The answer is $\\boxed{" + candidate + "}$.", reference});
    long_items.push_back(
        {think + "Therefore the answer is $\\boxed{" + candidate + "}$.", reference});
  }
  short_items.insert(short_items.end(), long_items.begin(), long_items.end());
  return short_items;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string python_figure(double seconds) {
  std::string command = std::string(ACERL_BENCH_PYTHON) + " " + ACERL_SOURCE_DIR +
                        "/tests/bench/reward_math_verify.py --seconds " + std::to_string(seconds);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  return pclose(pipe) == 0 ? out : "";
}

}  // namespace

int main(int argc, char** argv) {
  double budget = 3.0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--seconds") == 0) budget = std::atof(argv[i + 1]);
  std::vector<Item> items = make_set();
  if (items.empty()) {
    std::fprintf(stderr, "no cases found under %s\n", ACERL_SOURCE_DIR);
    return 1;
  }
  size_t bytes = 0, correct = 0;
  for (const Item& it : items) bytes += it.response.size();
  for (const Item& it : items) correct += reward::check_math(it.response, it.reference).score > 0;
  double start = now(), elapsed = 0;
  size_t done = 0;
  while (elapsed < budget) {
    for (const Item& it : items) done += reward::check_math(it.response, it.reference).score >= 0;
    elapsed = now() - start;
  }
  double rate = done / elapsed;
  std::printf(
      "reward_math: %zu responses (%zu short, %zu with a %zu-byte think section), %zu scored 1\n",
      items.size(), items.size() / 2, items.size() / 2, items.back().response.size(), correct);
  std::printf("acerl check_math       : %10.0f answers/s on one core (%.1f us/answer, %.1f MB/s)\n",
              rate, 1e6 / rate, rate * bytes / items.size() / 1e6);
  std::string py = python_figure(budget * 5);
  if (py.empty()) {
    std::printf("math-verify            : not measured (Python or math-verify unavailable)\n");
    return 0;
  }
  double py_rate = std::atof(py.c_str());
  std::printf("math-verify (Python)   : %10.1f answers/s in one process (%.0f us/answer)\n",
              py_rate, py_rate > 0 ? 1e6 / py_rate : 0.0);
  if (py_rate > 0) std::printf("speed-up               : %10.0fx\n", rate / py_rate);
  std::printf(
      "AceReason 1.0 sympy checker, for reference: 1024 answers in 3.9 s with 64 workers "
      "= %.1f answers/s per worker\n",
      1024 / 3.9 / 64);
  return 0;
}
