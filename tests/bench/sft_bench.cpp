// acerl_bench_sft: training tokens/s and MFU of a full SFT step (forward, backward, clipping,
// AdamW) of the "small" shape, 4 rows x 512 tokens, against the same step in PyTorch eager
// (tests/bench/qwen2_eager.py sftstep, torch.optim.AdamW) with the same wheel and thread count.
// MFU is against the matmul peak this benchmark measures in the compute precision.
//   acerl_bench_sft [auto|bf16|fp32] [--profile DIR]
//   (default auto: bf16 where the CPU has native bf16 matmuls; --profile records one more acerl
//   step with the LibTorch profiler into DIR/sft_<precision>.json, for tools/profile_table.py)
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "bench_util.h"
#include "io/json.h"
#include "model/precision.h"
#include "model/qwen2.h"
#include "optim/adamw.h"
#include "parallel/grad_sync.h"
#include "parallel/process_groups.h"
#include "runtime/error.h"
#include "runtime/host_block_cache.h"
#include "train/profiler.h"
#include "train/throughput.h"
#include "train/train_step.h"

using namespace acerl;

int main(int argc, char** argv) {
  const model::Precision precision = model::parse_precision(argc > 1 ? argv[1] : "auto");
  const std::string profile_dir =
      argc > 3 && std::string(argv[2]) == "--profile" ? argv[3] : std::string();
  const char* name = model::precision_name(precision);
  torch::set_num_threads(2);
  torch::manual_seed(0);
  model::Qwen2Config c;
  c.hidden_size = 512;
  c.n_layer = 8;
  c.n_head = 8;
  c.n_head_kv = 2;
  c.intermediate_size = 1408;
  c.vocab_size = 32000;
  c.rope_theta = 1e6;
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(c, *groups);
  model::init_parameters(*m, 1);
  std::vector<torch::Tensor> params, split, replicated;
  for (const auto& s : m->param_shards()) {
    params.push_back(s.tensor);
    (s.split_dim >= 0 ? split : replicated).push_back(s.tensor);
  }
  optim::AdamW adamw(params, std::vector<bool>(params.size(), true), {0.9, 0.95, 1e-8, 0.0});
  parallel::GradSync sync(params, groups->dp());
  const int64_t B = 4, T = 512;
  train::PackedRows rows;
  rows.ids = torch::randint(c.vocab_size, {B, T});
  rows.positions = torch::arange(T).repeat({B, 1});
  rows.targets = torch::roll(rows.ids, -1, 1);
  rows.weights = torch::ones({B, T});
  const double peak = bench::matmul_peak_gflops(model::compute_dtype(precision));
  train::Throughput throughput(c, T, precision, peak, *groups);
  auto step = [&] {
    sync.zero_grad();
    train::forward_backward(*m, *groups, rows, B, precision, &sync);
    parallel::clip_grad_norm(split, replicated, *groups, 1.0);
    adamw.step(1e-4);
  };
  HostBlockCacheScope host_blocks;  // as the trainers run their steps
  double seconds = bench::median_seconds(step, 5, 1);
  if (!profile_dir.empty()) {
    train::StepProfiler profiler("1", str(profile_dir, "/sft_", name, ".json"), false);
    train::ProfiledStep profiled(profiler, 1);
    ACERL_PROFILE_PHASE("acerl::sft_step");
    step();
  }
  const double ours = B * T / seconds;
  std::string out =
      bench::run_python(std::string(ACERL_SOURCE_DIR) + "/tests/bench/qwen2_eager.py",
                        str("small ", name, " sftstep --batch ", B, " --repeats 5 --threads 2"));
  const double eager =
      out.empty() ? 0 : json::parse(out, "qwen2_eager.py").at("tokens_per_s").as_number();
  const double flops = throughput.flops_per_token();
  std::printf("SFT step, small shape (%.1fM parameters), %s, %lld x %lld tokens, 2 threads\n",
              c.parameter_count() / 1e6, name, static_cast<long long>(B),
              static_cast<long long>(T));
  std::printf("%s matmul peak (measured): %.0f GFLOP/s; FLOPs per token %.3g\n", name, peak, flops);
  std::printf("acerl:         %8.0f tokens/s  MFU %.1f%%\n", ours,
              100 * ours * flops / (peak * 1e9));
  std::printf("PyTorch eager: %8.0f tokens/s  MFU %.1f%%\n", eager,
              100 * eager * flops / (peak * 1e9));
  std::printf("ratio acerl / eager: %.2f\n", eager > 0 ? ours / eager : 0.0);
  return 0;
}
