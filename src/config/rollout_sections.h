// defines: the config sections of sampling jobs: [rollout] (how completions are sampled: the
// generator's knobs, shared by generate, rl, eval and tune-temperature) and [generate] (the
// files of `acerl generate`).
#pragma once

#include <cstdint>
#include <string>

#include "config/schema.h"

namespace acerl::config {

struct RolloutConfig {
  int64_t n = 1;             // completions per prompt
  double temperature = 1.0;  // 0 = greedy
  double top_p = 1.0;
  int64_t top_k = 0;
  int64_t max_new_tokens = 1024;
  std::string stop = "<|im_end|>,<|endoftext|>";
  int64_t max_batch = 64;
  DoubleList entropy_temperatures;  // extra temperatures of the per-token entropy curve
  std::string decode = "compact";   // compact | slots | graphs (rollout::DecodeMode)
  bool shared_prefill = true;       // the samples of a prompt share one prefill
};

struct GenerateConfig {
  std::string output;  // "" = <run.dir>/completions.jsonl
  bool chat = true;    // wrap prompts in the chat template (else tokenize them as they are)
};

void describe_rollout(Schema& schema, RolloutConfig& c);
void describe_generate(Schema& schema, GenerateConfig& c);

}  // namespace acerl::config
