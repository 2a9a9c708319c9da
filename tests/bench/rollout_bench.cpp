// acerl_bench_rollout: decode throughput of the generator (greedy, preallocated KV cache, bf16
// autocast unless --precision says otherwise) at batch sizes 1, 8, 32, 64 with 64-token prompts and
// 256 new tokens, for the "small" shape and the Qwen2.5-0.5B shape (random weights), against
// PyTorch eager generation with a concatenated KV cache (tests/bench/qwen2_eager.py generate);
// tokens/s over the whole call, prefill included, same wheel and threads. Then the train/rollout
// log-prob mismatch (rollout vs learner recomputation) in fp32 and bf16.
//   acerl_bench_rollout [--quick] [--shape small|qwen0.5b] [--batch N[,N...]] [--precision P]
//   (--quick: small shape, batch 1 and 8; --shape/--batch: only those rows; P: bf16 (default),
//   fp32, or auto = bf16 only where the CPU has native bf16 matmuls)
//   acerl_bench_rollout --sampling [--shape S] [--batch N[,N...]]: instead, one sampling call
//   (token, log-prob, entropy at T = 1) over (batch, vocabulary) float32 logits, ms per call,
//   against eager's softmax + multinomial + log-prob + entropy (qwen2_eager.py sample).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "io/json.h"
#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/process_groups.h"
#include "rollout/generator.h"
#include "rollout/recompute.h"
#include "rollout/sampler.h"
#include "runtime/error.h"

using namespace acerl;

namespace {

std::vector<rollout::GenerationRequest> prompts(int64_t batch, int64_t vocab) {
  std::vector<rollout::GenerationRequest> out;
  torch::manual_seed(3);
  for (int64_t b = 0; b < batch; ++b) {
    torch::Tensor ids = torch::randint(vocab, {64});
    out.push_back({"p" + std::to_string(b),
                   std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + 64), 1});
  }
  return out;
}

// One sampling call per row: acerl's sampler against eager's formulation, 2 threads.
int sampling_rows(const std::vector<bool>& shapes, const std::vector<int64_t>& batches) {
  auto groups = parallel::ProcessGroups::single();
  std::printf("sampling call, T = 1, float32 logits, 2 threads (ms per call, median of 20)\n");
  std::printf("%-9s %6s %8s %10s %10s %7s\n", "shape", "batch", "vocab", "acerl ms", "eager ms",
              "ratio");
  for (bool big : shapes) {
    const int64_t vocab = bench::shape(big).vocab_size;
    for (int64_t batch : batches) {
      torch::manual_seed(4);
      torch::Tensor logits = torch::randn({batch, vocab}) * 3;
      torch::Tensor u = torch::rand({batch}, torch::kFloat64);
      rollout::SamplingParams params;
      params.temperature = 1.0;
      const double ours = 1e3 * bench::median_seconds(
                                    [&] {
                                      rollout::sample_vocab_parallel(logits, 0, groups->tp(), params,
                                                                     u);
                                    },
                                    20, 3);
      std::string out =
          bench::run_python(std::string(ACERL_SOURCE_DIR) + "/tests/bench/qwen2_eager.py",
                            str(big ? "qwen0.5b" : "small", " fp32 sample --batch ", batch,
                                " --threads 2 --repeats 20"));
      const double eager =
          out.empty() ? 0 : json::parse(out, "qwen2_eager.py").at("ms_per_call").as_number();
      std::printf("%-9s %6lld %8lld %10.2f %10.2f %7.2f\n", big ? "qwen0.5b" : "small",
                  static_cast<long long>(batch), static_cast<long long>(vocab), ours, eager,
                  ours > 0 ? eager / ours : 0.0);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<bool> shapes{false, true};
  std::vector<int64_t> batches{1, 8, 32, 64};
  model::Precision precision = model::Precision::bf16;
  bool sampling = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--sampling") {
      sampling = true;
    } else if (arg == "--quick") {
      shapes = {false};
      batches = {1, 8};
    } else if (arg == "--shape" && i + 1 < argc) {
      shapes = {std::strcmp(argv[++i], "qwen0.5b") == 0};
    } else if (arg == "--batch" && i + 1 < argc) {
      batches.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) batches.push_back(std::stoll(item));
    } else if (arg == "--precision" && i + 1 < argc) {
      precision = model::parse_precision(argv[++i]);
    } else {
      std::fprintf(
          stderr,
          "usage: acerl_bench_rollout [--quick] [--shape small|qwen0.5b] [--batch N[,N...]] "
          "[--precision auto|bf16|fp32] [--sampling]\n");
      return 2;
    }
  }
  torch::set_num_threads(2);
  if (sampling) return sampling_rows(shapes, batches);
  auto groups = parallel::ProcessGroups::single();
  const char* dtype = model::precision_name(precision);
  std::printf(
      "decode, greedy, %s, 64-token prompts, 256 new tokens, 2 threads (tokens/s incl. prefill)\n",
      dtype);
  std::printf("%-9s %6s %14s %14s %7s\n", "shape", "batch", "acerl tok/s", "eager tok/s", "ratio");
  for (bool big : shapes) {
    model::Qwen2Config c = bench::shape(big);
    model::Qwen2ForCausalLM m(c, *groups);
    model::init_parameters(*m, 1);
    for (int64_t batch : batches) {
      rollout::GeneratorOptions o;
      o.sampling.temperature = 0;
      o.max_new_tokens = 256;
      o.max_batch = batch;
      o.precision = precision;
      auto requests = prompts(batch, c.vocab_size);
      const int repeats = big && batch >= 32 ? 1 : 2;
      double seconds = bench::median_seconds(
          [&] { rollout::Generator(*m, *groups, o).generate(requests); }, repeats, big ? 0 : 1);
      const double ours = batch * 256 / seconds;
      std::string out =
          bench::run_python(std::string(ACERL_SOURCE_DIR) + "/tests/bench/qwen2_eager.py",
                            str(big ? "qwen0.5b" : "small", " ", dtype, " generate --batch ", batch,
                                " --seq 64 --new 256 --threads 2 --repeats ", repeats));
      const double eager =
          out.empty() ? 0 : json::parse(out, "qwen2_eager.py").at("tokens_per_s").as_number();
      std::printf("%-9s %6lld %14.1f %14.1f %7.2f\n", big ? "qwen0.5b" : "small",
                  static_cast<long long>(batch), ours, eager, eager > 0 ? ours / eager : 0.0);
      std::fflush(stdout);
    }
  }
  // Train/rollout parity: sampled log-probs vs the learner's full-sequence recomputation.
  model::Qwen2Config c = bench::shape(false);
  model::Qwen2ForCausalLM m(c, *groups);
  model::init_parameters(*m, 2);
  for (auto parity : {model::Precision::fp32, model::Precision::bf16}) {
    rollout::GeneratorOptions o;
    o.sampling.temperature = 1.0;
    o.max_new_tokens = 64;
    o.precision = parity;
    auto requests = prompts(16, c.vocab_size);
    auto completions = rollout::Generator(*m, *groups, o).generate(requests);
    std::vector<std::vector<int64_t>> ps, cs;
    for (const auto& x : completions) {
      ps.push_back(requests[x.request].prompt);
      cs.push_back(x.tokens);
    }
    auto learner = rollout::recompute_logprobs(*m, *groups, ps, cs, 1.0, parity);
    double max_diff = 0, sum = 0;
    int64_t n = 0;
    for (size_t i = 0; i < completions.size(); ++i)
      for (size_t t = 0; t < completions[i].tokens.size(); ++t) {
        const double d = std::abs(completions[i].logprobs[t] - learner[i].logprobs[t]);
        max_diff = std::max(max_diff, d);
        sum += d;
        ++n;
      }
    std::printf(
        "train/rollout log-prob |diff| (%s, small shape, T = 1, %lld tokens): max %.3g, mean "
        "%.3g\n",
        model::precision_name(parity), static_cast<long long>(n), max_diff,
        sum / static_cast<double>(n));
  }
  return 0;
}
