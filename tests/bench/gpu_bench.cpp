// acerl_bench_gpu: the Qwen2.5-0.5B shape (random weights) on one device, for the GPU check
// (tools/gpu_check.sh): the bf16 matmul peak it measures there, a full SFT step (forward,
// backward, clipping, AdamW; bf16 autocast, fp32 master weights) as tokens/s and MFU against
// that peak, and greedy decode tokens/s of the generator (64-token prompts, prefill included) at
// several batch sizes, compacting decode and fixed slots replayed as CUDA graphs. The transformers side of the decode comparison is tests/bench/hf_generate.py,
// run by the check beside this. Prints a table, then one JSON object on the last line.
//   acerl_bench_gpu [--device cuda|cpu] [--shape qwen0.5b|small] [--batch N[,N...]]
//                   [--rows R] [--seq T] [--new N]
//   (defaults: cuda, qwen0.5b, batches 1,8,64, SFT 8 rows x 1024 tokens, 256 new tokens;
//    --device cpu --shape small runs the same code on this machine's CPU)
#include <torch/cuda.h>
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
#include "optim/adamw.h"
#include "parallel/grad_sync.h"
#include "parallel/process_groups.h"
#include "rollout/generator.h"
#include "runtime/error.h"
#include "train/throughput.h"
#include "train/train_step.h"

using namespace acerl;

namespace {

struct Args {
  std::string device = "cuda";
  bool big = true;
  std::vector<int64_t> batches{1, 8, 64};
  int64_t rows = 8, seq = 1024, new_tokens = 256;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--device" && has_value) {
      a.device = argv[++i];
    } else if (arg == "--shape" && has_value) {
      a.big = std::strcmp(argv[++i], "qwen0.5b") == 0;
    } else if (arg == "--batch" && has_value) {
      a.batches.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) a.batches.push_back(std::stoll(item));
    } else if (arg == "--rows" && has_value) {
      a.rows = std::stoll(argv[++i]);
    } else if (arg == "--seq" && has_value) {
      a.seq = std::stoll(argv[++i]);
    } else if (arg == "--new" && has_value) {
      a.new_tokens = std::stoll(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: acerl_bench_gpu [--device cuda|cpu] [--shape qwen0.5b|small] "
                   "[--batch N[,N...]] [--rows R] [--seq T] [--new N]\n");
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const torch::Device device(args.device);
  if (device.is_cuda() && torch::cuda::device_count() == 0) {
    std::fprintf(stderr, "acerl_bench_gpu: no CUDA device is visible\n");
    return 2;
  }
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  torch::manual_seed(0);
  const model::Qwen2Config c = bench::shape(args.big);
  const model::Precision precision = model::parse_precision("auto", device);
  const char* name = model::precision_name(precision);
  auto groups = parallel::ProcessGroups::single(device);

  // The matmul peak in the compute precision, on the device.
  const int64_t n = device.is_cuda() ? 8192 : 1024;
  auto a = torch::randn({n, n}, torch::dtype(model::compute_dtype(precision)).device(device));
  auto b = torch::randn_like(a);
  const double mm_seconds = bench::median_seconds(
      [&] {
        for (int i = 0; i < 10; ++i) torch::matmul(a, b);
        sync();
      },
      5, 2);
  const double peak = 10 * 2.0 * n * n * n / mm_seconds / 1e9;
  a = b = torch::Tensor();

  model::Qwen2ForCausalLM m(c, *groups);
  model::init_parameters(*m, 1);
  m->to(device);

  // SFT step: one micro-batch of `rows` x `seq` tokens.
  std::vector<torch::Tensor> params, split, replicated;
  for (const auto& s : m->param_shards()) {
    params.push_back(s.tensor);
    (s.split_dim >= 0 ? split : replicated).push_back(s.tensor);
  }
  optim::AdamW adamw(params, std::vector<bool>(params.size(), true), {0.9, 0.95, 1e-8, 0.0});
  parallel::GradSync grad_sync(params, groups->dp());
  const int64_t B = args.rows, T = args.seq;
  train::PackedRows rows;
  rows.ids = torch::randint(c.vocab_size, {B, T});
  rows.positions = torch::arange(T).repeat({B, 1});
  rows.targets = torch::roll(rows.ids, -1, 1);
  rows.weights = torch::ones({B, T});
  train::Throughput throughput(c, T, precision, peak, *groups);
  const double sft_seconds = bench::median_seconds(
      [&] {
        grad_sync.zero_grad();
        train::forward_backward(*m, *groups, rows, B, precision, &grad_sync);
        parallel::clip_grad_norm(split, replicated, *groups, 1.0);
        adamw.step(1e-5);
        sync();
      },
      5, 2);
  const double sft_tps = B * T / sft_seconds;
  const double mfu = sft_tps * throughput.flops_per_token() / (peak * 1e9);
  std::printf("device %s, shape %s (%.1fM parameters), %s\n", args.device.c_str(),
              args.big ? "qwen0.5b" : "small", c.parameter_count() / 1e6, name);
  std::printf("%s matmul peak (measured, %lld^3): %.1f TFLOP/s\n", name,
              static_cast<long long>(n), peak / 1e3);
  std::printf("SFT step %lld x %lld tokens: %.3f s, %.0f tokens/s, MFU %.1f%%\n",
              static_cast<long long>(B), static_cast<long long>(T), sft_seconds, sft_tps,
              100 * mfu);
  std::fflush(stdout);

  // Decode: greedy, no stop token, every row runs `new_tokens` steps; compacting decode, and
  // fixed slots replayed as CUDA graphs (on a CPU: fixed slots).
  json::Object decode;
  for (auto mode : {rollout::DecodeMode::compact, rollout::DecodeMode::graphs}) {
    json::Object by_batch;
    for (int64_t batch : args.batches) {
      std::vector<rollout::GenerationRequest> requests;
      torch::manual_seed(3);
      for (int64_t r = 0; r < batch; ++r) {
        torch::Tensor ids = torch::randint(c.vocab_size, {64});
        requests.push_back({"p" + std::to_string(r),
                            std::vector<int64_t>(ids.data_ptr<int64_t>(),
                                                 ids.data_ptr<int64_t>() + 64),
                            1});
      }
      rollout::GeneratorOptions o;
      o.sampling.temperature = 0;
      o.max_new_tokens = args.new_tokens;
      o.max_batch = batch;
      o.precision = precision;
      o.decode = mode;
      rollout::GeneratorOptions warm = o;
      warm.max_new_tokens = 4;
      rollout::Generator(*m, *groups, warm).generate(requests);
      sync();
      const auto start = std::chrono::steady_clock::now();
      rollout::Generator generator(*m, *groups, o);
      generator.generate(requests);
      sync();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto& stats = generator.stats();
      const double tps = static_cast<double>(stats.generated_tokens) / seconds;
      std::printf("decode %-7s batch %3lld: %.2f s, %.1f tokens/s (%lld tokens, %lld steps, %lld "
                  "graph replays)\n",
                  rollout::decode_mode_name(mode), static_cast<long long>(batch), seconds, tps,
                  static_cast<long long>(stats.generated_tokens),
                  static_cast<long long>(stats.decode_steps),
                  static_cast<long long>(stats.graph_replays));
      std::fflush(stdout);
      by_batch.emplace_back(std::to_string(batch), tps);
    }
    decode.emplace_back(rollout::decode_mode_name(mode), by_batch);
  }

  json::Object out{{"device", args.device},
                   {"shape", args.big ? "qwen0.5b" : "small"},
                   {"precision", name},
                   {"parameters", c.parameter_count()},
                   {"matmul_peak_tflops", peak / 1e3},
                   {"sft_rows", B},
                   {"sft_seq", T},
                   {"sft_step_s", sft_seconds},
                   {"sft_tokens_per_s", sft_tps},
                   {"sft_mfu", mfu},
                   {"decode_new_tokens", args.new_tokens},
                   {"decode_tokens_per_s", decode}};
  std::printf("%s\n", json::dump(out).c_str());
  return 0;
}
