// Parallel forward+backward of the LM loss; see train_step.h.
#include "train/train_step.h"

#include "parallel/pipeline_schedule.h"
#include "parallel/vocab_parallel.h"
#include "runtime/error.h"

namespace acerl::train {

namespace {

// Rows [start, start + count) without the padding columns all of them end with: a micro-batch
// computes only as wide as its widest row's documents (`used` from PackedRows::used_columns).
PackedRows micro_batch(const PackedRows& rows, const torch::Tensor& used, int64_t start,
                       int64_t count) {
  PackedRows m = rows.narrow(start, count);
  if (!used.defined()) return m;
  const int64_t width = std::max<int64_t>(1, used.narrow(0, start, count).max().item<int64_t>());
  return m.narrow_columns(width);
}

}  // namespace

StepResult forward_backward(model::Qwen2ForCausalLMImpl& model,
                            const parallel::ProcessGroups& groups, const PackedRows& host_rows,
                            int64_t micro_rows, model::Precision precision,
                            parallel::GradSync* sync, const TokenLoss& token_loss,
                            const LossOptions& options) {
  const PackedRows rows = host_rows.to(model.device());
  ACERL_CHECK(micro_rows > 0, "micro-batches of ", micro_rows, " rows");
  const auto& config = model.config();
  // Micro-batches of micro_rows rows, the last one with what is left.
  const int64_t n_micro = (rows.rows() + micro_rows - 1) / micro_rows;
  StepResult result;
  torch::Tensor weight =
      torch::tensor({rows.weights.to(torch::kFloat64).sum().item<double>()}, torch::kFloat64);
  groups.dp().all_reduce(weight);
  result.global_weight = weight.item<double>();
  const double normaliser = std::max(result.global_weight, 1e-12);

  const torch::Tensor used = host_rows.used_columns();
  std::vector<PackedRows> micro(static_cast<size_t>(n_micro));
  for (int64_t i = 0; i < n_micro; ++i)
    micro[static_cast<size_t>(i)] = micro_batch(
        rows, used, i * micro_rows, std::min(micro_rows, rows.rows() - i * micro_rows));

  parallel::PipelineStep step;
  step.n_micro = n_micro;
  step.activation_shape = [&](int64_t i) -> std::vector<int64_t> {
    const PackedRows& m = micro[static_cast<size_t>(i)];
    return {m.rows(), m.ids.size(1), config.hidden_size};
  };
  step.first_input = [&](int64_t i) { return micro[static_cast<size_t>(i)].ids; };
  step.forward = [&](int64_t i, const torch::Tensor& input) {
    const PackedRows& m = micro[static_cast<size_t>(i)];
    model::AutocastScope autocast(precision, model.device().type());
    auto inputs = model::training_inputs(m.positions, m.doc_ids, config, m.segment_ids);
    torch::Tensor out = model.forward(input, inputs);
    // Stages exchange float32 activations whatever the compute precision.
    return model.stage().head ? out : out.to(torch::kFloat32);
  };
  step.loss = [&](int64_t i, const torch::Tensor& logits) {
    const PackedRows& m = micro[static_cast<size_t>(i)];
    torch::Tensor flat = logits.reshape({-1, logits.size(-1)});
    torch::Tensor logprob = parallel::vocab_parallel_logprob(
        flat, m.targets.reshape({-1}), model.vocab_start(), groups.tp(), options.temperature);
    torch::Tensor entropy;
    if (options.entropy)
      entropy = parallel::vocab_parallel_entropy(flat, groups.tp(), options.temperature);
    if (token_loss) return token_loss(logprob, entropy, m, normaliser);
    return -(logprob * m.weights.reshape({-1})).sum() / normaliser;
  };
  step.before_backward = [&](int64_t i) {
    if (sync && i == n_micro - 1) sync->arm();
  };
  double local = parallel::run_1f1b(groups, step);
  model.release_checkpointed_inputs();
  if (sync) sync->finish();

  // The loss lives on the last stage of each replica: sum over replicas, then share with all.
  torch::Tensor loss = torch::tensor({local}, torch::kFloat64);
  groups.dp().all_reduce(loss);
  groups.pp().broadcast(loss, groups.pp().size() - 1);
  result.loss = loss.item<double>();
  return result;
}

namespace {

// The no-grad forward of `rows` in micro-batches through the pipeline; `on_logits(start, m,
// logits)` runs on the last stage with each micro-batch's vocab-parallel logits.
template <typename OnLogits>
void forward_micro_batches(model::Qwen2ForCausalLMImpl& model,
                           const parallel::ProcessGroups& groups, const PackedRows& host_rows,
                           int64_t micro_rows, model::Precision precision, OnLogits on_logits) {
  torch::NoGradGuard no_grad;
  const PackedRows rows = host_rows.to(model.device());
  const auto device_type = model.device().type();
  // Weights cast to bf16 once for all micro-batches.
  model::AutocastScope autocast(precision, device_type);
  const auto& config = model.config();
  const torch::Tensor used = host_rows.used_columns();
  for (int64_t start = 0; start < rows.rows(); start += micro_rows) {
    const int64_t n = std::min(micro_rows, rows.rows() - start);
    PackedRows m = micro_batch(rows, used, start, n);
    const int64_t T = m.ids.size(1);
    torch::Tensor logits = parallel::pipeline_forward(
        groups, m.ids, {n, T, config.hidden_size}, torch::kFloat32,
        [&](const torch::Tensor& input) {
          model::AutocastScope autocast(precision, device_type);
          torch::Tensor out =
              model.forward(input, model::training_inputs(m.positions, m.doc_ids, config, m.segment_ids));
          return model.stage().head ? out : out.to(torch::kFloat32);
        });
    if (model.stage().head) on_logits(start, m, logits.reshape({-1, logits.size(-1)}));
  }
}

}  // namespace

StepResult evaluate_loss(model::Qwen2ForCausalLMImpl& model, const parallel::ProcessGroups& groups,
                         const PackedRows& rows, int64_t micro_rows, model::Precision precision) {
  // Weighted loss and weight, summed where the logits are.
  torch::Tensor sums = torch::zeros({2}, torch::dtype(torch::kFloat64).device(model.device()));
  forward_micro_batches(model, groups, rows, micro_rows, precision,
                        [&](int64_t, const PackedRows& m, const torch::Tensor& logits) {
                          torch::Tensor logprob = parallel::vocab_parallel_logprob(
                              logits, m.targets.reshape({-1}), model.vocab_start(), groups.tp());
                          torch::Tensor w = m.weights.reshape({-1}).to(torch::kFloat64);
                          sums[0] += -(logprob.to(torch::kFloat64) * w).sum();
                          sums[1] += w.sum();
                        });
  sums = sums.cpu();
  groups.dp().all_reduce(sums);
  groups.pp().broadcast(sums, groups.pp().size() - 1);
  StepResult result;
  result.global_weight = sums[1].item<double>();
  result.loss = sums[0].item<double>() / std::max(result.global_weight, 1e-12);
  return result;
}

torch::Tensor token_logprobs(model::Qwen2ForCausalLMImpl& model,
                             const parallel::ProcessGroups& groups, const PackedRows& rows,
                             int64_t micro_rows, model::Precision precision, double temperature) {
  const int64_t T = rows.ids.size(1);
  torch::Tensor out = torch::zeros({rows.rows(), T}, torch::kFloat32);
  forward_micro_batches(
      model, groups, rows, micro_rows, precision,
      [&](int64_t start, const PackedRows& m, const torch::Tensor& logits) {
        // A micro-batch may be narrower than the rows: its columns are the first ones.
        const int64_t width = m.ids.size(1);
        out.narrow(0, start, m.ids.size(0))
            .narrow(1, 0, width)
            .copy_(parallel::vocab_parallel_logprob(logits, m.targets.reshape({-1}),
                                                    model.vocab_start(), groups.tp(), temperature)
                       .view({m.ids.size(0), width}));
      });
  groups.pp().broadcast(out, groups.pp().size() - 1);
  return out;
}

}  // namespace acerl::train
