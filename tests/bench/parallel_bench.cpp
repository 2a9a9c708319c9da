// acerl_bench_parallel: one training step (forward, backward, gradient sync, AdamW) of the
// "small" shape (d 512, 8 layers, 8 heads, 2 KV heads, ffn 1408, vocab 32000), bf16 autocast,
// 4 rows of 512 tokens in micro-batches of 1 row, under the layout given, and the bytes each
// rank hands to the network per step: measured by the communicators, and from the formula of
// the README (ring all-reduce 2(n-1)/n x size, all-gather (n-1) x size, point-to-point x size).
//   mpiexec -n 2 acerl_bench_parallel TP PP DP   (1 1 1 on one rank)
#include <mpi.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>

#include "bench_util.h"
#include "model/qwen2.h"
#include "optim/adamw.h"
#include "parallel/grad_sync.h"
#include "parallel/process_groups.h"
#include "runtime/mpi_runtime.h"
#include "train/train_step.h"

using namespace acerl;

int main(int argc, char** argv) {
  return run_main(argc, argv, [](MpiRuntime& runtime, int argc, char** argv) {
    parallel::Layout layout{argc > 1 ? std::atoi(argv[1]) : 1, argc > 2 ? std::atoi(argv[2]) : 1,
                            argc > 3 ? std::atoi(argv[3]) : 1};
    model::Qwen2Config c;
    c.hidden_size = 512;
    c.n_layer = 8;
    c.n_head = 8;
    c.n_head_kv = 2;
    c.intermediate_size = 1408;
    c.vocab_size = 32000;
    c.rope_theta = 1e6;
    parallel::ProcessGroups groups(runtime.world(), layout);
    model::Qwen2ForCausalLM m(c, groups);
    model::init_parameters(*m, 1);
    std::vector<torch::Tensor> params, split, replicated;
    for (const auto& s : m->param_shards()) {
      params.push_back(s.tensor);
      (s.split_dim >= 0 ? split : replicated).push_back(s.tensor);
    }
    optim::AdamW adamw(params, std::vector<bool>(params.size(), true), {});
    parallel::GradSync sync(params, groups.dp());
    const int64_t rows = 4 / layout.dp, T = 512;
    train::PackedRows batch;
    torch::manual_seed(groups.dp_rank());
    batch.ids = torch::randint(c.vocab_size, {rows, T});
    batch.positions = torch::arange(T).repeat({rows, 1});
    batch.targets = torch::roll(batch.ids, -1, 1);
    batch.weights = torch::ones({rows, T});
    auto step = [&] {
      sync.zero_grad();
      train::forward_backward(*m, groups, batch, 1, model::Precision::bf16, &sync);
      parallel::clip_grad_norm(split, replicated, groups, 1.0);
      adamw.step(1e-4);
    };
    step();  // warm-up
    for (auto* comm : {&groups.tp(), &groups.pp(), &groups.dp()}) comm->reset_stats();
    const int repeats = 3;
    double seconds = bench::median_seconds(step, repeats, 0);
    const double measured =
        double(groups.tp().stats().bytes_sent + groups.pp().stats().bytes_sent + groups.dp().stats().bytes_sent) /
        repeats;
    // The formula (per rank, per step): see README "Communication per step".
    const double d = c.hidden_size, tokens = double(rows) * T, micro = double(rows);
    const double t = layout.tp, p = layout.pp, dpn = layout.dp;
    double formula = 0;
    if (t > 1) {
      const double layers = double(c.n_layer) / p;
      const double ring = 2 * (t - 1) / t;
      // Per layer: forward all-reduces after o_proj and down_proj (bf16 outputs), backward
      // all-reduces of the input gradients of q/k/v and gate/up (float32: their input is the
      // float32 norm output).
      formula += layers * ring * tokens * d * (2 * 2 + 2 * 4);
      if (groups.first_stage()) formula += ring * tokens * d * 4;  // embedding output (float32)
      if (groups.last_stage()) formula += ring * tokens * (d * 4 + 3 * 4);  // head input grad + CE max/sum/target
    }
    if (p > 1) formula += micro * tokens / micro * d * 4;  // one activation or gradient per micro-batch
    double param_bytes = 0;
    for (const auto& s : m->param_shards()) param_bytes += double(s.tensor.numel()) * 4;
    if (dpn > 1) formula += 2 * (dpn - 1) / dpn * param_bytes;  // gradient all-reduce (fp32)
    double values[2] = {measured, formula};
    double totals[2];
    MPI_Reduce(values, totals, 2, MPI_DOUBLE, MPI_SUM, 0, runtime.world());
    double slowest = 0;
    MPI_Reduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, runtime.world());
    if (runtime.rank() == 0)
      std::printf("layout tp=%d pp=%d dp=%d ranks=%d threads/rank=%d: step %.3f s, %.0f tok/s; bytes sent per step "
                  "(all ranks) measured %.1f MB, formula %.1f MB\n",
                  layout.tp, layout.pp, layout.dp, runtime.size(), torch::get_num_threads(), slowest, 4 * T / slowest,
                  totals[0] / 1e6, totals[1] / 1e6);
    return 0;
  });
}
