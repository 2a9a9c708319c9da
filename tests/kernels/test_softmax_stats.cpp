// The host+device math of the softmax-statistics kernel, run on the CPU against LibTorch's
// float64 log_softmax: entropy and log-partition of softmax(x / T), whole rows and merged shards.
#include "support/catch.h"

#include <torch/torch.h>

#include "kernels/softmax_stats_math.h"

using acerl::kernels::SoftmaxStats;

namespace {

SoftmaxStats stats_of(const float* x, int64_t n, float inv_t) {
  SoftmaxStats s;
  for (int64_t i = 0; i < n; ++i) acerl::kernels::softmax_stats_add(s, x[i] * inv_t);
  return s;
}

}  // namespace

TEST_CASE("one-pass softmax statistics give the entropy and log-partition of softmax(x/T)", "[kernels]") {
  torch::manual_seed(3);
  const int64_t rows = 16, vocab = 3001;
  auto logits = torch::randn({rows, vocab}) * 4;
  logits[0].fill_(1.5);            // uniform row: entropy = log V
  logits[1][17] = 1e4;             // one-hot row: entropy ~ 0
  for (float temperature : {0.3f, 0.6f, 0.85f, 1.0f, 1.7f}) {
    auto z = logits.to(torch::kFloat64) / temperature;
    auto logp = torch::log_softmax(z, -1);
    auto entropy = -(logp.exp() * logp).sum(-1);
    auto log_z = torch::logsumexp(z, -1);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = logits[r].data_ptr<float>();
      SoftmaxStats whole = stats_of(row, vocab, 1.f / temperature);
      // The same row as three uneven vocab shards, merged in a different order.
      SoftmaxStats a = stats_of(row, 1000, 1.f / temperature);
      SoftmaxStats b = stats_of(row + 1000, 7, 1.f / temperature);
      SoftmaxStats c = stats_of(row + 1007, vocab - 1007, 1.f / temperature);
      SoftmaxStats merged = acerl::kernels::softmax_stats_merge(c, acerl::kernels::softmax_stats_merge(a, b));
      double h = entropy[r].item<double>(), lz = log_z[r].item<double>();
      INFO("T=" << temperature << " row " << r);
      CHECK(acerl::kernels::softmax_stats_entropy(whole) == Approx(h).margin(2e-5).epsilon(1e-5));
      CHECK(acerl::kernels::softmax_stats_entropy(merged) == Approx(h).margin(2e-5).epsilon(1e-5));
      CHECK(acerl::kernels::softmax_stats_log_partition(whole) == Approx(lz).epsilon(1e-6));
      CHECK(acerl::kernels::softmax_stats_log_partition(merged) == Approx(lz).epsilon(1e-6));
    }
  }
  SoftmaxStats uniform = stats_of(logits[0].data_ptr<float>(), vocab, 1.f);
  CHECK(acerl::kernels::softmax_stats_entropy(uniform) == Approx(std::log(double(vocab))).epsilon(1e-6));
}

TEST_CASE("softmax statistics with masked (-inf) logits, a 152k vocabulary in chunks, T near 0",
          "[kernels]") {
  torch::manual_seed(4);
  const int64_t vocab = 151936;
  auto logits = torch::randn({3, vocab}) * 5;
  logits[0].narrow(0, 0, 1000).fill_(-INFINITY);  // masked ids first: the running max starts at -inf
  logits[1].narrow(0, 5, vocab - 5).fill_(-INFINITY);  // only 5 live ids
  for (float temperature : {0.02f, 0.6f, 1.3f}) {
    auto z = logits.to(torch::kFloat64) / temperature;
    auto logp = torch::log_softmax(z, -1);
    auto p = logp.exp();
    auto entropy = -(p * torch::where(p > 0, logp, torch::zeros_like(logp))).sum(-1);
    for (int64_t r = 0; r < 3; ++r) {
      const float* row = logits[r].data_ptr<float>();
      // Chunks of 4096 as a vocab-parallel or blocked pass would see them.
      SoftmaxStats merged;
      for (int64_t start = 0; start < vocab; start += 4096)
        merged = acerl::kernels::softmax_stats_merge(
            merged, stats_of(row + start, std::min<int64_t>(4096, vocab - start), 1.f / temperature));
      INFO("T=" << temperature << " row " << r);
      CHECK(std::isfinite(acerl::kernels::softmax_stats_entropy(merged)));
      CHECK(acerl::kernels::softmax_stats_entropy(merged) ==
            Approx(entropy[r].item<double>()).margin(5e-4).epsilon(1e-4));
      CHECK(acerl::kernels::softmax_stats_log_partition(merged) ==
            Approx(torch::logsumexp(z[r], 0).item<double>()).epsilon(1e-6));
    }
  }
}
