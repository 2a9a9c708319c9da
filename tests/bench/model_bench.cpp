// acerl_bench_model: forward+backward and KV-cache decode tokens/s of the Qwen2 model for two
// shapes ("small", 55M parameters, and the Qwen2.5-0.5B shape, random weights) in fp32 and bf16
// autocast, seq 512, against the same architecture in PyTorch eager (tests/bench/qwen2_eager.py)
// run by the same torch wheel with the same thread count. The training loss is acerl's own (the
// vocab-parallel log-prob its trainers use), eager's F.cross_entropy of the float32 logits.
// Each figure is the median of --rounds rounds (default 3), a round measuring acerl and then
// eager, so that a shared machine's drift falls on both sides alike.
//   acerl_bench_model [--quick] [--rounds N] [--shape S] [--precision P] [--measure M]
//   --quick: small shape only; --shape small|qwen0.5b, --precision fp32|bf16 and
//   --measure train|decode keep only the rows they name; --profile DIR records one more acerl run
//   of each row with the LibTorch profiler into DIR/<shape>_<dtype>_<measure>.json (read it with
//   tools/profile_table.py).
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "bench_util.h"
#include "io/json.h"
#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/process_groups.h"
#include "parallel/vocab_parallel.h"
#include "runtime/error.h"
#include "runtime/host_block_cache.h"
#include "train/profiler.h"

using namespace acerl;

namespace {

struct Shape {
  const char* name;
  model::Qwen2Config config;
};

model::Qwen2Config make(int64_t d, int64_t layers, int64_t heads, int64_t kv, int64_t ffn,
                        int64_t vocab, bool tied) {
  model::Qwen2Config c;
  c.hidden_size = d;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_head_kv = kv;
  c.intermediate_size = ffn;
  c.vocab_size = vocab;
  c.tie_word_embeddings = tied;
  c.rope_theta = 1e6;
  return c;
}

// The loss as acerl's trainers take it: mean -log p of the targets from the logits as the model
// returns them, through the vocab-parallel log-prob (on the CPU, its row loops).
double train_tokens_per_s(model::Qwen2ForCausalLMImpl& m, parallel::Communicator& tp,
                          model::Precision precision, int64_t seq, int repeats) {
  const auto& c = m.config();
  torch::Tensor ids = torch::randint(c.vocab_size, {1, seq});
  torch::Tensor positions = torch::arange(seq).unsqueeze(0);
  auto inputs = model::training_inputs(positions, {}, c);
  HostBlockCacheScope host_blocks;  // as the trainers run their steps
  double s = bench::median_seconds(
      [&] {
        m.zero_grad(true);
        torch::Tensor logits;
        {
          model::AutocastScope autocast(precision);
          logits = m.forward(ids, inputs);
        }
        auto loss =
            -parallel::vocab_parallel_logprob(logits.view({-1, c.vocab_size}), ids.view({-1}), 0, tp)
                 .mean();
        loss.backward();
      },
      repeats);
  return seq / s;
}

double decode_tokens_per_s(model::Qwen2ForCausalLMImpl& m, model::Precision precision, int64_t seq,
                           int64_t steps, int repeats) {
  torch::NoGradGuard no_grad;
  const auto& c = m.config();
  torch::Tensor ids = torch::randint(c.vocab_size, {1, seq});
  torch::Tensor positions = torch::arange(seq).unsqueeze(0);
  auto dtype = model::compute_dtype(precision);
  auto cache = m.new_cache(1, seq + steps, dtype);
  auto prefill = [&] {
    model::AutocastScope autocast(precision);
    return m.forward(ids, model::cached_inputs(positions, cache, c));
  };
  auto decode = [&] {
    model::AutocastScope autocast(precision);
    torch::Tensor logits = m.forward(ids, model::cached_inputs(positions, cache, c));
    torch::Tensor token = logits.select(1, -1).argmax(-1, true);
    for (int64_t i = 0; i < steps; ++i) {
      torch::Tensor pos = torch::full({1, 1}, seq + i, torch::kInt64);
      logits = m.forward(token, model::cached_inputs(pos, cache, c));
      token = logits.select(1, -1).argmax(-1, true);
    }
  };
  double t_prefill = bench::median_seconds(prefill, repeats);
  double total = bench::median_seconds(decode, repeats);
  return steps / std::max(total - t_prefill, 1e-9);
}

double eager(const char* shape, const char* dtype, const char* mode, int repeats, int64_t steps) {
  std::string out =
      bench::run_python(std::string(ACERL_SOURCE_DIR) + "/tests/bench/qwen2_eager.py",
                        str(shape, " ", dtype, " ", mode, " --repeats ", repeats, " --new ", steps,
                            " --threads ", torch::get_num_threads()));
  if (out.empty()) return 0;
  return json::parse(out, "qwen2_eager.py").at("tokens_per_s").as_number();
}

// Median of `rounds` alternating measurements of acerl (`ours`) and eager (`theirs`).
std::pair<double, double> alternating(int rounds, const std::function<double()>& ours,
                                      const std::function<double()>& theirs) {
  std::vector<double> a, b;
  for (int r = 0; r < rounds; ++r) {
    a.push_back(ours());
    b.push_back(theirs());
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return {a[a.size() / 2], b[b.size() / 2]};
}

// One more run of `ours` under the profiler, written to `dir`/`name`.json, inside a phase
// acerl::<measure> so that tools/profile_table.py reports it.
void profile(const std::string& dir, const std::string& name, const char* measure,
             const std::function<double()>& ours) {
  if (dir.empty()) return;
  train::StepProfiler profiler("1", dir + "/" + name + ".json", false);
  train::ProfiledStep step(profiler, 1);
  ACERL_PROFILE_PHASE(str("acerl::", measure));
  ours();
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int rounds = 3;
  std::string only_shape, only_precision, only_measure, profile_dir;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--rounds") == 0 && has_value) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--shape") == 0 && has_value) {
      only_shape = argv[++i];
    } else if (std::strcmp(argv[i], "--precision") == 0 && has_value) {
      only_precision = argv[++i];
    } else if (std::strcmp(argv[i], "--measure") == 0 && has_value) {
      only_measure = argv[++i];
    } else if (std::strcmp(argv[i], "--profile") == 0 && has_value) {
      profile_dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: acerl_bench_model [--quick] [--rounds N] [--shape small|qwen0.5b]\n"
                   "                         [--precision fp32|bf16] [--measure train|decode]\n"
                   "                         [--profile DIR]\n");
      return 2;
    }
  }
  auto wanted = [](const std::string& only, const char* name) {
    return only.empty() || only == name;
  };
  torch::set_num_threads(2);
  torch::manual_seed(0);
  std::vector<Shape> shapes = {{"small", make(512, 8, 8, 2, 1408, 32000, false)}};
  if (!quick || only_shape == "qwen0.5b")
    shapes.push_back({"qwen0.5b", make(896, 24, 14, 2, 4864, 151936, true)});
  std::printf("threads %d; bf16 matmul peak %.0f GFLOP/s, fp32 %.0f GFLOP/s\n",
              torch::get_num_threads(), bench::matmul_peak_gflops(torch::kBFloat16),
              bench::matmul_peak_gflops(torch::kFloat32));
  std::printf("%-9s %-5s %-22s %12s %12s %7s\n", "shape", "dtype", "measure (seq 512)",
              "acerl tok/s", "eager tok/s", "ratio");
  auto groups = parallel::ProcessGroups::single();
  for (const auto& shape : shapes) {
    if (!wanted(only_shape, shape.name)) continue;
    model::Qwen2ForCausalLM m(shape.config, *groups);
    model::init_parameters(*m, 1);
    const bool big = std::strcmp(shape.name, "small") != 0;
    const int repeats = big ? 2 : 3;
    const int64_t steps = big ? 16 : 32;
    for (auto precision : {model::Precision::fp32, model::Precision::bf16}) {
      const char* dtype = model::precision_name(precision);
      if (!wanted(only_precision, dtype)) continue;
      double ours = 0, theirs = 0;
      if (wanted(only_measure, "train")) {
        auto run = [&] { return train_tokens_per_s(*m, groups->tp(), precision, 512, repeats); };
        std::tie(ours, theirs) = alternating(
            rounds, run, [&] { return eager(shape.name, dtype, "train", repeats, steps); });
        profile(profile_dir, str(shape.name, "_", dtype, "_train"), "train", run);
        std::printf("%-9s %-5s %-22s %12.1f %12.1f %7.2f\n", shape.name, dtype, "forward+backward",
                    ours, theirs, theirs > 0 ? ours / theirs : 0.0);
      }
      if (wanted(only_measure, "decode")) {
        auto run = [&] { return decode_tokens_per_s(*m, precision, 512, steps, repeats); };
        std::tie(ours, theirs) = alternating(
            rounds, run, [&] { return eager(shape.name, dtype, "decode", repeats, steps); });
        profile(profile_dir, str(shape.name, "_", dtype, "_decode"), "decode", run);
        std::printf("%-9s %-5s %-22s %12.1f %12.1f %7.2f\n", shape.name, dtype, "decode (batch 1)",
                    ours, theirs, theirs > 0 ? ours / theirs : 0.0);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
