// defines: Throughput, tokens/s and the MFU estimate of training steps.
// MFU = tokens/s * FLOPs per token / peak, with FLOPs per token = 6 * (parameters in matmuls)
// + 12 * layers * hidden * seq_len (attention scores and values, forward + backward), and the
// peak = sum over ranks of each rank's matmul GFLOP/s in the compute precision (trace.peak_gflops,
// or measured at start with all ranks running at once, so shared cores count once).
#pragma once

#include "model/precision.h"
#include "model/qwen2_config.h"
#include "parallel/process_groups.h"
#include "train/train_step.h"

namespace acerl::train {

class Throughput {
 public:
  Throughput(const model::Qwen2Config& config, int64_t seq_len, model::Precision precision,
             double peak_gflops_per_rank, const parallel::ProcessGroups& groups);
  struct Step {
    double tokens = 0;  // real (non-padding) tokens of the global batch
    double tokens_per_s = 0;
    double mfu = 0;
  };
  // Collective over the data-parallel ranks (they hold different rows).
  Step measure(const PackedRows& local_rows, double seconds) const;
  double flops_per_token() const { return flops_per_token_; }
  double peak_gflops() const { return peak_gflops_; }  // whole job

 private:
  const parallel::ProcessGroups& groups_;
  double flops_per_token_ = 0;
  double peak_gflops_ = 0;
};

// Matmul GFLOP/s of this rank in `precision` (bf16 or fp32) with its current thread count.
double measure_matmul_peak_gflops(model::Precision precision);

}  // namespace acerl::train
