// `acerl rl`, `acerl eval`, `acerl tune-temperature` and `acerl data synth` end to end on the
// parity task of the SFT fixture, from a briefly fine-tuned model (so rewards vary): lr = 0
// leaves the policy unchanged, equal seeds give identical traces, a stopped and resumed run
// continues identically, and h5py reads the entropy trace with the documented fields and shapes.
#include "support/catch.h"

#include <algorithm>
#include <numeric>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "io/json.h"
#include "support/process.h"
#include "support/sft_fixture.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {

// The fixture with a model fine-tuned for a few steps (partly right: rewards vary per group).
struct RlFixture {
  SftFixture sft;
  std::string start;  // checkpoint to start RL from
};

const RlFixture& rl_fixture() {
  static RlFixture f = [] {
    RlFixture r;
    r.sft = make_sft_fixture("rl_fixture");
    auto run = run_process(quote(ACERL_EXE) + " sft " + quote(r.sft.ini) +
                               " --run.dir=" + quote(r.sft.dir + "/sft") +
                               " --model.init=" + quote(r.sft.dir + "/model_medium.json") +
                               " --sft.epochs=3 --sft.lr=1e-3 --chat.use_system=false",
                           300);
    INFO(run.out << run.err);
    REQUIRE(run.exit_code == 0);
    std::ifstream latest(r.sft.dir + "/sft/checkpoints/latest");
    std::string name;
    latest >> name;
    r.start = r.sft.dir + "/sft/checkpoints/" + name;
    return r;
  }();
  return f;
}

std::string rl_cmd(const RlFixture& f, const std::string& run, const std::string& args) {
  return quote(ACERL_EXE) + " rl " + quote(f.sft.ini) +
         " --run.dir=" + quote(f.sft.dir + "/" + run) + " --model.path=" + quote(f.start) +
         " --data.path=" + quote(f.sft.eval) +
         " --chat.use_system=false --rl.prompts_per_step=4 --rl.group_size=4 --rl.steps=6 "
         "--rl.lr=2e-4"
         " --rollout.max_new_tokens=32 --model.precision=fp32 " +
         args;
}

// One column of the rl phase of a trace, read with h5py; empty when it is missing.
std::vector<double> column(const std::string& trace, const std::string& name) {
  auto r = run_python(quote(source_path("tests/train/trace_tool.py")) + " column " + quote(trace) +
                      " rl " + name);
  INFO(r.err);
  std::istringstream in(r.out);
  std::vector<double> values;
  for (std::string v; in >> v;) values.push_back(std::stod(v));
  return values;
}

// tests/train/trace_tool.py MODE A B REST (equal, untimed, weights: two files compared): what it
// prints.
std::string trace_tool(const std::string& mode, const std::string& a, const std::string& b,
                       const std::string& rest = "") {
  auto r = run_python(quote(source_path("tests/train/trace_tool.py")) + " " + mode + " " +
                      quote(a) + " " + quote(b) + rest);
  INFO(r.err);
  return r.out;
}

// Starts `command` in the background, sends `signal` (USR1: mpiexec forwards it to the ranks) once
// its log shows rl step 2, and returns the script's output, which ends with "exit=<code>".
std::string stop_after_step_2(const std::string& command, const std::string& log,
                              const char* signal = "USR1") {
  std::string script = command + " > " + quote(log) + " 2>&1 & pid=$!\n" +
                       "for i in $(seq 1200); do grep -q 'rl step 2 ' " + quote(log) +
                       " && break; sleep 0.05; done\n" + "kill -" + signal +
                       " $pid\nwait $pid\necho exit=$?\n";
  return run_process(script, 600).out;
}

std::string python_out(const std::string& code, const std::string& args) {
  auto r = run_python("-c " + quote(code) + " " + args);
  INFO(r.err);
  return r.out;
}

// The number of model parameters a checkpoint holds, counted with h5py.
double parameter_count(const std::string& checkpoint) {
  return std::stod(python_out(
      "import h5py, sys\n"
      "n = []\n"
      "h5py.File(sys.argv[1], 'r')['model'].visititems(lambda k, v: n.append(v.size) if "
      "isinstance(v, h5py.Dataset) else None)\n"
      "print(sum(n))",
      quote(checkpoint)));
}

}  // namespace

TEST_CASE("rl with lr = 0 leaves the policy unchanged", "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  auto r = run_process(rl_cmd(f, "lr0", "--rl.lr=0 --rl.steps=2"), 300);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string same = python_out(
      "import h5py, numpy as np, sys\n"
      "a, b = h5py.File(sys.argv[1])['model'], h5py.File(sys.argv[2])['model']\n"
      "print(all(np.array_equal(a[k][...], b[k][...]) for k in a), len(a))",
      quote(f.start) + " " + quote(f.sft.dir + "/lr0/checkpoints/step_00000002.h5"));
  CHECK(same == "True 51\n");
}

TEST_CASE("rl: equal seeds give identical traces; a stopped run resumes identically", "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string fields = " loss entropy temperature reward/math grad_norm entropy_curve";
  auto a = run_process(rl_cmd(f, "a", "--rl.temperature=auto"), 300);
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  auto b = run_process(rl_cmd(f, "b", "--rl.temperature=auto"), 300);
  REQUIRE(b.exit_code == 0);
  auto equal = [&](const std::string& x, const std::string& y) {
    return trace_tool("equal", x, y, " rl" + fields);
  };
  CHECK(equal(f.sft.dir + "/a/trace.h5", f.sft.dir + "/b/trace.h5") == "equal 6\n");
  // The run had something to learn from: six rows of rewards that are not all equal, and
  // losses that are not all zero.
  const std::vector<double> rewards = column(f.sft.dir + "/a/trace.h5", "reward/math");
  REQUIRE(rewards.size() == 6);
  CHECK(std::any_of(rewards.begin(), rewards.end(), [&](double r) { return r != rewards[0]; }));
  const std::vector<double> losses = column(f.sft.dir + "/a/trace.h5", "loss");
  REQUIRE(losses.size() == 6);
  CHECK(std::any_of(losses.begin(), losses.end(), [](double l) { return l != 0.0; }));

  // Stop after step 2 (SIGTERM), resume: the same six steps.
  CHECK_THAT(stop_after_step_2(rl_cmd(f, "c", "--rl.temperature=auto"), f.sft.dir + "/c.log",
                               "TERM"),
             Contains("exit=75"));
  auto resumed = run_process(rl_cmd(f, "c", "--rl.temperature=auto --resume"), 300);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("resumed from"));
  CHECK(equal(f.sft.dir + "/a/trace.h5", f.sft.dir + "/c/trace.h5") == "equal 6\n");
}

TEST_CASE("the entropy trace has the documented fields and shapes (h5py)", "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  auto r = run_process(
      rl_cmd(f, "fields", "--rl.steps=3 --rl.trace_rollouts=true --rl.entropy_grid=0.5,1.0,1.5"),
      300);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string shapes = python_out(
      "import h5py, sys\n"
      "f = h5py.File(sys.argv[1]); g = f['rl']\n"
      "need = ['temperature', 'entropy', 'loss', 'grad_norm', 'lr', 'logprob_mismatch', "
      "'groups_dropped',\n"
      "        'response_length_mean', 'response_length_max', 'truncation_rate', 'time_generate', "
      "'time_score',\n"
      "        'time_learn', 'reward/math', 'accuracy/math', 'reasons/math/correct']\n"
      "missing = [n for n in need if n not in g or g[n].shape != (3,)]\n"
      "print(missing, g['entropy_curve'].shape, g['entropy_histogram'].shape, "
      "g['step'][...].tolist(),\n"
      "      f['rl_rollouts/reward'].shape, sorted(f['rl_rollouts'].keys()))",
      quote(f.sft.dir + "/fields/trace.h5"));
  CHECK(shapes ==
        "[] (3, 3) (3, 20) [1, 2, 3] (48,) ['entropy', 'length', 'prompt_index', 'reward', "
        "'sample', 'step']\n");
}

TEST_CASE("acerl eval reports avg@k with its standard error and pass@k; per-problem results agree",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  auto r = run_process(
      quote(ACERL_EXE) + " eval " + quote(f.sft.ini) + " --run.dir=" + quote(f.sft.dir + "/eval") +
          " --model.path=" + quote(f.start) + " --eval.files=" + quote(f.sft.eval) +
          " --eval.k=4 --eval.max_new_tokens=32 --chat.use_system=false",
      300);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // Recompute avg@4, its SE and the unbiased pass@2 from the per-problem file, independently.
  std::string check = python_out(
      "import json, math, sys\n"
      "rep = json.load(open(sys.argv[1]))['benchmarks'][0]\n"
      "rows = [json.loads(l) for l in open(rep['problems_file'])]\n"
      "acc = [r['correct'] / r['samples'] for r in rows]\n"
      "m = sum(acc) / len(acc); se = (sum((a - m) ** 2 for a in acc) / (len(acc) - 1) / len(acc)) "
      "** 0.5\n"
      "p2 = sum(1 - math.comb(4 - r['correct'], 2) / math.comb(4, 2) for r in rows) / len(rows)\n"
      "print(len(rows), abs(m - rep['avg_at_k']) < 1e-12, abs(se - rep['standard_error']) < "
      "1e-12,\n"
      "      abs(p2 - rep['pass_at']['2']) < 1e-12, 0 < m < 1)",
      quote(f.sft.dir + "/eval/eval.json"));
  CHECK(check == "40 True True True True\n");
}

TEST_CASE("tune-temperature measures an entropy curve that grows with T and picks T on it",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  auto r = run_process(quote(ACERL_EXE) + " tune-temperature " + quote(f.sft.ini) +
                           " --run.dir=" + quote(f.sft.dir + "/tune") +
                           " --model.path=" + quote(f.start) + " --data.path=" + quote(f.sft.eval) +
                           " --tune.prompts=16 --tune.samples=2 --rollout.max_new_tokens=32" +
                           " --chat.use_system=false --rl.entropy_grid=0.3,0.6,0.9,1.2,1.5,2.0",
                       300);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string check = python_out(
      "import json, sys\n"
      "t = json.load(open(sys.argv[1]))\n"
      "h, g = t['entropy'], t['grid']\n"
      "inc = all(b >= a for a, b in zip(h, h[1:]))\n"
      "target = t['target_entropy']\n"
      "i = next((i for i in range(1, len(g)) if (h[i-1] - target) * (h[i] - target) <= 0), None)\n"
      "want = g[0] if target <= h[0] else g[-1] if i is None else g[i-1] + (g[i] - g[i-1]) * "
      "(target - h[i-1]) / (h[i] - h[i-1])\n"
      "print(inc, abs(want - t['temperature']) < 1e-9)",
      quote(f.sft.dir + "/tune/tune_temperature.json"));
  CHECK(check == "True True\n");
}

TEST_CASE("acerl data synth is deterministic and keeps held-out problems out of training",
          "[rl-e2e]") {
  std::string dir = scratch_dir("synth");
  for (const char* sub : {"a", "b"}) {
    auto r = run_process(quote(ACERL_EXE) + " data synth --output " + quote(dir + "/" + sub) +
                         " --sft-prompts 200 --rl-prompts 100 --eval-prompts 50");
    REQUIRE(r.exit_code == 0);
  }
  std::string check = python_out(
      "import json, sys, filecmp\n"
      "d = sys.argv[1]\n"
      "same = all(filecmp.cmp(f'{d}/a/{n}', f'{d}/b/{n}', shallow=False) for n in ['sft.jsonl', "
      "'rl.jsonl', 'eval.jsonl'])\n"
      "load = lambda n: [json.loads(l) for l in open(f'{d}/a/{n}')]\n"
      "ev, rl, sft = {r['prompt'] for r in load('eval.jsonl')}, {r['prompt'] for r in "
      "load('rl.jsonl')}, {r['prompt'] for r in load('sft.jsonl')}\n"
      "sols = {}\n"
      "for r in load('sft.jsonl'): sols.setdefault(r['id'], set()).add(r['response'])\n"
      "print(same, len(ev), len(ev & rl), len(ev & sft), all(len(s) == 2 for s in sols.values()))",
      quote(dir));
  CHECK(check == "True 50 0 0 True\n");
}

TEST_CASE("acerl data synth --digits 2: four distinct step-by-step solutions, slips change one step",
          "[rl-e2e]") {
  std::string dir = scratch_dir("synth2");
  for (const char* slip : {"0", "1"}) {
    auto r = run_process(quote(ACERL_EXE) + " data synth --output " + quote(dir + "/" + slip) +
                         " --digits 2 --solutions 4 --code-fraction 0 --slip-rate " + slip +
                         " --sft-prompts 300 --rl-prompts 50 --eval-prompts 50");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  // Every equation of a worked solution checked by Python's own arithmetic: with no slips all
  // hold and the boxed answer is right; with a slip in every solution exactly one step is wrong
  // and so is the boxed answer, which is still the chain's last number.
  std::string check = python_out(
      "import json, re, sys\n"
      "d = sys.argv[1]\n"
      "def stats(sub):\n"
      "  rows = [json.loads(l) for l in open(f'{d}/{sub}/sft.jsonl')]\n"
      "  wrong_steps, right_boxed, consistent, sols = [], 0, 0, {}\n"
      "  for r in rows:\n"
      "    think = r['response'].split('</think>')[0]\n"
      "    eqs = re.findall(r'(\\d+(?: [+-] \\d+)+) = (\\d+)', think)\n"
      "    wrong_steps.append(sum(eval(lhs) != int(rhs) for lhs, rhs in eqs))\n"
      "    boxed = re.search(r'boxed\\{(\\d+)\\}', r['response']).group(1)\n"
      "    right_boxed += boxed == r['answer']\n"
      "    consistent += re.findall(r'\\d+', think)[-1] == boxed\n"
      "    sols.setdefault(r['id'], set()).add(think)\n"
      "  two = all(max(map(int, re.findall(r'\\d+', r['prompt']))) >= 10 for r in rows)\n"
      "  return (len(rows), sorted(set(wrong_steps)), right_boxed, consistent == len(rows),\n"
      "          all(len(s) == 4 for s in sols.values()), two)\n"
      "print(stats('0'), stats('1'))",
      quote(dir));
  CHECK(check == "(1200, [0], 1200, True, True, True) (1200, [1], 0, True, True, True)\n");
  // --solutions beyond the methods there are is bad input (exit 2), naming the flag.
  auto bad = run_process(quote(ACERL_EXE) + " data synth --output " + quote(dir + "/bad") +
                         " --digits 2 --solutions 5");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--solutions must be 1..4") != std::string::npos);
  auto bad_digits = run_process(quote(ACERL_EXE) + " data synth --output " + quote(dir + "/bad") +
                                " --digits 3");
  CHECK(bad_digits.exit_code == 2);
}

namespace {

// Two stages over the same prompts: a (3 steps at T = 0.7), then b (3 steps at T = 1.2).
const std::string kTwoStages =
    " --stage.a.steps=3 --stage.a.temperature=0.7 --stage.b.steps=3 "
    "--stage.b.temperature=1.2";

std::string stage_data(const RlFixture& f) {
  return " --stage.a.data=" + quote(f.sft.eval) + " --stage.b.data=" + quote(f.sft.eval);
}

}  // namespace

TEST_CASE("rl: resuming from the checkpoint of a stage boundary equals the uninterrupted run",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string args = kTwoStages + stage_data(f) + " --checkpoint.keep=10";
  auto whole = run_process(rl_cmd(f, "stages_whole", args), 300);
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  const std::string whole_trace = f.sft.dir + "/stages_whole/trace.h5";
  CHECK(column(whole_trace, "temperature") == std::vector<double>{0.7, 0.7, 0.7, 1.2, 1.2, 1.2});
  // The same run directory copied, then rolled back to the end of stage a (step 3).
  const std::string part = f.sft.dir + "/stages_part";
  std::filesystem::remove_all(part);
  std::filesystem::copy(f.sft.dir + "/stages_whole", part,
                        std::filesystem::copy_options::recursive);
  auto resumed = run_process(
      rl_cmd(f, "stages_part",
             args + " --checkpoint.resume=" + quote(part + "/checkpoints/step_00000003.h5")),
      300);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("at rl step 3 (stage 1, step 0)"));
  CHECK(run_python(quote(source_path("tests/train/trace_tool.py")) + " equal " +
                   quote(whole_trace) + " " + quote(part + "/trace.h5") +
                   " rl loss entropy temperature reward/math grad_norm stage prompts_drawn")
            .out == "equal 6\n");
}

TEST_CASE("rl: one job per stage (rl.stop_after_stage, then --resume) equals the whole run",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string args = kTwoStages + stage_data(f) + " --checkpoint.keep=10";
  auto whole = run_process(rl_cmd(f, "per_stage_whole", args), 300);
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  auto first = run_process(rl_cmd(f, "per_stage", args + " --rl.stop_after_stage=a"), 300);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Contains("rl: stage a done at step 3"));
  CHECK(column(f.sft.dir + "/per_stage/trace.h5", "stage") == std::vector<double>{0, 0, 0});
  // The stage's job again (a chain re-run): nothing to do, nothing lost.
  auto again =
      run_process(rl_cmd(f, "per_stage", args + " --rl.stop_after_stage=a") + " --resume", 300);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Contains("stage a (rl.stop_after_stage) is already done"));
  auto second =
      run_process(rl_cmd(f, "per_stage", args + " --rl.stop_after_stage=b") + " --resume", 300);
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(run_python(quote(source_path("tests/train/trace_tool.py")) + " equal " +
                   quote(f.sft.dir + "/per_stage_whole/trace.h5") + " " +
                   quote(f.sft.dir + "/per_stage/trace.h5") +
                   " rl loss entropy temperature reward/math grad_norm stage prompts_drawn")
            .out == "equal 6\n");
  auto wrong = run_process(rl_cmd(f, "per_stage_wrong", args + " --rl.stop_after_stage=c"), 300);
  CHECK(wrong.exit_code == 2);
  CHECK_THAT(wrong.err, Contains("rl.stop_after_stage = 'c' is not a stage of this run (its "
                                 "stages, in order: a, b)"));
}

TEST_CASE("rl: two stages on 2 data-parallel ranks run end to end", "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  auto r = run_process(
      mpiexec(2) + " " + rl_cmd(f, "stages_dp2", kTwoStages + stage_data(f) + " --parallel.dp=2"),
      600);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::string trace = f.sft.dir + "/stages_dp2/trace.h5";
  CHECK(column(trace, "stage") == std::vector<double>{0, 0, 0, 1, 1, 1});
  CHECK(column(trace, "temperature") == std::vector<double>{0.7, 0.7, 0.7, 1.2, 1.2, 1.2});
  // Both replicas' groups count: 4 prompts per step drawn in all.
  CHECK(column(trace, "prompts_drawn").front() >= 4);
  CHECK_THAT(r.out, Contains("rl done after 6 steps"));
}

TEST_CASE("rl on 2 data-parallel ranks with dynamic sampling: equal seeds give identical traces, "
          "a stopped run resumes identically",
          "[rl-e2e]") {
  // Refill rounds (rl.drop_zero_variance_groups), the easy-prompt filter and the temperature
  // controller all reduce over the replicas: the parts of a step that split across ranks.
  const RlFixture& f = rl_fixture();
  const std::string args =
      " --parallel.dp=2 --rl.temperature=auto --rl.drop_zero_variance_groups=true"
      " --rl.max_refill_rounds=2 --rl.easy_filter=true --rl.steps=5";
  const std::string fields =
      " loss entropy temperature reward/math grad_norm entropy_curve groups_kept groups_dropped"
      " prompts_drawn response_length_mean";
  auto a = run_process(mpiexec(2) + " " + rl_cmd(f, "dp2_a", args), 600);
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  auto b = run_process(mpiexec(2) + " " + rl_cmd(f, "dp2_b", args), 600);
  REQUIRE(b.exit_code == 0);
  auto equal = [&](const std::string& x, const std::string& y) {
    return trace_tool("equal", x, y, " rl" + fields);
  };
  CHECK(equal(f.sft.dir + "/dp2_a/trace.h5", f.sft.dir + "/dp2_b/trace.h5") == "equal 5\n");
  // Something was dropped and refilled, and there was something to learn from.
  const std::vector<double> dropped = column(f.sft.dir + "/dp2_a/trace.h5", "groups_dropped");
  CHECK(std::any_of(dropped.begin(), dropped.end(), [](double d) { return d > 0; }));
  const std::vector<double> losses = column(f.sft.dir + "/dp2_a/trace.h5", "loss");
  CHECK(std::any_of(losses.begin(), losses.end(), [](double l) { return l != 0.0; }));

  // Stop after step 2 (SIGUSR1, which mpiexec forwards to the ranks), resume on 2 ranks: the
  // same five steps.
  CHECK_THAT(stop_after_step_2(mpiexec(2) + " " + rl_cmd(f, "dp2_c", args),
                               f.sft.dir + "/dp2_c.log"),
             Contains("exit=75"));
  auto resumed = run_process(mpiexec(2) + " " + rl_cmd(f, "dp2_c", args + " --resume"), 600);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(equal(f.sft.dir + "/dp2_a/trace.h5", f.sft.dir + "/dp2_c/trace.h5") == "equal 5\n");
}

TEST_CASE("rl split into learner and rollout ranks (lag 0) equals the colocated run bit for bit; "
          "a stopped split run resumes identically",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string args =
      " --parallel.dp=2 --rl.temperature=auto --rl.drop_zero_variance_groups=true"
      " --rl.max_refill_rounds=2 --rl.easy_filter=true --rl.steps=5 --rl.trace_rollouts=true";
  auto colocated = run_process(mpiexec(2) + " " + rl_cmd(f, "split_colocated", args), 600);
  INFO(colocated.out << colocated.err);
  REQUIRE(colocated.exit_code == 0);
  auto split = run_process(
      mpiexec(4) + " " + rl_cmd(f, "split_lag0", args + " --parallel.rollout_ranks=2"), 600);
  INFO(split.out << split.err);
  REQUIRE(split.exit_code == 0);
  CHECK_THAT(split.out,
             Contains("ranks 0-1 learn (2 learner replicas), ranks 2-3 generate and score"));
  const std::string dir = f.sft.dir + "/";
  // Every trace column but the timings, every rollout row, and the final weights.
  CHECK(trace_tool("untimed", dir + "split_colocated/trace.h5", dir + "split_lag0/trace.h5",
             " rl rl_rollouts") == "equal 32\n");
  CHECK(trace_tool("weights", dir + "split_colocated/checkpoints/step_00000005.h5",
             dir + "split_lag0/checkpoints/step_00000005.h5", "") == "equal 51\n");
  const std::vector<double> waits = column(dir + "split_lag0/trace.h5", "time_weight_sync");
  CHECK(waits.size() == 5);
  // Groups went to the learners one by one as they were scored, most while the rollout ranks
  // were still generating (the last group of each round cannot: generation ends with it).
  const std::vector<double> early = column(dir + "split_lag0/trace.h5", "groups_sent_early");
  const std::vector<double> kept = column(dir + "split_lag0/trace.h5", "groups_kept");
  REQUIRE(early.size() == 5);
  REQUIRE(kept.size() == 5);
  double early_total = 0;
  for (size_t i = 0; i < 5; ++i) {
    CHECK(early[i] <= kept[i]);
    early_total += early[i];
  }
  CHECK(early_total > 0);
  // Every parameter in fp32 from step 2 on (step 1 generates with the start's weights).
  const double params = parameter_count(dir + "split_lag0/checkpoints/step_00000005.h5");
  REQUIRE(params > 1000);
  // (The bytes every rollout rank received: both rollout replicas, fp32.)
  CHECK(column(dir + "split_lag0/trace.h5", "weight_sync_bytes") ==
        std::vector<double>{0, 8 * params, 8 * params, 8 * params, 8 * params});
  // The weights in many small buckets: still exact. In bf16: the rollout ranks generate with
  // rounded weights, which the learner's recomputed log-probs show.
  auto buckets = run_process(mpiexec(4) + " " + rl_cmd(f, "split_buckets",
                                                       args + " --parallel.rollout_ranks=2"
                                                              " --rl.weight_bucket_mb=0.01"),
                             600);
  REQUIRE(buckets.exit_code == 0);
  CHECK(trace_tool("untimed", dir + "split_colocated/trace.h5", dir + "split_buckets/trace.h5",
             " rl rl_rollouts") == "equal 32\n");
  auto bf16 = run_process(mpiexec(4) + " " + rl_cmd(f, "split_bf16",
                                                    args + " --parallel.rollout_ranks=2"
                                                           " --rl.weight_sync_dtype=bf16"),
                          600);
  REQUIRE(bf16.exit_code == 0);
  const std::vector<double> exact = column(dir + "split_lag0/trace.h5", "logprob_mismatch");
  const std::vector<double> rounded = column(dir + "split_bf16/trace.h5", "logprob_mismatch");
  REQUIRE(rounded.size() == 5);
  CHECK(rounded[0] == exact[0]);  // step 1: the start's weights on both sides
  CHECK(rounded[1] > 10 * std::max(exact[1], 1e-9));
  CHECK(column(dir + "split_bf16/trace.h5", "weight_sync_bytes")[1] == 4 * params);

  // Stop the split run after step 2 (SIGUSR1 reaches every rank), resume on 4 ranks.
  CHECK_THAT(stop_after_step_2(mpiexec(4) + " " +
                                   rl_cmd(f, "split_stop", args + " --parallel.rollout_ranks=2"),
                               dir + "split_stop.log"),
             Contains("exit=75"));
  auto resumed = run_process(
      mpiexec(4) + " " + rl_cmd(f, "split_stop", args + " --parallel.rollout_ranks=2 --resume"),
      600);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("resumed from"));
  CHECK(trace_tool("untimed", dir + "split_colocated/trace.h5", dir + "split_stop/trace.h5",
                   " rl") ==
        "equal 26\n");
  // In bf16 too: a resumed rollout rank rounds the checkpoint's weights as the wire did.
  const std::string bf16_args = args + " --parallel.rollout_ranks=2 --rl.weight_sync_dtype=bf16";
  CHECK_THAT(stop_after_step_2(mpiexec(4) + " " + rl_cmd(f, "split_bf16_stop", bf16_args),
                               dir + "split_bf16_stop.log"),
             Contains("exit=75"));
  auto bf16_resumed = run_process(
      mpiexec(4) + " " + rl_cmd(f, "split_bf16_stop", bf16_args + " --resume"), 600);
  INFO(bf16_resumed.out << bf16_resumed.err);
  REQUIRE(bf16_resumed.exit_code == 0);
  CHECK(trace_tool("untimed", dir + "split_bf16/trace.h5", dir + "split_bf16_stop/trace.h5",
                   " rl rl_rollouts") == "equal 35\n");  // (with lag and IS weights)
}

TEST_CASE("rl split at tp = 2: tensor-parallel shards sync to the rollout replica; equal to "
          "colocated tp = 2",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string args = " --parallel.tp=2 --rl.temperature=auto --rl.steps=3";
  auto colocated = run_process(mpiexec(2) + " " + rl_cmd(f, "split_tp2_colocated", args), 600);
  INFO(colocated.out << colocated.err);
  REQUIRE(colocated.exit_code == 0);
  auto split = run_process(
      mpiexec(4) + " " + rl_cmd(f, "split_tp2", args + " --parallel.rollout_ranks=2"), 600);
  INFO(split.out << split.err);
  REQUIRE(split.exit_code == 0);
  const std::string dir = f.sft.dir + "/";
  CHECK(trace_tool("untimed", dir + "split_tp2_colocated/trace.h5", dir + "split_tp2/trace.h5",
                   " rl") == "equal 26\n");
  CHECK(trace_tool("weights", dir + "split_tp2_colocated/checkpoints/step_00000003.h5",
                   dir + "split_tp2/checkpoints/step_00000003.h5") == "equal 51\n");
}

TEST_CASE("rl split with rollout_tp = rollout_pp = 1: a learner replica's tp or pp shards gather "
          "into a whole-model rollout rank, which samples the tokens the colocated run samples",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string dir = f.sft.dir + "/";
  for (const std::string layout : {"tp", "pp"}) {
    INFO("learner " << layout << " = 2");
    const std::string args =
        " --parallel." + layout + "=2 --rl.temperature=auto --rl.steps=4";
    const std::string colocated_run = "gather_" + layout + "_colocated",
                      split_run = "gather_" + layout + "_split";
    auto colocated = run_process(mpiexec(2) + " " + rl_cmd(f, colocated_run, args), 600);
    INFO(colocated.out << colocated.err);
    REQUIRE(colocated.exit_code == 0);
    // Whole-model rollout ranks for the one learner replica. Sampling does not depend on the
    // layout (tokens equal at tp or pp 1 and 2), so rollouts from correctly gathered weights earn
    // the same rewards at every step, and the learner's log-probs of the sampled tokens match the
    // rollout ranks' to rounding (a parameter gathered into the wrong place would put them far
    // apart).
    auto gathered = [&](const std::string& run, int rollout_ranks, const std::string& replicas) {
      auto split = run_process(
          mpiexec(2 + rollout_ranks) + " " +
              rl_cmd(f, run,
                     args + " --parallel.rollout_ranks=" + std::to_string(rollout_ranks) +
                         " --parallel.rollout_tp=1 --parallel.rollout_pp=1"),
          600);
      INFO(split.out << split.err);
      REQUIRE(split.exit_code == 0);
      CHECK_THAT(split.out, Contains("(" + replicas + " of tp 1 x pp 1, gathering the learner "
                                     "replica's shards)"));
      for (const char* name : {"reward/math", "response_length_mean", "groups_kept"})
        CHECK(column(dir + run + "/trace.h5", name) ==
              column(dir + colocated_run + "/trace.h5", name));
      for (double m : column(dir + run + "/trace.h5", "logprob_mismatch")) CHECK(m < 1e-4);
    };
    // 3 ranks: a learner replica of 2 ranks and one rollout rank holding the whole model. The
    // updates agree to rounding (the rollout's log-probs come from another layout).
    gathered(split_run, 1, "1 rollout replica");
    const std::vector<double> a = column(dir + split_run + "/trace.h5", "loss"),
                              b = column(dir + colocated_run + "/trace.h5", "loss");
    REQUIRE(a.size() == 4);
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-4));
    if (layout != "tp") continue;
    // Two whole-model rollout ranks: each learner rank broadcasts its shard to both, and each
    // rollout rank takes the two learner ranks' broadcasts in turn.
    const std::string two_run = "gather_tp_split_two";
    gathered(two_run, 2, "2 rollout replicas");
    const double params = parameter_count(dir + two_run + "/checkpoints/step_00000004.h5");
    REQUIRE(params > 1000);
    // Every parameter reached both rollout ranks in fp32 from step 2 on.
    CHECK(column(dir + two_run + "/trace.h5", "weight_sync_bytes") ==
          std::vector<double>{0, 8 * params, 8 * params, 8 * params});
  }
}

TEST_CASE("rl split with rl.max_lag = 1: generation runs one update behind, deterministically; a "
          "stopped or restarted run continues the pipeline bit for bit",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string args =
      " --parallel.dp=2 --parallel.rollout_ranks=2 --rl.max_lag=1 --rl.temperature=auto"
      " --rl.steps=5";
  // Checkpoints every 2 steps: each holds the batch generated ahead of it (pulling it early
  // changes nothing, so a equals b).
  auto a = run_process(
      mpiexec(4) + " " + rl_cmd(f, "lag1_a", args + " --checkpoint.interval=2"), 600);
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  auto b = run_process(mpiexec(4) + " " + rl_cmd(f, "lag1_b", args), 600);
  REQUIRE(b.exit_code == 0);
  const std::string dir = f.sft.dir + "/";
  CHECK(trace_tool("untimed", dir + "lag1_a/trace.h5", dir + "lag1_b/trace.h5", " rl") ==
        "equal 29\n");
  // Step s generates with the weights after update s - 2 (the first two with the start's).
  CHECK(column(dir + "lag1_a/trace.h5", "lag") == std::vector<double>{0, 1, 1, 1, 1});
  // Generated with older weights, the loss clips against the rollout's policy.
  const std::vector<double> clipped = column(dir + "lag1_a/trace.h5", "clip_fraction");
  CHECK(std::any_of(clipped.begin() + 1, clipped.end(), [](double c) { return c > 0; }));
  // ... or, with rl.is_correction = truncated, weighs the on-policy gradient by min(pi/mu, cap).
  auto t = run_process(
      mpiexec(4) + " " +
          rl_cmd(f, "lag1_tis", args + " --rl.is_correction=truncated --rl.is_cap=1.5"),
      600);
  INFO(t.out << t.err);
  REQUIRE(t.exit_code == 0);
  const std::vector<double> weights = column(dir + "lag1_tis/trace.h5", "is_weight_max");
  REQUIRE(weights.size() == 5);
  CHECK(weights[0] == 1.0);  // step 1 is on-policy
  CHECK(std::all_of(weights.begin(), weights.end(), [](double w) { return w <= 1.5; }));
  CHECK(std::any_of(weights.begin() + 1, weights.end(), [](double w) { return w != 1.0; }));
  CHECK(column(dir + "lag1_tis/trace.h5", "clip_fraction") == std::vector<double>(5, 0.0));

  // Stopped after step 2 (the checkpoint keeps batch 3, generated with update 1's weights) and
  // resumed: the same run, bit for bit.
  CHECK_THAT(stop_after_step_2(mpiexec(4) + " " + rl_cmd(f, "lag1_stop", args),
                               dir + "lag1_stop.log"),
             Contains("exit=75"));
  auto resumed = run_process(mpiexec(4) + " " + rl_cmd(f, "lag1_stop", args + " --resume"), 600);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("rl done after 5 steps"));
  CHECK(trace_tool("untimed", dir + "lag1_a/trace.h5", dir + "lag1_stop/trace.h5", " rl") ==
        "equal 29\n");
  // Restarted from the periodic checkpoint of step 2 (as after a crash): the same again.
  auto restarted = run_process(
      mpiexec(4) + " " +
          rl_cmd(f, "lag1_a",
                 args + " --checkpoint.resume=" + quote(dir + "lag1_a/checkpoints/step_00000002.h5")),
      600);
  INFO(restarted.out << restarted.err);
  REQUIRE(restarted.exit_code == 0);
  CHECK_THAT(restarted.out, Contains("resumed from"));
  CHECK(trace_tool("untimed", dir + "lag1_b/trace.h5", dir + "lag1_a/trace.h5", " rl") ==
        "equal 29\n");
}

TEST_CASE("rl split with more or fewer rollout replicas than learner replicas: each learner "
          "replica learns the groups its colocated counterpart would; a lag-1 run stopped and "
          "resumed continues bit for bit",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string dir = f.sft.dir + "/";
  // Refill rounds draw odd prompt counts, which split unevenly over 2 rollout replicas.
  const std::string args =
      " --rl.temperature=auto --rl.drop_zero_variance_groups=true --rl.max_refill_rounds=2"
      " --rl.easy_filter=true --rl.steps=4 --rl.trace_rollouts=true";
  // The sampled tokens do not depend on which replica generates a prompt, or with which others
  // (see the rollout_tp = 1 test): the same rollouts, rewards and drawing, whatever the split.
  // The log-probs can differ in the last bits with the batch a prompt decodes in, so the
  // updates agree to rounding.
  auto same_rollouts = [&](const std::string& a, const std::string& b) {
    for (const char* name : {"reward/math", "response_length_mean", "groups_kept",
                             "groups_dropped", "prompts_drawn"})
      CHECK(column(dir + a + "/trace.h5", name) == column(dir + b + "/trace.h5", name));
    // Every kept rollout in the same order: each learner replica learned its colocated
    // counterpart's groups (a wrong routing would reorder prompt_index; the loss, summed over
    // the replicas, would not show it).
    CHECK(python_out("import h5py, numpy, sys\n"
                     "a, b = (h5py.File(p, 'r')['rl_rollouts'] for p in sys.argv[1:3])\n"
                     "names = ['step', 'prompt_index', 'sample', 'reward', 'length']\n"
                     "print(a['step'].size > 0, all(numpy.array_equal(a[n][...], b[n][...]) "
                     "for n in names))",
                     quote(dir + a + "/trace.h5") + " " + quote(dir + b + "/trace.h5")) ==
          "True True\n");
    const std::vector<double> x = column(dir + a + "/trace.h5", "loss"),
                              y = column(dir + b + "/trace.h5", "loss");
    REQUIRE(x.size() == 4);
    for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(y[i]).margin(1e-4));
  };
  // One learner and two rollout replicas (3 ranks) against the colocated single rank.
  auto one = run_process(rl_cmd(f, "uneven_colocated1", args), 600);
  INFO(one.out << one.err);
  REQUIRE(one.exit_code == 0);
  auto wide = run_process(
      mpiexec(3) + " " + rl_cmd(f, "uneven_1x2", args + " --parallel.rollout_ranks=2"), 600);
  INFO(wide.out << wide.err);
  REQUIRE(wide.exit_code == 0);
  CHECK_THAT(wide.out, Contains("ranks 0-0 learn (1 learner replica), ranks 1-2 generate and "
                                "score (2 rollout replicas"));
  same_rollouts("uneven_colocated1", "uneven_1x2");
  // Groups were dropped and refilled: rounds of other sizes than 4, split unevenly.
  const std::vector<double> drawn = column(dir + "uneven_1x2/trace.h5", "prompts_drawn");
  CHECK(std::accumulate(drawn.begin(), drawn.end(), 0.0) > 16);
  const std::vector<double> dropped = column(dir + "uneven_1x2/trace.h5", "groups_dropped");
  CHECK(std::any_of(dropped.begin(), dropped.end(), [](double d) { return d > 0; }));
  // Two learner replicas and one rollout replica against colocated dp 2.
  auto two = run_process(mpiexec(2) + " " + rl_cmd(f, "uneven_colocated2",
                                                   args + " --parallel.dp=2"),
                         600);
  INFO(two.out << two.err);
  REQUIRE(two.exit_code == 0);
  auto narrow = run_process(mpiexec(3) + " " + rl_cmd(f, "uneven_2x1",
                                                      args + " --parallel.dp=2"
                                                             " --parallel.rollout_ranks=1"),
                            600);
  INFO(narrow.out << narrow.err);
  REQUIRE(narrow.exit_code == 0);
  same_rollouts("uneven_colocated2", "uneven_2x1");

  // Lag 1 on 1 learner + 2 rollout replicas: the checkpoint of step 2 holds batch 3; the second
  // rollout replica replays it from the learner replica's records.
  const std::string lag = args + " --parallel.rollout_ranks=2 --rl.max_lag=1";
  auto whole = run_process(
      mpiexec(3) + " " + rl_cmd(f, "uneven_lag1", lag + " --checkpoint.interval=2"), 600);
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  REQUIRE(column(dir + "uneven_lag1/trace.h5", "lag") == std::vector<double>{0, 1, 1, 1});
  CHECK_THAT(stop_after_step_2(mpiexec(3) + " " + rl_cmd(f, "uneven_lag1_stop", lag),
                               dir + "uneven_lag1_stop.log"),
             Contains("exit=75"));
  auto resumed =
      run_process(mpiexec(3) + " " + rl_cmd(f, "uneven_lag1_stop", lag + " --resume"), 600);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("resumed from"));
  CHECK_THAT(resumed.out, Contains("rl done after 4 steps"));
  CHECK(trace_tool("untimed", dir + "uneven_lag1/trace.h5", dir + "uneven_lag1_stop/trace.h5",
                   " rl rl_rollouts") == "equal 35\n");
  // The checkpoint of step 2 holds batch 3, per learner replica: restarted from it with one
  // rollout replica instead of two, the learner learns step 3 from it as the first run did.
  auto narrower = run_process(
      mpiexec(2) + " " +
          rl_cmd(f, "uneven_lag1_1x1",
                 args + " --parallel.rollout_ranks=1 --rl.max_lag=1 --checkpoint.resume=" +
                     quote(dir + "uneven_lag1/checkpoints/step_00000002.h5")),
      600);
  INFO(narrower.out << narrower.err);
  REQUIRE(narrower.exit_code == 0);
  // Step 3 from the stored batch (update 1's weights), step 4 generated afresh (update 2's).
  CHECK(column(dir + "uneven_lag1_1x1/trace.h5", "lag") == std::vector<double>{1, 1});
  for (const char* name : {"loss", "grad_norm", "entropy", "reward/math"}) {
    const std::vector<double> restarted = column(dir + "uneven_lag1_1x1/trace.h5", name);
    REQUIRE(restarted.size() == 2);
    CHECK(restarted[0] == column(dir + "uneven_lag1/trace.h5", name)[2]);
  }
}

TEST_CASE("rl split: a rollout rank killed mid-run ends the whole job, naming the rank",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  const std::string log = f.sft.dir + "/split_kill.log";
  // World rank 3 is a rollout rank; its learner (rank 1) waits for its batches.
  std::string script =
      mpiexec(4) + " " +
      rl_cmd(f, "split_kill", " --parallel.dp=2 --parallel.rollout_ranks=2 --rl.steps=200") +
      " > " + quote(log) + " 2>&1 & pid=$!\n" +
      "for i in $(seq 1200); do grep -q 'rl step 1 ' " + quote(log) +
      " && break; sleep 0.05; done\n"
      "for p in $(pgrep -f 'acerl rl .*split_kill'); do\n"
      "  tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=3 && "
      "kill -9 $p\n"
      "done\n"
      "start=$(date +%s); wait $pid; echo exit=$?; echo seconds=$(( $(date +%s) - start ))\n" +
      "cat " + quote(log) + "\n";
  auto r = run_process(script, 300);
  INFO(r.out);
  CHECK(r.out.find("exit=0") == std::string::npos);
  CHECK_THAT(r.out, Contains("rank 3"));
  const auto at = r.out.find("seconds=");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoi(r.out.substr(at + 8)) < 30);
  CHECK_THAT(r.out, !Contains("rl done"));
}

TEST_CASE("rl split: a rollout rank stuck in its own work (alive, outside any collective) ends "
          "the job through the learner's watchdog, naming the wait",
          "[rl-e2e]") {
  // Rank 1 (the rollout rank) stops at step 3 before it generates; its own watchdog sees no
  // collective. The learner waits for step 3's groups under the collective timeout.
  const RlFixture& f = rl_fixture();
  auto r = run_process("ACERL_FAULT_STALL_RANK=1 ACERL_FAULT_STALL_STEP=3 " + mpiexec(2) + " " +
                           rl_cmd(f, "split_stall",
                                  " --parallel.rollout_ranks=1 --rl.steps=20"
                                  " --run.collective_timeout_s=5"),
                       120);
  INFO(r.out << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code != 0);
  CHECK(r.seconds < 60);
  CHECK_THAT(r.err, Contains("rank 1: fault hook: stalling outside any collective at step 3"));
  CHECK_THAT(r.err, Contains("rank 0: error: collective MPI_Mprobe on 'groups' at step 3 has not "
                             "completed after"));
  CHECK_THAT(r.out, !Contains("rl done"));
}

TEST_CASE("rl split: a failure the learners decide among themselves ends the rollout ranks too",
          "[rl-e2e]") {
  // Non-finite gradients from step 2 on, at most one such step: the learners fail together
  // (exit 1); their rollout ranks, waiting for weights, must not hang until the watchdog.
  const RlFixture& f = rl_fixture();
  auto r = run_process("ACERL_FAULT_NAN_STEPS=2- " + mpiexec(4) + " " +
                           rl_cmd(f, "split_nan",
                                  " --parallel.dp=2 --parallel.rollout_ranks=2 --rl.steps=50"
                                  " --train.max_bad_steps=1"),
                       120);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err + r.out, Contains("more than train.max_bad_steps = 1"));
}

TEST_CASE("rl: a split layout that does not fit the world is an error before any model is built",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  // tp 2: learner replicas and rollout replicas are 2 ranks each; 1 rollout rank fits neither.
  auto r = run_process(
      mpiexec(4) + " " + rl_cmd(f, "split_bad", " --parallel.tp=2 --parallel.rollout_ranks=1"),
      300);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("parallel.rollout_ranks = 1 does not fit 4 ranks: the rollout ranks "
                             "form replicas of rollout_tp x rollout_pp = 2 ranks and the other "
                             "ranks learner replicas of tp x pp = 2 ranks, at least one of each; "
                             "on 4 ranks rollout_ranks can be 2 (or 0 for every rank to generate "
                             "and learn)"));
  // A rollout layout that is neither the learner's nor one whole-model rank.
  auto mixed = run_process(mpiexec(4) + " " + rl_cmd(f, "split_mixed",
                                                     " --parallel.tp=2 --parallel.rollout_ranks=2"
                                                     " --parallel.rollout_pp=2"),
                           300);
  CHECK(mixed.exit_code == 2);
  CHECK_THAT(mixed.err, Contains("parallel.rollout_tp = 2, rollout_pp = 2 (0 = the learner's) "
                                 "with tp = 2, pp = 1: the rollout replicas take the learner's "
                                 "layout"));
  // Learner replicas must still split each step's prompts evenly (3 do not split 4).
  auto uneven = run_process(
      mpiexec(4) + " " + rl_cmd(f, "split_uneven", " --parallel.rollout_ranks=1"), 300);
  CHECK(uneven.exit_code == 2);
  CHECK_THAT(uneven.err, Contains("prompts_per_step = 4 must be a multiple of the learner "
                                  "replicas (3)"));
  // A bad generation setting: found on every rank at setup (the learner too, which never
  // generates), reported once, before the model and the weight-sync link are built.
  auto stop = run_process(mpiexec(2) + " " + rl_cmd(f, "split_bad_stop",
                                                    " --parallel.rollout_ranks=1"
                                                    " --rollout.stop=no_such_token"),
                          300);
  CHECK(stop.exit_code == 2);
  const std::string message = "rollout.stop: 'no_such_token' is not a token of the tokenizer";
  CHECK_THAT(stop.err, Contains(message));
  CHECK(stop.err.find(message) == stop.err.rfind(message));
  CHECK_THAT(stop.out, !Contains("parallel.rollout_ranks = 1: ranks"));
}

TEST_CASE("rl: the update raises the reward on the training prompts, compared with lr = 0",
          "[rl-e2e]") {
  const RlFixture& f = rl_fixture();
  // Same seeds, same prompts; only the learning rate differs. A single seed is not enough: at
  // this model size and rate a run sometimes collapses to a uniform policy within a few steps
  // (on 2026-12-07, 2 of 5 seeds at lr 5e-4 and 1 of 4 at 3e-4, with the code before and after
  // that day's changes alike), so the claim is about the mean over three seeds.
  auto late_mean = [&](const std::string& run) {
    const std::vector<double> r = column(f.sft.dir + "/" + run + "/trace.h5", "reward/math");
    REQUIRE(r.size() == 16);
    double sum = 0;
    for (size_t i = 8; i < r.size(); ++i) sum += r[i];
    return sum / 8;
  };
  double learned = 0, frozen = 0;
  for (const char* seed : {"3", "4", "5"}) {
    const std::string args =
        std::string(" --rl.steps=16 --rl.temperature=1.0 --rl.prompts_per_step=8 --run.seed=") +
        seed;
    const std::string lr_run = std::string("rise_lr_") + seed;
    const std::string frozen_run = std::string("rise_lr0_") + seed;
    auto learn = run_process(rl_cmd(f, lr_run, args + " --rl.lr=3e-4"), 600);
    INFO(learn.out << learn.err);
    REQUIRE(learn.exit_code == 0);
    auto still = run_process(rl_cmd(f, frozen_run, args + " --rl.lr=0"), 600);
    INFO(still.out << still.err);
    REQUIRE(still.exit_code == 0);
    const double with_lr = late_mean(lr_run), without = late_mean(frozen_run);
    UNSCOPED_INFO("seed " << seed << ": mean reward of steps 9-16: lr 3e-4 " << with_lr
                          << ", lr 0 " << without);
    learned += with_lr / 3;
    frozen += without / 3;
  }
  INFO("mean over the seeds: lr 3e-4 " << learned << ", lr 0 " << frozen);
  CHECK(learned > frozen + 0.1);
}
