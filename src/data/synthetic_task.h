// defines: the synthetic reasoning task of the quickstart (`acerl data synth`): arithmetic word
// problems (one addition or subtraction) with verifiable answers and two distinct worked
// solutions per prompt in the recipe's format (<think> ... </think> then \boxed{}), plus a small
// code task (read two integers, print a combination) with stdin/stdout tests. Like a distilled
// teacher, the SFT solutions slip now and then (right reasoning, boxed answer off by one or two):
// SFT learns the task and the slips, and RL's verifiable reward has something to remove.
// Deterministic from a seed; SFT, RL and held-out evaluation prompts never share a problem.
#pragma once

#include <cstdint>
#include <string>

namespace acerl::data {

struct SynthOptions {
  uint64_t seed = 1;
  int64_t sft_prompts = 600;      // prompts with worked solutions (sft.jsonl)
  int64_t solutions_per_prompt = 2;
  int64_t rl_prompts = 1500;      // prompts with answers / tests (rl.jsonl)
  int64_t eval_prompts = 300;     // held-out prompts (eval.jsonl)
  double code_fraction = 0.2;     // share of code problems in every split
  double slip_rate = 0.3;         // SFT solutions whose boxed answer is off by one or two
};

struct SynthCounts {
  int64_t sft = 0, rl = 0, eval = 0;
};

// Writes dir/sft.jsonl, dir/rl.jsonl, dir/eval.jsonl and dir/corpus.txt (all the task's text,
// for training a tokenizer).
SynthCounts write_synthetic_task(const std::string& dir, const SynthOptions& options);

}  // namespace acerl::data
