// Learner-side log-prob recomputation; see recompute.h.
#include "rollout/recompute.h"

#include "model/attention.h"
#include "parallel/pipeline_schedule.h"
#include "parallel/vocab_parallel.h"
#include "runtime/error.h"

namespace acerl::rollout {

std::vector<TokenScores> recompute_logprobs(model::Qwen2ForCausalLMImpl& model,
                                            const parallel::ProcessGroups& groups,
                                            const std::vector<std::vector<int64_t>>& prompts,
                                            const std::vector<std::vector<int64_t>>& completions,
                                            double temperature, model::Precision precision) {
  torch::NoGradGuard no_grad;
  const torch::Device device = model.device();
  model::AutocastScope autocast(precision, device.type());
  ACERL_CHECK(prompts.size() == completions.size(),
              "recompute_logprobs: prompts and completions differ in number");
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t width = 1;
  for (int64_t b = 0; b < B; ++b)
    width =
        std::max<int64_t>(width, static_cast<int64_t>(prompts[b].size() + completions[b].size()));
  // Right-padded rows; padding is its own document so it never touches real tokens.
  torch::Tensor ids = torch::zeros({B, width}, torch::kInt64);
  torch::Tensor doc_ids = torch::full({B, width}, -1, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> row = prompts[b];
    row.insert(row.end(), completions[b].begin(), completions[b].end());
    const int64_t n = static_cast<int64_t>(row.size());
    ids[b].narrow(0, 0, n).copy_(torch::tensor(row, torch::kInt64));
    doc_ids[b].narrow(0, 0, n).fill_(0);
  }
  torch::Tensor positions = torch::arange(width).repeat({B, 1}).to(device);
  ids = ids.to(device);
  doc_ids = doc_ids.to(device);
  const auto& config = model.config();
  const int64_t n_out = width * 2;
  torch::Tensor packed = torch::zeros({B, n_out}, torch::kFloat32);  // logprobs then entropies
  torch::Tensor out =
      parallel::pipeline_forward(groups, ids, {B, width, config.hidden_size}, torch::kFloat32,
                                 [&](const torch::Tensor& input) {
                                   model::AutocastScope autocast(precision, device.type());
                                   torch::Tensor result = model.forward(
                                       input, model::training_inputs(positions, doc_ids, config));
                                   return model.stage().head ? result : result.to(torch::kFloat32);
                                 });
  if (model.stage().head) {
    // Logits at position t predict token t + 1.
    torch::Tensor logits = out.narrow(1, 0, width - 1).reshape({B * (width - 1), -1});
    torch::Tensor targets = ids.narrow(1, 1, width - 1).reshape({-1});
    torch::Tensor logprob = parallel::vocab_parallel_logprob(logits, targets, model.vocab_start(),
                                                             groups.tp(), temperature);
    torch::Tensor entropy = parallel::vocab_parallel_entropy(logits, groups.tp(), temperature);
    packed.narrow(1, 1, width - 1).copy_(logprob.view({B, width - 1}));
    packed.narrow(1, width + 1, width - 1).copy_(entropy.view({B, width - 1}));
  }
  groups.pp().broadcast(packed, groups.pp().size() - 1);
  std::vector<TokenScores> scores(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t start = static_cast<int64_t>(prompts[b].size()),
                  n = static_cast<int64_t>(completions[b].size());
    torch::Tensor lp = packed[b].narrow(0, start, n).contiguous(),
                  en = packed[b].narrow(0, width + start, n).contiguous();
    scores[b].logprobs.assign(lp.data_ptr<float>(), lp.data_ptr<float>() + n);
    scores[b].entropies.assign(en.data_ptr<float>(), en.data_ptr<float>() + n);
  }
  return scores;
}

}  // namespace acerl::rollout
