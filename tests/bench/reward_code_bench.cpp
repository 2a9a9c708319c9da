// acerl_bench_reward_code: what the code reward's sandbox costs. The fixed cost of one run of a
// trivial program (`print(1)`) as plain python, python under rlimits (the fallback), python
// under bubblewrap, the full harness under bubblewrap (what every test case pays with
// reward.code.prestart = false) and the same run forked from a pre-started sandboxed interpreter
// (prestart = true, the default); then sandboxed test runs per second through CodeReward with 1
// and 2 workers, both ways.
//   acerl_bench_reward_code [--runs N]   (N runs per figure, default 40)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"
#include "reward/code_process.h"
#include "reward/code_reward.h"
#include "reward/code_sandbox.h"

using namespace acerl;
using namespace acerl::reward;

namespace {

const char* kPython = "/usr/bin/python3";

void report(const char* what, double seconds) {
  std::printf("  %-44s %7.1f ms\n", what, seconds * 1e3);
}

template <class Fn>
double median_ms_of(Fn fn, int runs) {
  return bench::median_seconds(fn, runs, 3);
}

void fixed_overhead(int runs) {
  std::printf("fixed cost of one run of print(1) (median of %d):\n", runs);
  ChildSpec plain;
  plain.argv = {kPython, "-I", "-c", "print(1)"};
  plain.env = {"PATH=/usr/bin:/bin"};
  double t_plain = median_ms_of([&] { run_child(plain, ChildIo{}); }, runs);
  report("plain python (no sandbox)", t_plain);
  Sandbox rlimit(kPython, "rlimit", SandboxLimits{}, /*allow_unsafe=*/true);
  report("rlimit fallback (python, rlimits, scratch dir)",
         median_ms_of([&] { rlimit.run_raw("print(1)"); }, runs));
  Sandbox bwrap(kPython, "auto", SandboxLimits{});
  if (bwrap.mode() != SandboxMode::bwrap) {
    std::printf("  bubblewrap unusable here: no bwrap figures\n");
    return;
  }
  double t_bwrap = median_ms_of([&] { bwrap.run_raw("print(1)"); }, runs);
  report("bwrap (namespaces + rlimits + python)", t_bwrap);
  report("bwrap + harness (what a stdio test pays)",
         median_ms_of([&] { bwrap.run("print(1)", "stdio", ""); }, runs));
  report("bwrap + harness, function call", median_ms_of(
                                               [&] {
                                                 bwrap.run("def f(x):\n    return x\n", "call",
                                                           R"({"fn_name": "f", "args": [1]})");
                                               },
                                               runs));
  std::printf("  => sandbox overhead over plain python: %.1f ms\n", t_bwrap * 1e3 - t_plain * 1e3);
  Sandbox prestarted(kPython, "bwrap", SandboxLimits{}, false, /*prestart=*/true);
  if (!prestarted.prestarted()) {
    std::printf("  the pre-started interpreter does not work here: no prestart figures\n");
    return;
  }
  report("pre-started interpreter, fork + harness (stdio)",
         median_ms_of([&] { prestarted.run("print(1)", "stdio", ""); }, runs));
  report("pre-started interpreter, function call", median_ms_of(
                                                       [&] {
                                                         prestarted.run(
                                                             "def f(x):\n    return x\n", "call",
                                                             R"({"fn_name": "f", "args": [1]})");
                                                       },
                                                       runs));
}

void throughput(int workers, bool prestart, int runs) {
  config::CodeRewardConfig c;
  c.workers = workers;
  c.prestart = prestart;
  CodeReward reward(c);
  CodeTestSet tests =
      read_code_tests(json::Value(std::string(R"([{"input": "", "output": "1"}])")), "bench");
  std::string response = "</think>\n```python\nprint(1)\n```\n";
  std::vector<CodeSubmission> batch(static_cast<size_t>(runs), CodeSubmission{response, &tests});
  reward.score(std::vector<CodeSubmission>(2 * workers, batch.front()));  // warm-up
  auto start = std::chrono::steady_clock::now();
  std::vector<CodeVerdict> verdicts = reward.score(batch);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int correct = 0;
  for (const auto& v : verdicts) correct += v.score == 1;
  std::printf("  workers = %d (%s%s): %6.1f runs/s  (%d runs, %d correct)\n", workers,
              sandbox_mode_name(reward.sandbox().mode()),
              reward.sandbox().prestarted() ? ", pre-started" : "", runs / s, runs, correct);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 40;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  fixed_overhead(runs);
  std::printf("sandboxed test runs per second, print(1) through CodeReward:\n");
  for (bool prestart : {false, true})
    for (int workers : {1, 2}) throughput(workers, prestart, 4 * runs);
  return 0;
}
