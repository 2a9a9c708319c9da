// `acerl sft` end to end, as jobs run it: stop signals write a checkpoint and a resumed run
// reproduces the uninterrupted losses bit for bit (fp32, 1 rank and 2 ranks); a kill during a
// checkpoint leaves the previous one and `latest` intact; the trace and checkpoints read with
// h5py; and SFT on a small synthetic task drives the held-out loss down until greedy answers are
// right.
#include "support/catch.h"

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

std::string acerl_cmd(const std::string& launcher, const SftFixture& f, const std::string& run,
                      const std::string& args) {
  return launcher + " " + quote(ACERL_EXE) + " sft " + quote(f.ini) +
         " --run.dir=" + quote(f.dir + "/" + run) + " " + args;
}

// Starts the command in the background, waits for `marker` in its output, sends `signal` to it,
// and waits for it to end. Returns the process result of the whole script.
ProcessResult interrupt(const std::string& command, const std::string& log,
                        const std::string& marker, const std::string& signal) {
  std::string script = command + " > " + quote(log) + " 2>&1 & pid=$!\n" +
                       "for i in $(seq 600); do grep -q " + quote(marker) + " " + quote(log) +
                       " && break; sleep 0.05; done\n" + "kill -" + signal +
                       " $pid\nwait $pid\necho exit=$?\n";
  return run_process(script, 300);
}

std::string trace_tool(const std::string& args) {
  auto r = run_python(quote(source_path("tests/train/trace_tool.py")) + " " + args);
  INFO(r.err);
  return r.out;
}

}  // namespace

TEST_CASE(
    "SIGTERM checkpoints at the next step, exits 75; the resumed run repeats the losses bit for "
    "bit",
    "[sft]") {
  SftFixture f = make_sft_fixture("sft_resume");
  const std::string extra = "--sft.max_steps=12 --sft.lr=1e-3";
  auto whole = run_process(acerl_cmd("", f, "whole", extra), 300);
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  auto stopped =
      interrupt(acerl_cmd("", f, "parts", extra), f.dir + "/parts.log", "sft step 4/12", "TERM");
  std::ifstream log(f.dir + "/parts.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  INFO(text);
  CHECK_THAT(stopped.out, Contains("exit=75"));
  CHECK_THAT(text, Contains("for a stop signal (SIGTERM or SIGUSR1)"));
  CHECK_FALSE(std::filesystem::exists(f.dir + "/parts/checkpoints/step_00000012.h5"));
  auto resumed = run_process(acerl_cmd("", f, "parts", extra + " --resume"), 300);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("resumed from"));
  CHECK(trace_tool("equal " + quote(f.dir + "/whole/trace.h5") + " " +
                   quote(f.dir + "/parts/trace.h5") + " sft loss grad_norm lr") == "equal 12\n");
  // The losses compared are real ones: positive and changing from step to step.
  std::istringstream losses(trace_tool("column " + quote(f.dir + "/whole/trace.h5") + " sft loss"));
  std::vector<double> values{std::istream_iterator<double>(losses), {}};
  REQUIRE(values.size() == 12);
  CHECK(values.front() > 1.0);
  CHECK(values.back() < values.front());
}

TEST_CASE("sft.max_steps far below sft.epochs: only the epochs the run reaches are packed",
          "[sft]") {
  // A fixed step budget with "as many epochs as it takes" (the experiment jobs' SFT grid). Packing
  // all 200 million epochs up front would run out of memory long before the first step.
  SftFixture f = make_sft_fixture("sft_step_budget");
  auto r = run_process(
      acerl_cmd("", f, "run", "--sft.epochs=200000000 --sft.max_steps=3 --log.interval=1"), 300);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("sft step 3/3 | epoch 1/1 |"));
}

TEST_CASE("a 2-rank run stopped by SIGUSR1 through mpirun exits 75 and resumes identically",
          "[sft-mpi]") {
  SftFixture f = make_sft_fixture("sft_resume_np2");
  const std::string extra = "--sft.max_steps=10 --sft.lr=1e-3 --parallel.tp=2";
  auto whole = run_process(acerl_cmd(mpiexec(2), f, "whole", extra), 300);
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  auto stopped = interrupt(acerl_cmd(mpiexec(2), f, "parts", extra), f.dir + "/parts.log",
                           "sft step 3/10", "USR1");
  CHECK_THAT(stopped.out, Contains("exit=75"));
  auto resumed =
      run_process(acerl_cmd(mpiexec(2), f, "parts", extra + " --checkpoint.resume=auto"), 300);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(trace_tool("equal " + quote(f.dir + "/whole/trace.h5") + " " +
                   quote(f.dir + "/parts/trace.h5") + " sft loss grad_norm") == "equal 10\n");
  // The checkpoint written at tp=2 holds every tensor at the shape transformers expects.
  CHECK(trace_tool("checkpoint " + quote(f.dir + "/whole/checkpoints/step_00000010.h5") + " " +
                   quote(f.dir + "/model.json")) == "ok 27\n");
}

TEST_CASE("SIGKILL while a checkpoint is written leaves the previous one loadable and latest on it",
          "[sft]") {
  SftFixture f = make_sft_fixture("sft_kill");
  const std::string checkpoints = f.dir + "/run/checkpoints";
  const std::string args = "--sft.max_steps=8 --checkpoint.interval=2";
  // Each checkpoint pauses 4 s after its model tensors; kill the job inside the second one.
  std::string script =
      "ACERL_FAULT_CHECKPOINT_DELAY_MS=4000 " + acerl_cmd("", f, "run", args) + " > " +
      quote(f.dir + "/run.log") + " 2>&1 & pid=$!\n" + "for i in $(seq 1200); do [ -e " +
      quote(checkpoints + "/.step_00000004.h5.tmp") + " ] && break; sleep 0.05; done\n" +
      "sleep 1\nkill -9 $pid\nwait $pid\necho exit=$?\n";
  auto killed = run_process(script, 300);
  CHECK_THAT(killed.out, Contains("exit=137"));
  CHECK(std::filesystem::exists(checkpoints + "/.step_00000004.h5.tmp"));
  CHECK_FALSE(std::filesystem::exists(checkpoints + "/step_00000004.h5"));
  std::ifstream latest(checkpoints + "/latest");
  std::string pointed;
  latest >> pointed;
  CHECK(pointed == "step_00000002.h5");
  CHECK(trace_tool("checkpoint " + quote(checkpoints + "/step_00000002.h5") + " " +
                   quote(f.dir + "/model.json")) == "ok 27\n");
  // The trace survived the kill: h5py and `acerl trace` read the four finished steps.
  CHECK(trace_tool("column " + quote(f.dir + "/run/trace.h5") + " sft step") ==
        "1.0 2.0 3.0 4.0\n");
  auto csv =
      run_process(quote(ACERL_EXE) + " trace " + quote(f.dir + "/run/trace.h5") + " --csv sft");
  CHECK(csv.exit_code == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 5);  // header + 4 rows
  auto resumed = run_process(acerl_cmd("", f, "run", args + " --resume"), 300);
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Contains("step_00000002.h5 at step 2"));
  // The dead run's temporary file was removed at the start, with a line saying so.
  CHECK_THAT(resumed.out, Contains(".step_00000004.h5.tmp (left by a run that died)"));
  CHECK_FALSE(std::filesystem::exists(checkpoints + "/.step_00000004.h5.tmp"));
  CHECK(trace_tool("column " + quote(f.dir + "/run/trace.h5") + " sft step") ==
        "1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0\n");
}

namespace {

// Greedy answers of `model_args` on the fixture's held-out prompts, scored by the math reward.
int correct_answers(const SftFixture& f, const std::string& model_args, const std::string& name) {
  const std::string out = f.dir + "/" + name + ".jsonl";
  auto gen =
      run_process(quote(ACERL_EXE) + " generate " + quote(f.ini) + " " + model_args +
                  " --data.path=" + quote(f.eval) +
                  " --rollout.temperature=0 --rollout.max_new_tokens=40 --chat.use_system=false" +
                  " --generate.output=" + quote(out));
  INFO(gen.err);
  REQUIRE(gen.exit_code == 0);
  // completions + references -> the records `acerl data score` reads
  auto py = run_python(
      "-c " +
      quote("import json, sys\n"
            "ref = {json.loads(l)['id']: json.loads(l)['answer'] for l in open(sys.argv[1])}\n"
            "with open(sys.argv[3], 'w') as o:\n"
            "  for l in open(sys.argv[2]):\n"
            "    r = json.loads(l)\n"
            "    o.write(json.dumps({'type': 'math', 'response': r['completion'], "
            "'answer': ref[r['id']]}) + '\\n')\n") +
      " " + quote(f.eval) + " " + quote(out) + " " + quote(out + ".score_in"));
  REQUIRE(py.exit_code == 0);
  auto score = run_process(quote(ACERL_EXE) + " data score --input " + quote(out + ".score_in") +
                           " --output " + quote(out + ".scored"));
  REQUIRE(score.exit_code == 0);
  std::ifstream scored(out + ".scored");
  int correct = 0, n = 0;
  for (std::string line; std::getline(scored, line); ++n)
    correct += json::parse(line, "scored").at("score").as_number() > 0;
  CHECK(n == 40);
  return correct;
}

}  // namespace

TEST_CASE("SFT on a synthetic task drives the held-out loss down and makes greedy answers right",
          "[sft]") {
  SftFixture f = make_sft_fixture("sft_learns");
  const std::string model = "--model.init=" + quote(f.dir + "/model_medium.json");
  const int before = correct_answers(f, model, "before");
  auto train = run_process(
      acerl_cmd("", f, "run", model + " --sft.epochs=10 --sft.lr=1e-3 --chat.use_system=false"),
      600);
  INFO(train.out << train.err);
  REQUIRE(train.exit_code == 0);
  std::istringstream losses(
      trace_tool("column " + quote(f.dir + "/run/trace.h5") + " sft_eval loss"));
  std::vector<double> held_out{std::istream_iterator<double>(losses), {}};
  REQUIRE(held_out.size() == 10);
  // Measured on this task (seed 3): 1.44 after epoch 1, 0.0055 after epoch 10.
  CHECK(held_out.front() > 0.5);
  CHECK(held_out.back() < 0.05);
  const int after = correct_answers(
      f, "--model.path=" + quote(f.dir + "/run/checkpoints/step_00000300.h5"), "after");
  // Measured: 40 of 40 after, and an untrained model answers none (its text has no \boxed{}).
  CHECK(before <= 8);
  CHECK(after >= 36);
}
