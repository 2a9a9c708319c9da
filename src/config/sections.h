// defines: Config and its section structs: the typed configuration of a run. Each section is a
// plain struct with defaults; describe_<section> registers its keys (doc, constraints) with a
// Schema, which gives parsing, --help and validation from that single definition.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "config/schema.h"

namespace acerl::config {

struct RunConfig {
  std::string name = "acerl";
  std::string dir = "acerl-run";
  int64_t seed = 1234;
  int threads = 0;
  std::string device = "auto";  // auto | cpu | cuda (runtime/device.h)
  // When the job must be done: "" = $SLURM_JOB_END_TIME when set, else none; a Unix time in
  // seconds; or "+DURATION" from the start ("+3600", "+90:00", "+23:50:00", "+1-00:00:00").
  std::string deadline;
  double deadline_margin_s = 60;       // kept free before the deadline (checkpoint + exit)
  double collective_timeout_s = 1800;  // watchdog on every blocking collective; 0 = off
  std::string profile_steps;           // "" | "S" | "A-B": steps the LibTorch profiler records
};

// run.profile_steps: [first, last], 1-based; "" = none ({1, 0}); "S" or "A-B". parse_step_range
// throws UsageError on any other text, step_range_problem says what is wrong ("" when valid).
std::pair<int64_t, int64_t> parse_step_range(const std::string& text);
std::string step_range_problem(const std::string& text);

struct ParallelConfig {
  int tp = 1;
  int pp = 1;
  int dp = 0;  // 0: whatever is left of the world size after tp * pp
  int rollout_ranks = 0;  // acerl rl: ranks that only generate (0 = colocated)
  int rollout_tp = 0;     // acerl rl: the rollout replicas' tp (0 = the learner's)
  int rollout_pp = 0;     // acerl rl: the rollout replicas' pp (0 = the learner's)
};

struct LogConfig {
  int interval = 1;
};

// The tokenizer of the model: a Hugging Face tokenizer.json with a byte-level BPE model.
struct TokenizerConfig {
  std::string path;
};

// The chat format of prompts and SFT conversations (Qwen2.5 turns, the recipe's reasoning prompt).
struct ChatConfig {
  bool use_system = true;
  std::string system = "You are a helpful assistant. Think step by step before you answer.";
  std::string math_instruction =
      "Please reason step by step, and put your final answer within \\boxed{}.";
  std::string code_instruction =
      "Write a Python program that solves the problem, reading from standard input and writing to "
      "standard output. Put the complete program in one ```python code block at the end of your "
      "answer.";
  std::string think_prefix = "<think>\n";
};

// The code reward: sandboxed execution of the submitted Python program (src/reward/code_*).
struct CodeRewardConfig {
  int workers = 0;  // 0: one per hardware thread
  double timeout_s = 5;
  int memory_mb = 1024;
  int max_output_kb = 1024;
  int max_processes = 16;
  std::string python = "/usr/bin/python3";
  std::string sandbox = "auto";
  bool allow_unsafe = false;  // run programs outside bubblewrap (the rlimit fallback) at all
  bool prestart = true;       // bwrap: one pre-started interpreter per worker, a fork per run
  bool stop_at_first_failure = true;
};

// The math reward: answer extraction and equivalence checking (src/reward/math_*), mapped onto
// reward::MathCheckOptions by whoever builds the reward.
struct MathRewardConfig {
  double rel_tol = 1e-6;
  int max_answer_chars = 2000;
};

void describe_run(Schema& schema, RunConfig& c);
void describe_parallel(Schema& schema, ParallelConfig& c);
void describe_log(Schema& schema, LogConfig& c);
void describe_tokenizer(Schema& schema, TokenizerConfig& c);
void describe_chat(Schema& schema, ChatConfig& c);

void describe_code_reward(Schema& schema, CodeRewardConfig& c);
void describe_math_reward(Schema& schema, MathRewardConfig& c);

}  // namespace acerl::config
