// defines: recompute_logprobs, the learner-side recomputation of the log-probs (and entropies)
// of generated tokens with a plain full-sequence forward (no KV cache), vocab-parallel and
// through the pipeline. Comparing it with the rollout's own values measures the
// train/rollout mismatch (precision, kernels, cache) that off-policy corrections care about.
#pragma once

#include <vector>

#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/process_groups.h"

namespace acerl::rollout {

struct TokenScores {
  std::vector<float> logprobs;   // one per completion token
  std::vector<float> entropies;  // entropy of softmax(logits / T) at the same positions
};

// For each (prompt, completion): log softmax(logits / temperature) of every completion token.
// Collective over the replica's TP and PP ranks; every rank gets the result.
std::vector<TokenScores> recompute_logprobs(model::Qwen2ForCausalLMImpl& model,
                                            const parallel::ProcessGroups& groups,
                                            const std::vector<std::vector<int64_t>>& prompts,
                                            const std::vector<std::vector<int64_t>>& completions,
                                            double temperature, model::Precision precision);

}  // namespace acerl::rollout
