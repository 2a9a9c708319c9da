// Vocab-parallel log-prob, cross-entropy and entropy at temperature T on 2 TP ranks equal the
// single-rank computation from full logits (LibTorch log_softmax, autograd), values and
// gradients.
#include "support/catch.h"

#include <torch/torch.h>

#include "parallel/process_groups.h"
#include "parallel/vocab_parallel.h"

using namespace acerl::parallel;

TEST_CASE("vocab-parallel logprob and entropy equal the full-vocabulary computation",
          "[parallel-np2]") {
  ProcessGroups groups(MPI_COMM_WORLD, {2, 1, 1});
  torch::manual_seed(11);  // same on every rank
  const int64_t N = 7, V = 12, local = V / 2;
  torch::Tensor full = torch::randn({N, V}, torch::kFloat64).to(torch::kFloat32) * 3;
  torch::Tensor targets = torch::tensor({0, 5, 6, 11, 3, 7, 6}, torch::kInt64);  // both halves
  torch::Tensor w_logprob = torch::randn({N}), w_entropy = torch::randn({N});
  for (double temperature : {1.0, 0.6, 1.3}) {
    INFO("T = " << temperature);
    // Reference on the full logits.
    torch::Tensor ref_logits = full.clone().requires_grad_(true);
    torch::Tensor logp = torch::log_softmax(ref_logits / temperature, -1);
    torch::Tensor ref_logprob = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
    torch::Tensor ref_entropy = -(logp.exp() * logp).sum(-1);
    ((w_logprob * ref_logprob).sum() + (w_entropy * ref_entropy).sum()).backward();
    // This rank's half of the vocabulary.
    const int64_t start = groups.tp_rank() * local;
    torch::Tensor mine = full.narrow(1, start, local).clone().requires_grad_(true);
    torch::Tensor logprob = vocab_parallel_logprob(mine, targets, start, groups.tp(), temperature);
    torch::Tensor entropy = vocab_parallel_entropy(mine, groups.tp(), temperature);
    ((w_logprob * logprob).sum() + (w_entropy * entropy).sum()).backward();
    CHECK(torch::allclose(logprob, ref_logprob, 1e-5, 1e-5));
    CHECK(torch::allclose(entropy, ref_entropy, 1e-5, 1e-5));
    CHECK(torch::allclose(mine.grad(), ref_logits.grad().narrow(1, start, local), 1e-5, 1e-5));
    torch::Tensor curve =
        vocab_parallel_entropies(mine.detach(), groups.tp(), {0.5, temperature, 2.0});
    CHECK(torch::allclose(curve.select(1, 1), ref_entropy.detach(), 1e-5, 1e-5));
    for (int64_t k : {0, 2}) {
      torch::Tensor lp = torch::log_softmax(full.to(torch::kFloat64) / (k == 0 ? 0.5 : 2.0), -1);
      CHECK(torch::allclose(curve.select(1, k).to(torch::kFloat64), -(lp.exp() * lp).sum(-1),
                            1e-5, 1e-5));
    }
  }
}
