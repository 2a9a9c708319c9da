// defines: forward_backward, the parallel forward+backward of a language-model loss: micro-batches go
// through the 1F1B pipeline, logits stay vocab-parallel, and the loss is the mean over every
// loss token of the global batch (all DP ranks), so any layout computes the same step.
#pragma once

#include <torch/torch.h>

#include <functional>

#include "data/packed_rows.h"
#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/grad_sync.h"
#include "parallel/process_groups.h"

namespace acerl::train {

// The rows live in data/ (built by data/packing and rl/rollout_batch); the step consumes them.
using data::PackedRows;

// The loss of one micro-batch on the last stage, from per-token log-probs (b*T) of the targets
// and the micro-batch's rows. Default (nullptr): token-level cross-entropy,
// -sum(weights * logprob) / global_weight.
// `entropy` (b*T) is defined only when forward_backward was asked for it.
using TokenLoss =
    std::function<torch::Tensor(const torch::Tensor& logprob, const torch::Tensor& entropy,
                                const PackedRows& micro, double global_weight)>;

struct LossOptions {
  double temperature = 1.0;  // log-probs (and entropy) of softmax(logits / temperature)
  bool entropy = false;      // also compute per-token entropy (with gradient) for the loss
};

struct StepResult {
  double loss = 0;           // global loss of the step (every rank has it)
  double global_weight = 0;  // sum of the loss weights over the global batch
};

// Forward+backward of `rows` (on any device: they move to the model's) in micro-batches of
// `micro_rows` rows (the last one with the rows left); gradients accumulate in the parameters.
// When `sync` is given it is armed before the last backward and finished, so gradients are
// summed over data-parallel ranks on return.
StepResult forward_backward(model::Qwen2ForCausalLMImpl& model,
                            const parallel::ProcessGroups& groups, const PackedRows& rows,
                            int64_t micro_rows, model::Precision precision,
                            parallel::GradSync* sync, const TokenLoss& token_loss = nullptr,
                            const LossOptions& options = {});

// Forward only: log softmax(logits / temperature) of every target, (n, T) on every rank of the
// replica (e.g. a frozen reference policy's log-probs for the KL term).
torch::Tensor token_logprobs(model::Qwen2ForCausalLMImpl& model,
                             const parallel::ProcessGroups& groups, const PackedRows& rows,
                             int64_t micro_rows, model::Precision precision, double temperature);

// Forward only: the weighted mean cross-entropy over `rows` of every data-parallel rank (for
// held-out evaluation). Every rank gets the result.
StepResult evaluate_loss(model::Qwen2ForCausalLMImpl& model, const parallel::ProcessGroups& groups,
                         const PackedRows& rows, int64_t micro_rows, model::Precision precision);

}  // namespace acerl::train
