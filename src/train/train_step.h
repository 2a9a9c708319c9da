// defines: PackedRows (one step's training rows of this data-parallel rank) and
// forward_backward, the parallel forward+backward of a language-model loss: micro-batches go
// through the 1F1B pipeline, logits stay vocab-parallel, and the loss is the mean over every
// loss token of the global batch (all DP ranks), so any layout computes the same step.
#pragma once

#include <torch/torch.h>

#include <functional>

#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/grad_sync.h"
#include "parallel/process_groups.h"

namespace acerl::train {

struct PackedRows {
  torch::Tensor ids;        // (n, T) int64
  torch::Tensor positions;  // (n, T) int64, restarting at every document
  torch::Tensor doc_ids;    // (n, T) int64, -1 = padding; undefined = one document per row
  torch::Tensor targets;    // (n, T) int64, the next token
  torch::Tensor weights;    // (n, T) float32 per-token loss weight (0 = no loss)
  // RL only (undefined otherwise), aligned with targets: the advantage of the rollout a target
  // token belongs to, the log-prob the rollout sampled it with, and a frozen reference's.
  torch::Tensor advantages, rollout_logprobs, ref_logprobs;
  int64_t rows() const { return ids.size(0); }
  // Rows [start, start + count) of every defined tensor (views, no copy).
  PackedRows narrow(int64_t start, int64_t count) const;
  // Every defined tensor on `device`: to a GPU through pinned host memory with non-blocking
  // copies (ordered on the compute stream); tensors already there are shared, not copied.
  PackedRows to(const torch::Device& device) const;
};

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
// `micro_rows` rows; gradients accumulate in the parameters. When `sync` is given it is armed before the last backward and finished, so
// gradients are summed over data-parallel ranks on return.
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
