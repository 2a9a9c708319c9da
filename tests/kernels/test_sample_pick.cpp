// The host+device math of the sampling pick kernel against the CPU sampler: for the same logits,
// temperature, truncation and uniform, the same token and log-prob (the uniforms come from the
// same counter-based streams). Rows include -inf logits, a vocabulary of 152k entries and
// temperatures near 0. The two compute exp (and z) differently within float rounding, so a
// uniform within that margin of a boundary could pick a neighbour; these fixed inputs have none.
#include "support/catch.h"

#include <torch/torch.h>

#include <limits>

#include "kernels/sample_math.h"
#include "parallel/communicator.h"
#include "rollout/sampler.h"

using namespace acerl;

TEST_CASE("the pick kernel's math chooses the CPU sampler's token for the same uniform",
          "[kernels]") {
  torch::manual_seed(5);
  auto local = parallel::make_local_communicator();
  int64_t compared = 0, equal = 0;
  for (int64_t vocab : {5, 1000, 151936}) {
    const int64_t B = vocab > 100000 ? 8 : 64;
    torch::Tensor logits = torch::randn({B, vocab}) * 3;
    logits[1].narrow(0, 0, vocab / 2).fill_(-std::numeric_limits<float>::infinity());  // masked
    logits[2][vocab - 1] = 40;  // nearly one-hot: the last id
    for (double temperature : {0.01, 0.6, 1.0, 1.7}) {
      for (int64_t top_k : {int64_t(0), int64_t(3)}) {
        rollout::SamplingParams params{temperature, 1.0, top_k};
        std::vector<double> u;
        for (int64_t b = 0; b < B; ++b)
          u.push_back(kernels::stream_uniform(rollout::sequence_stream(9, "p", b), vocab));
        torch::Tensor uniforms = torch::tensor(u, torch::kFloat64);
        rollout::Sampled ref =
            rollout::sample_vocab_parallel(logits, 0, *local, params, uniforms);
        torch::Tensor z = logits / temperature;
        torch::Tensor max = std::get<0>(z.max(-1));
        for (int64_t b = 0; b < B; ++b) {
          float threshold = -std::numeric_limits<float>::infinity();
          if (top_k > 0 && top_k <= vocab)
            threshold = std::get<0>(z[b].topk(top_k)).select(0, top_k - 1).item<float>();
          torch::Tensor row = z[b].contiguous();
          kernels::SamplePick p = kernels::sample_pick_row(
              row.data_ptr<float>(), vocab, max[b].item<float>(), threshold, u[b]);
          ++compared;
          if (p.index == ref.tokens[b].item<int64_t>()) ++equal;
          INFO("V=" << vocab << " T=" << temperature << " k=" << top_k << " row " << b);
          REQUIRE(p.index == ref.tokens[b].item<int64_t>());
          CHECK(std::log(p.chosen) - std::log(p.total) ==
                Approx(ref.logprob[b].item<float>()).margin(1e-5));
        }
      }
    }
  }
  CHECK(equal == compared);
  CHECK(compared == 4 * 2 * (64 + 64 + 8));
}

TEST_CASE("the shared counter-based stream is the CPU sampler's", "[kernels]") {
  const uint64_t s = rollout::sequence_stream(1234, "prompt-7", 3);
  for (int64_t step : {0, 1, 2, 1000, 1 << 20}) {
    double u = kernels::stream_uniform(s, step);
    CHECK(u == rollout::stream_uniform(s, step));
    CHECK(u >= 0.0);
    CHECK(u < 1.0);
  }
  // Hand-checked SplitMix64 value (x = 0): 0xe220a8397b1dcdaf.
  CHECK(kernels::splitmix64(0) == 0xe220a8397b1dcdafull);
}
