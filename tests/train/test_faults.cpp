// Faults a long cluster job meets, injected into real `acerl sft` runs: non-finite numbers (an
// injected NaN gradient, a diverging learning rate, weights that overflow), a full disk during a
// checkpoint and during a trace row (a small tmpfs in a private mount namespace), 20 SIGKILLs at
// random points of checkpoint writes, a rollback to an older checkpoint with newer ones on disk,
// broken `latest` pointers, run.deadline and $SLURM_JOB_END_TIME, and a hung rank. Each checks
// the exit code of the contract (0 / 1 / 2 / 75), what survives on disk, and the message.
#include "support/catch.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "support/process.h"
#include "support/sft_fixture.h"

using namespace acerl::test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string sft_cmd(const SftFixture& f, const std::string& run, const std::string& args,
                    const std::string& launcher = "") {
  return launcher + " " + quote(ACERL_EXE) + " sft " + quote(f.ini) +
         " --run.dir=" + quote(f.dir + "/" + run) + " " + args;
}

std::string trace_tool(const std::string& args) {
  auto r = run_python(quote(source_path("tests/train/trace_tool.py")) + " " + args);
  INFO(r.err);
  return r.out;
}

std::vector<double> column(const std::string& trace, const std::string& phase,
                           const std::string& name) {
  std::istringstream in(trace_tool("column " + quote(trace) + " " + phase + " " + name));
  std::vector<double> values;
  for (std::string v; in >> v;) values.push_back(std::stod(v));  // "nan" parses too
  return values;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string pointer(const std::string& checkpoints) {
  std::ifstream in(checkpoints + "/latest");
  std::string name;
  in >> name;
  return name;
}

}  // namespace

TEST_CASE("an injected NaN gradient skips that step on every rank; the run goes on and ends 0",
          "[faults]") {
  SftFixture f = make_sft_fixture("fault_nan_once");
  auto r = run_process("ACERL_FAULT_NAN_STEPS=3 ACERL_FAULT_NAN_RANK=1 " +
                           sft_cmd(f, "run",
                                   "--sft.max_steps=6 --parallel.dp=2 --checkpoint.interval=1 "
                                   "--checkpoint.keep=10",
                                   mpiexec(2)),
                       300);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("sft step 3: the gradient is not finite on rank 1; optimizer step "
                             "skipped on every rank (1 in a row, at most 3)"));
  const std::string trace = f.dir + "/run/trace.h5";
  CHECK(column(trace, "sft", "skipped") == std::vector<double>{0, 0, 1, 0, 0, 0});
  // The skipped step left the weights exactly as step 2 did; the next step moved them.
  const std::string dir = f.dir + "/run/checkpoints/";
  auto same_weights = [&](const std::string& a, const std::string& b) {
    auto r =
        run_python("-c " +
                   quote("import h5py, numpy as np, sys\n"
                         "a, b = h5py.File(sys.argv[1])['model'], h5py.File(sys.argv[2])['model']\n"
                         "print(all(np.array_equal(a[k][...], b[k][...]) for k in a))") +
                   " " + quote(dir + a) + " " + quote(dir + b));
    INFO(r.err);
    return r.out;
  };
  CHECK(same_weights("step_00000002.h5", "step_00000003.h5") == "True\n");
  CHECK(same_weights("step_00000003.h5", "step_00000004.h5") == "False\n");
  // The final checkpoint holds finite weights at the shapes transformers expects.
  CHECK(trace_tool("checkpoint " + quote(f.dir + "/run/checkpoints/step_00000006.h5") + " " +
                   quote(f.dir + "/model.json")) == "ok 27\n");
}

TEST_CASE(
    "a diverging run stops with exit 1 after train.max_bad_steps, naming the last good "
    "checkpoint",
    "[faults]") {
  SftFixture f = make_sft_fixture("fault_diverge");
  const std::string checkpoints = f.dir + "/run/checkpoints";
  auto r = run_process(sft_cmd(f, "run",
                               "--sft.max_steps=20 --sft.lr=1e10 --sft.warmup_steps=0 "
                               "--checkpoint.interval=1 --train.max_bad_steps=2"),
                       300);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("not finite"));
  CHECK_THAT(r.err, Contains("3 steps in a row, more than train.max_bad_steps = 2; stopping."));
  const std::string last = pointer(checkpoints);
  REQUIRE_FALSE(last.empty());
  CHECK_THAT(r.err, Contains("Last good checkpoint: " + checkpoints + "/" + last));
  // Every checkpoint left holds finite numbers (the skipped steps did not touch the weights).
  for (const auto& entry : fs::directory_iterator(checkpoints))
    if (entry.path().extension() == ".h5")
      CHECK(trace_tool("checkpoint " + quote(entry.path().string()) + " " +
                       quote(f.dir + "/model.json")) == "ok 27\n");
}

TEST_CASE(
    "weights that are not finite are never checkpointed: exit 1, the message names the "
    "tensor",
    "[faults]") {
  SftFixture f = make_sft_fixture("fault_overflow");
  // The hook sets one weight to infinity after the first optimizer step, whose loss and
  // gradient norm were finite (what an overflowing update or a flipped bit would leave).
  auto r = run_process("ACERL_FAULT_INF_WEIGHT_STEP=1 " +
                           sft_cmd(f, "run", "--sft.max_steps=3 --checkpoint.interval=1"),
                       300);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("refusing to write the checkpoint of step 1: 'model."));
  CHECK_THAT(r.err, Contains("is not finite; last good checkpoint: none"));
  CHECK_FALSE(fs::exists(f.dir + "/run/checkpoints/step_00000001.h5"));
  CHECK_FALSE(fs::exists(f.dir + "/run/checkpoints/latest"));
}

TEST_CASE(
    "resuming from an older checkpoint moves newer ones aside; latest and the new files "
    "survive rotation; the trace rows past the step are kept in a backup",
    "[faults]") {
  SftFixture f = make_sft_fixture("fault_rollback");
  const std::string checkpoints = f.dir + "/run/checkpoints";
  const std::string trace = f.dir + "/run/trace.h5";
  auto first = run_process(
      sft_cmd(f, "run", "--sft.max_steps=40 --checkpoint.interval=5 --checkpoint.keep=10"), 300);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  REQUIRE(fs::exists(checkpoints + "/step_00000040.h5"));
  // A rollback to step 10 (a loss spike), with keep = 2 and step 15..40 on disk.
  auto back = run_process(sft_cmd(f, "run",
                                  "--sft.max_steps=18 --checkpoint.interval=5 --checkpoint.keep=2 "
                                  "--checkpoint.resume=" +
                                      quote(checkpoints + "/step_00000010.h5")),
                          300);
  INFO(back.out << back.err);
  REQUIRE(back.exit_code == 0);
  CHECK_THAT(back.out, Contains("moving step_00000040.h5 (a later step of an earlier run) to"));
  CHECK(fs::exists(checkpoints + "/step_00000015.h5"));
  CHECK(fs::exists(checkpoints + "/step_00000018.h5"));
  CHECK(pointer(checkpoints) == "step_00000018.h5");
  // Rotation kept two: 15 and 18 (10 and 5 went); the moved files are all there.
  CHECK_FALSE(fs::exists(checkpoints + "/step_00000010.h5"));
  int moved = 0;
  for (const auto& entry : fs::recursive_directory_iterator(checkpoints + "/superseded"))
    moved += entry.path().extension() == ".h5";
  CHECK(moved == 6);  // 15, 20, ..., 40 of the first run
  // The trace has steps 1..18; the first run's 40 rows are in the backup file, and it says so.
  CHECK(column(trace, "sft", "step").size() == 18);
  std::string backup;
  for (const auto& entry : fs::directory_iterator(f.dir + "/run"))
    if (entry.path().filename().string().rfind("trace.superseded-", 0) == 0)
      backup = entry.path().string();
  REQUIRE_FALSE(backup.empty());
  CHECK_THAT(back.out, Contains("the whole trace is kept in " + backup));
  CHECK(column(backup, "sft", "step").size() == 40);
  // --resume continues from the new latest.
  auto again =
      run_process(sft_cmd(f, "run", "--sft.max_steps=20 --checkpoint.keep=2 --resume"), 300);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Contains("step_00000018.h5 at step 18"));
}

TEST_CASE("a broken latest pointer is a bad-input error naming it, never a restart from step 0",
          "[faults]") {
  SftFixture f = make_sft_fixture("fault_pointer");
  const std::string checkpoints = f.dir + "/run/checkpoints";
  auto first = run_process(sft_cmd(f, "run", "--sft.max_steps=4 --checkpoint.interval=2"), 300);
  REQUIRE(first.exit_code == 0);
  const std::string trace_before = read_text(f.dir + "/run/trace.h5");
  auto resume = [&] { return run_process(sft_cmd(f, "run", "--sft.max_steps=6 --resume"), 300); };
  SECTION("dangling") {
    std::ofstream(checkpoints + "/latest") << "step_00000099.h5\n";
    auto r = resume();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("checkpoint pointer " + checkpoints +
                               "/latest names 'step_00000099.h5', which does not exist"));
  }
  SECTION("empty") {
    std::ofstream(checkpoints + "/latest").flush();
    auto r = resume();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("checkpoint pointer " + checkpoints + "/latest is empty"));
  }
  SECTION("missing, with checkpoints present") {
    fs::remove(checkpoints + "/latest");
    auto r = resume();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("holds 2 checkpoints (newest step_00000004.h5) but no 'latest'"));
  }
  SECTION("a truncated checkpoint file") {
    fs::resize_file(checkpoints + "/step_00000004.h5", 1000);
    auto r = resume();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("step_00000004.h5' is not a readable HDF5 file"));
  }
  auto corrupt = [&](const std::string& mode) {
    auto edit = run_python("-c " +
                           quote("import h5py, numpy as np, sys\n"
                                 "with h5py.File(sys.argv[1], 'r+') as f:\n"
                                 "  d = f['model/model.norm.weight']\n"
                                 "  v = d[...]\n"
                                 "  if sys.argv[2] == 'nan':\n"
                                 "    v[0] = np.nan; d[...] = v\n"
                                 "  else:\n"
                                 "    del f['model/model.norm.weight']\n"
                                 "    f['model/model.norm.weight'] = v.astype(np.int32)\n") +
                           " " + quote(checkpoints + "/step_00000004.h5") + " " + mode);
    REQUIRE(edit.exit_code == 0);
    auto r = resume();
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("tensor 'model.norm.weight'"));
    return r.err;
  };
  SECTION("a NaN weight in the checkpoint") {
    CHECK_THAT(corrupt("nan"), Contains("holds NaN or infinite values"));
  }
  SECTION("an int32 tensor in the checkpoint") {
    CHECK_THAT(corrupt("int"), Contains("is int32; a checkpoint holds floating-point tensors"));
  }
  // Nothing was touched: the trace is as the first run left it.
  CHECK(read_text(f.dir + "/run/trace.h5") == trace_before);
}

TEST_CASE("run.deadline and $SLURM_JOB_END_TIME stop the run with a checkpoint and exit 75",
          "[faults]") {
  SftFixture f = make_sft_fixture("fault_deadline");
  const std::string checkpoints = f.dir + "/run/checkpoints";
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  // The margin covers the final checkpoint's write beyond its estimate and the exit; on a
  // loaded 2-core CI machine these took over a second, so it is 3 s here. The run must end
  // before the deadline, and not at once (a step here takes milliseconds; the bound leaves room
  // for slow steps on a loaded machine, which the estimate counts).
  SECTION("run.deadline = +DURATION") {
    auto r = run_process(sft_cmd(f, "run",
                                 "--sft.epochs=200 --run.deadline=+00:12 "
                                 "--run.deadline_margin_s=3"),
                         120);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 75);
    CHECK(r.seconds < 12);
    CHECK(r.seconds > 4);
    CHECK_THAT(r.out, Contains("for run.deadline ("));
  }
  SECTION("SLURM_JOB_END_TIME") {
    auto r = run_process("SLURM_JOB_END_TIME=" + std::to_string(now + 12) + " " +
                             sft_cmd(f, "run", "--sft.epochs=200 --run.deadline_margin_s=3"),
                         120);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 75);
    CHECK(r.seconds < 12);
    CHECK(r.seconds > 4);
    CHECK_THAT(r.out, Contains("for run.deadline ("));
  }
  const std::string last = pointer(checkpoints);
  REQUIRE_FALSE(last.empty());
  CHECK(trace_tool("checkpoint " + quote(checkpoints + "/" + last) + " " +
                   quote(f.dir + "/model.json")) == "ok 27\n");
}

namespace {

// Runs `command` inside a private mount namespace with `dir` on a tmpfs of `bytes` (the node's
// file systems are untouched). The tmpfs is filled up to `free_bytes` of free space first.
ProcessResult run_on_small_disk(const std::string& dir, int64_t bytes, int64_t free_bytes,
                                const std::string& command) {
  fs::create_directories(dir);
  const std::string fill = free_bytes >= 0
                               ? "avail=$(($(stat -f -c '%a*%S' " + quote(dir) + ")));" +
                                     " head -c $((avail - " + std::to_string(free_bytes) +
                                     ")) /dev/zero > " + quote(dir + "/filler") + ";"
                               : "";
  const std::string inner = "mount -t tmpfs -o size=" + std::to_string(bytes) + " tmpfs " +
                            quote(dir) + " || exit 99; " + fill + command;
  return run_process("unshare -m --propagation private sh -c " + quote(inner), 300);
}

}  // namespace

TEST_CASE(
    "a full disk during a checkpoint leaves the previous one latest and exits 1 naming "
    "the path",
    "[faults]") {
  SftFixture f = make_sft_fixture("fault_enospc_checkpoint");
  // Size of one checkpoint, from a normal run.
  auto probe = run_process(sft_cmd(f, "probe", "--sft.max_steps=2"), 300);
  REQUIRE(probe.exit_code == 0);
  const auto checkpoint_bytes =
      static_cast<int64_t>(fs::file_size(f.dir + "/probe/checkpoints/step_00000002.h5"));
  // Room for one and a half checkpoints (the trace goes elsewhere): the second one cannot be
  // completed while the first is kept.
  const std::string dir = f.dir + "/disk";
  auto r = run_on_small_disk(
      dir, checkpoint_bytes * 3 / 2, -1,
      sft_cmd(f, "disk/run",
              "--sft.max_steps=6 --checkpoint.interval=2 --checkpoint.keep=1 --trace.path=" +
                  quote(f.dir + "/trace.h5")) +
          "; echo exit=$?; cat " + quote(dir + "/run/checkpoints/latest") + "; ls -a " +
          quote(dir + "/run/checkpoints"));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code != 99);  // the tmpfs was mounted
  CHECK_THAT(r.out, Contains("exit=1"));
  CHECK_THAT(r.err, Contains(dir + "/run/checkpoints/.step_00000004.h5.tmp"));
  CHECK_THAT(r.out, Contains("step_00000002.h5\n"));  // latest still names the good one
}

TEST_CASE("a full disk while a trace row is written exits 1 naming the trace", "[faults]") {
  SftFixture f = make_sft_fixture("fault_enospc_trace");
  const std::string dir = f.dir + "/disk";
  // The checkpoints go elsewhere; the trace's file system has 48 KiB free.
  auto r = run_on_small_disk(dir, 8 << 20, 48 << 10,
                             sft_cmd(f, "run",
                                     "--sft.max_steps=400 --checkpoint.interval=0 "
                                     "--trace.path=" +
                                         quote(dir + "/trace.h5")) +
                                 "; echo exit=$?");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code != 99);
  CHECK_THAT(r.out, Contains("exit=1"));
  CHECK_THAT(r.err, Contains(dir + "/trace.h5"));
}

TEST_CASE(
    "20 SIGKILLs at random points of checkpoint writes: each resume reproduces the "
    "uninterrupted losses",
    "[faults]") {
  SftFixture f = make_sft_fixture("fault_kill_loop");
  const std::string args = "--sft.max_steps=24 --checkpoint.interval=1 --checkpoint.keep=2";
  // Each checkpoint pauses 300 ms after its model tensors, so writes take a while.
  const std::string env = "ACERL_FAULT_CHECKPOINT_DELAY_MS=300 ";
  auto whole = run_process(env + sft_cmd(f, "whole", args), 300);
  INFO(whole.out << whole.err);
  REQUIRE(whole.exit_code == 0);
  const std::string checkpoints = f.dir + "/parts/checkpoints";
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> delay_ms(0, 450);
  int killed_mid_write = 0;
  for (int i = 0; i < 20; ++i) {
    // Wait for a checkpoint being written, then kill at a random moment of (or after) it.
    const std::string script =
        env + sft_cmd(f, "parts", args + " --resume") + " > /dev/null 2>&1 & pid=$!\n" +
        "for i in $(seq 2000); do ls " + quote(checkpoints) +
        "/.step_*.tmp > /dev/null 2>&1 && break; kill -0 $pid 2>/dev/null || break; "
        "sleep 0.01; done\n" +
        "sleep " + std::to_string(delay_ms(rng) / 1000.0) + "\n" + "ls -a " + quote(checkpoints) +
        " | grep -c '^.step_.*tmp$'\n" + "kill -9 $pid\nwait $pid\n";
    auto r = run_process(script, 120);
    killed_mid_write += r.out.rfind("1\n", 0) == 0;
    // After every kill, `latest` is absent (nothing written yet) or names a complete file.
    const std::string last = pointer(checkpoints);
    if (!last.empty()) CHECK(fs::exists(checkpoints + "/" + last));
  }
  INFO("kills that landed while a temporary checkpoint file existed: " << killed_mid_write);
  CHECK(killed_mid_write >= 5);
  auto finish = run_process(env + sft_cmd(f, "parts", args + " --resume"), 300);
  INFO(finish.out << finish.err);
  REQUIRE(finish.exit_code == 0);
  CHECK(trace_tool("equal " + quote(f.dir + "/whole/trace.h5") + " " +
                   quote(f.dir + "/parts/trace.h5") + " sft loss grad_norm lr") == "equal 24\n");
}

TEST_CASE(
    "a hung rank ends the whole job within the collective timeout, naming rank, "
    "operation and step",
    "[faults]") {
  SftFixture f = make_sft_fixture("fault_hang");
  auto r = run_process("ACERL_FAULT_HANG_RANK=1 ACERL_FAULT_HANG_STEP=3 " +
                           sft_cmd(f, "run",
                                   "--sft.max_steps=10 --parallel.dp=2 "
                                   "--run.collective_timeout_s=5",
                                   mpiexec(2)),
                       120);
  INFO(r.out << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code != 0);
  CHECK(r.seconds < 60);
  CHECK_THAT(r.err, Contains("fault hook: hanging inside a collective at step 3"));
  CHECK_THAT(r.err, Contains(" at step 3 has not completed after "));
  CHECK_THAT(r.err, Contains("(run.collective_timeout_s = 5): another rank is hung or dead"));
}
