// Tokens/s and MFU; see throughput.h.
#include "train/throughput.h"

#include <chrono>

namespace acerl::train {

double measure_matmul_peak_gflops(model::Precision precision) {
  torch::NoGradGuard no_grad;
  const int64_t n = 1024;
  const auto dtype = model::compute_dtype(precision);
  auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  torch::matmul(a, b);  // warm-up
  const int reps = 8;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) torch::matmul(a, b);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * n * n * n * reps / seconds / 1e9;
}

Throughput::Throughput(const model::Qwen2Config& c, int64_t seq_len, model::Precision precision,
                       double peak_gflops_per_rank, const parallel::ProcessGroups& groups)
    : groups_(groups) {
  const double embedding =
      c.tie_word_embeddings ? 0.0 : static_cast<double>(c.vocab_size * c.hidden_size);
  const double matmul_params = static_cast<double>(c.parameter_count()) - embedding;
  flops_per_token_ = 6 * matmul_params + 12.0 * c.n_layer * c.hidden_size * seq_len;
  double per_rank = peak_gflops_per_rank;
  if (per_rank <= 0) {
    groups.world().barrier();  // all ranks measure together: shared cores count once
    per_rank = measure_matmul_peak_gflops(precision);
  }
  torch::Tensor total = torch::tensor({per_rank}, torch::kFloat64);
  groups.world().all_reduce(total);
  peak_gflops_ = total.item<double>();
}

Throughput::Step Throughput::measure(const PackedRows& local_rows, double seconds) const {
  torch::Tensor tokens = (local_rows.doc_ids >= 0).sum().to(torch::kFloat64).reshape({1});
  groups_.dp().all_reduce(tokens);
  Step s;
  s.tokens = tokens.item<double>();
  s.tokens_per_s = s.tokens / std::max(seconds, 1e-9);
  s.mfu = s.tokens_per_s * flops_per_token_ / (peak_gflops_ * 1e9);
  return s;
}

}  // namespace acerl::train
