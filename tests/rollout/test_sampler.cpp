// The sampler against direct computations on full logits (single rank): greedy limit,
// reported log-probs and entropies, and empirical frequencies vs softmax(logits / T) after
// top-p / top-k truncation (chi-square with a fixed seed).
#include "support/catch.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "rollout/sampler.h"

using namespace acerl;
using namespace acerl::rollout;

namespace {

torch::Tensor uniforms_for(int64_t n, uint64_t seed, int64_t step) {
  std::vector<double> u;
  for (int64_t i = 0; i < n; ++i) u.push_back(stream_uniform(sequence_stream(seed, "p", i), step));
  return torch::tensor(u, torch::kFloat64);
}

// The truncated, renormalised distribution by its definition: sort descending, keep the top-k,
// then the smallest prefix whose mass reaches top_p (of the top-k mass).
std::vector<double> truncated_distribution(const std::vector<double>& logits, double t,
                                           double top_p, int64_t top_k) {
  const size_t n = logits.size();
  std::vector<double> p(n);
  double max = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (size_t i = 0; i < n; ++i) sum += p[i] = std::exp((logits[i] - max) / t);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  size_t keep = top_k > 0 ? std::min<size_t>(static_cast<size_t>(top_k), n) : n;
  double kept_mass = 0;
  for (size_t i = 0; i < keep; ++i) kept_mass += p[order[i]];
  double mass = 0;
  size_t nucleus = 0;
  while (nucleus < keep) {
    mass += p[order[nucleus++]];
    if (mass >= top_p * kept_mass) break;
  }
  std::vector<double> out(n, 0.0);
  for (size_t i = 0; i < nucleus; ++i) out[order[i]] = p[order[i]] / mass;
  return out;
}

}  // namespace

TEST_CASE("temperature -> 0 samples the argmax; temperature 0 is greedy", "[rollout]") {
  auto local = parallel::make_local_communicator();
  torch::manual_seed(1);
  torch::Tensor logits = torch::randn({64, 50}) * 2;
  torch::Tensor argmax = logits.argmax(-1);
  Sampled cold = sample_vocab_parallel(logits, 0, *local, {1e-4, 1.0, 0}, uniforms_for(64, 3, 0));
  Sampled greedy = sample_vocab_parallel(logits, 0, *local, {0.0, 1.0, 0}, uniforms_for(64, 3, 0));
  CHECK(torch::equal(cold.tokens, argmax));
  CHECK(torch::equal(greedy.tokens, argmax));
}

TEST_CASE("reported log-probs and entropies equal a direct computation from full logits",
          "[rollout]") {
  auto local = parallel::make_local_communicator();
  torch::manual_seed(2);
  const int64_t B = 32, V = 300;
  torch::Tensor logits = torch::randn({B, V}) * 3;
  for (SamplingParams params : {SamplingParams{0.8, 1.0, 0}, SamplingParams{1.2, 0.9, 0},
                                SamplingParams{0.6, 1.0, 20}, SamplingParams{1.0, 0.7, 50}}) {
    INFO("T=" << params.temperature << " top_p=" << params.top_p << " top_k=" << params.top_k);
    Sampled s = sample_vocab_parallel(logits, 0, *local, params, uniforms_for(B, 9, 4));
    torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64) / params.temperature, -1);
    torch::Tensor entropy = -(logp.exp() * logp).sum(-1);
    CHECK(torch::allclose(s.entropy.to(torch::kFloat64), entropy, 1e-5, 1e-5));
    for (int64_t b = 0; b < B; ++b) {
      std::vector<double> row(logits[b].data_ptr<float>(), logits[b].data_ptr<float>() + V);
      auto q = truncated_distribution(row, params.temperature, params.top_p, params.top_k);
      const int64_t token = s.tokens[b].item<int64_t>();
      REQUIRE(q[static_cast<size_t>(token)] > 0);  // sampled inside the truncated support
      CHECK(s.logprob[b].item<double>() ==
            Approx(std::log(q[static_cast<size_t>(token)])).margin(1e-5));
    }
  }
}

TEST_CASE("empirical frequencies match the truncated softmax (chi-square, fixed seed)",
          "[rollout]") {
  auto local = parallel::make_local_communicator();
  const std::vector<double> row = {2.0, 1.5, 1.4, 0.3, 0.0, -0.5, -1.0, -3.0};
  torch::Tensor one = torch::tensor(row, torch::kFloat32).unsqueeze(0);
  const int64_t N = 40000;
  for (SamplingParams params : {SamplingParams{0.7, 0.8, 0}, SamplingParams{1.0, 1.0, 0},
                                SamplingParams{1.3, 1.0, 4}, SamplingParams{0.9, 0.95, 6}}) {
    INFO("T=" << params.temperature << " top_p=" << params.top_p << " top_k=" << params.top_k);
    torch::Tensor logits = one.expand({N, 8}).contiguous();
    Sampled s = sample_vocab_parallel(logits, 0, *local, params, uniforms_for(N, 17, 0));
    std::vector<double> counts(8, 0.0);
    for (int64_t i = 0; i < N; ++i) counts[static_cast<size_t>(s.tokens[i].item<int64_t>())] += 1;
    auto q = truncated_distribution(row, params.temperature, params.top_p, params.top_k);
    double chi2 = 0;
    int support = 0;
    for (size_t j = 0; j < 8; ++j) {
      if (q[j] == 0) {
        CHECK(counts[j] == 0);  // truncated tokens are never drawn
        continue;
      }
      ++support;
      const double expected = q[j] * N;
      chi2 += (counts[j] - expected) * (counts[j] - expected) / expected;
    }
    // Upper 0.1% points of chi-square for 1..7 degrees of freedom.
    const double critical[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};
    CHECK(chi2 < critical[support - 1]);
  }
}

TEST_CASE("random streams are independent of batch position", "[rollout]") {
  CHECK(sequence_stream(1, "a", 0) != sequence_stream(1, "a", 1));
  CHECK(sequence_stream(1, "a", 0) != sequence_stream(1, "b", 0));
  CHECK(sequence_stream(1, "a", 0) != sequence_stream(2, "a", 0));
  CHECK(stream_uniform(sequence_stream(1, "a", 0), 5) ==
        stream_uniform(sequence_stream(1, "a", 0), 5));
  double mean = 0;
  for (int i = 0; i < 10000; ++i) mean += stream_uniform(sequence_stream(4, "x", i), 0) / 10000;
  CHECK(mean == Approx(0.5).margin(0.01));
}
