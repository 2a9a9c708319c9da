// defines: the synthetic reasoning task of the quickstart (`acerl data synth`): arithmetic word
// problems (one addition or subtraction) with verifiable answers and two distinct worked
// solutions per prompt in the recipe's format (<think> ... </think> then \boxed{}), plus a small
// code task (read two integers, print a combination) with stdin/stdout tests. Like a distilled
// teacher, the SFT solutions slip now and then (right reasoning, boxed answer off by one or two):
// SFT learns the task and the slips, and RL's verifiable reward has something to remove.
// Deterministic from a seed; SFT, RL and held-out evaluation prompts never share a problem.
//
// With digits = 2 the math problems take operands 10..99 (b not a multiple of ten; a
// subtraction's operands in different decades, so that every method applies) and come with up to
// four worked solutions by different methods, each a chain of steps (the data-scaling experiment's
// task: responses to one prompt differ, and held-out problems are mostly new sums). A slip there
// changes one step and the rest of the chain follows from it. As with one digit, a problem is
// its story, names and numbers together: a held-out problem's number pair may occur in training
// under another name (46 of the 300 held-out problems in the experiment jobs' data).
#pragma once

#include <cstdint>
#include <string>

namespace acerl::data {

struct SynthOptions {
  uint64_t seed = 1;
  int64_t sft_prompts = 600;         // prompts with worked solutions (sft.jsonl)
  int64_t solutions_per_prompt = 2;  // 1..2 (digits 1) or 1..4 (digits 2); code problems: 2
  int digits = 1;                    // operand digits of the math problems: 1 or 2
  int64_t rl_prompts = 1500;         // prompts with answers / tests (rl.jsonl)
  int64_t eval_prompts = 300;        // held-out prompts (eval.jsonl)
  double code_fraction = 0.2;        // share of code problems in every split
  double slip_rate = 0.3;            // SFT solutions whose boxed answer is wrong (a teacher slip)
};

struct SynthCounts {
  int64_t sft = 0, rl = 0, eval = 0;
};

// Writes dir/sft.jsonl, dir/rl.jsonl, dir/eval.jsonl and dir/corpus.txt (all the task's text,
// for training a tokenizer).
SynthCounts write_synthetic_task(const std::string& dir, const SynthOptions& options);

}  // namespace acerl::data
