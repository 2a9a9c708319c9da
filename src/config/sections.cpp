// The keys of every config section, with their docs and constraints; see sections.h.
#include "config/sections.h"

#include "config/deadline.h"
#include "runtime/error.h"

namespace acerl::config {

namespace {

bool parse_step(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoll(text);
  return out >= 1;
}

}  // namespace

std::string step_range_problem(const std::string& text) {
  if (text.empty()) return "";
  const auto dash = text.find('-');
  int64_t first = 0, last = 0;
  const bool ok = dash == std::string::npos
                      ? parse_step(text, first)
                      : parse_step(text.substr(0, dash), first) &&
                            parse_step(text.substr(dash + 1), last) && first <= last;
  return ok ? "" : "expected a step (3) or a range of steps (3-5), counted from 1";
}

std::pair<int64_t, int64_t> parse_step_range(const std::string& text) {
  const std::string problem = step_range_problem(text);
  if (!problem.empty()) throw UsageError(str("run.profile_steps = '", text, "': ", problem));
  if (text.empty()) return {1, 0};
  const auto dash = text.find('-');
  if (dash == std::string::npos) return {std::stoll(text), std::stoll(text)};
  return {std::stoll(text.substr(0, dash)), std::stoll(text.substr(dash + 1))};
}

void describe_run(Schema& s, RunConfig& c) {
  s.section("run", "the run as a whole");
  s.add("name", &c.name, "name of the run; prefixes the files it writes");
  s.add("dir", &c.dir, "directory for everything the run writes (trace, checkpoints, outputs)");
  s.add("seed", &c.seed, "seed of every random stream (init, data order, sampling)").min(0);
  s.add("threads", &c.threads,
        "compute threads per rank; 0 = $OMP_NUM_THREADS, else the node's cores / ranks on the node")
      .min(0);
  s.add("device", &c.device,
        "where each rank computes: cuda (the GPU of its node-local rank, or the one GPU the batch "
        "system left visible to it), cpu, or auto (cuda when acerl was built with CUDA and a GPU is "
        "visible, else cpu)")
      .choices({"auto", "cpu", "cuda"});
  s.add("deadline", &c.deadline,
        "when the job must end: empty = $SLURM_JOB_END_TIME if set, else never; a Unix time in "
        "seconds; or +DURATION from the start (+3600, +90:00, +23:50:00, +1-00:00:00). A training "
        "job checkpoints and exits 75 when its next step would not fit before it")
      .check([&c] { return deadline_problem(c.deadline); });
  s.add("deadline_margin_s", &c.deadline_margin_s,
        "seconds kept free before run.deadline for the final checkpoint and the exit")
      .min(0);
  s.add("collective_timeout_s", &c.collective_timeout_s,
        "a blocking collective that has not completed after this many seconds aborts the whole "
        "job, naming the rank and the operation (a hung rank); 0 = no watchdog")
      .min(0);
  s.add("profile_steps", &c.profile_steps,
        "acerl sft / rl: record these steps (3, or 3-5, counted from 1) with the LibTorch "
        "profiler; every rank writes <run.dir>/profile/<command>_rank<R>.json (a Chrome trace), "
        "tools/profile_table.py sums them op by op; empty = off")
      .check([&c] { return step_range_problem(c.profile_steps); });
}

void describe_parallel(Schema& s, ParallelConfig& c) {
  s.section("parallel", "layout of the ranks: world size = dp * pp * tp");
  s.add("tp", &c.tp, "tensor-parallel ranks (split heads, MLP and vocab)").min(1);
  s.add("pp", &c.pp, "pipeline-parallel stages (split layers)").min(1);
  s.add("dp", &c.dp,
        "data-parallel replicas; 0 = world size / (tp * pp) (acerl rl's split layout: the "
        "learner ranks / (tp * pp))")
      .min(0);
  s.add("rollout_ranks", &c.rollout_ranks,
        "acerl rl: the last this many ranks only generate and score (rollout replicas of "
        "rollout_tp x rollout_pp ranks, any number of them for any number of learner "
        "replicas), the others only learn (dp counts their replicas); 0 = every rank does both (colocated). "
        "Other commands run colocated on every rank")
      .min(0);
  s.add("rollout_tp", &c.rollout_tp,
        "acerl rl split layout: the rollout replicas' tensor-parallel size: 0 = the learner's "
        "tp, or 1 together with rollout_pp = 1 (each rollout replica is one rank holding the "
        "whole model; the learner replica's tp and pp shards are gathered into it)")
      .min(0);
  s.add("rollout_pp", &c.rollout_pp,
        "acerl rl split layout: the rollout replicas' pipeline stages: 0 = the learner's pp, or "
        "1 together with rollout_tp = 1 (see rollout_tp)")
      .min(0);
}

void describe_log(Schema& s, LogConfig& c) {
  s.section("log", "progress output");
  s.add("interval", &c.interval, "print one progress line every this many steps").min(1);
}

void describe_tokenizer(Schema& s, TokenizerConfig& c) {
  s.section("tokenizer", "the tokenizer (Hugging Face tokenizer.json, byte-level BPE)");
  s.add("path", &c.path, "tokenizer.json of the model (usually next to its config.json)");
}

void describe_chat(Schema& s, ChatConfig& c) {
  s.section("chat", "chat format of prompts and SFT conversations (Qwen2.5 <|im_start|> turns)");
  s.add("use_system", &c.use_system,
        "open every conversation with a system turn holding chat.system (unless it has one)");
  s.add("system", &c.system, "text of the system turn");
  s.add("math_instruction", &c.math_instruction,
        "appended to math questions (after a blank line); empty = nothing");
  s.add("code_instruction", &c.code_instruction,
        "appended to code questions (after a blank line); empty = nothing");
  s.add("think_prefix", &c.think_prefix,
        "text that opens the assistant turn being generated or trained (the reasoning prompt)");
}

void describe_code_reward(Schema& s, CodeRewardConfig& c) {
  s.section("reward.code", "code reward: run the response's last ```python block on the tests");
  s.add("workers", &c.workers,
        "sandboxed programs run at once on this rank; 0 = one per hardware thread")
      .min(0);
  s.add("timeout_s", &c.timeout_s,
        "wall-clock limit of one test run in seconds (CPU limit: the next whole second + 1)")
      .min(0, true);
  s.add("memory_mb", &c.memory_mb, "address-space limit (RLIMIT_AS) of every process of a run")
      .min(64);
  s.add("max_output_kb", &c.max_output_kb,
        "stdout (and stderr) a run may print before it is killed (verdict output_limit)")
      .min(1);
  s.add("max_processes", &c.max_processes,
        "processes + threads a run may have (RLIMIT_NPROC inside the sandbox)")
      .min(1);
  s.add("python", &c.python, "absolute path of the interpreter that runs the programs");
  s.add("sandbox", &c.sandbox,
        "auto = bubblewrap if it works here, else the rlimit fallback when allow_unsafe (with a "
        "warning) or an error; bwrap = bubblewrap or fail; rlimit = rlimits + seccomp + Landlock "
        "only (weaker isolation; needs allow_unsafe)")
      .choices({"auto", "bwrap", "rlimit"});
  s.add("allow_unsafe", &c.allow_unsafe,
        "let programs run outside bubblewrap (sandbox = rlimit, or auto where bubblewrap cannot "
        "run); false = that is a usage error saying how to get bubblewrap");
  s.add("prestart", &c.prestart,
        "bubblewrap: keep one sandbox per worker whose Python has already started and forks a "
        "fresh child per test (a sandbox a run left anything in is replaced); false = a new "
        "sandbox and interpreter per test. The rlimit fallback always starts one per test");
  s.add("stop_at_first_failure", &c.stop_at_first_failure,
        "skip a response's remaining tests once one failed (its reward is 0 anyway)");
}

void describe_math_reward(Schema& s, MathRewardConfig& c) {
  s.section("reward.math",
            "math reward: the last \\boxed{} answer after </think> vs the reference");
  s.add("rel_tol", &c.rel_tol,
        "relative tolerance when either value is a decimal or irrational; exact fractions and "
        "integers must match exactly")
      .min(0)
      .max(0.1);
  s.add("max_answer_chars", &c.max_answer_chars,
        "longer extracted answers (or references) are scored 0 as unparsable")
      .min(1);
}

}  // namespace acerl::config
