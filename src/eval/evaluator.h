// defines: run_eval, `acerl eval`: k samples per problem of each benchmark JSONL at the
// recipe's evaluation sampling (T = 0.6, top_p = 0.95 by default), scored by the same rewards
// as RL; reports pass@1 as avg@k with its standard error and unbiased pass@k, as a JSON report,
// HDF5 trace rows (phase "eval") and per-problem results (JSONL).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/mpi_runtime.h"

namespace acerl::eval {

struct BenchmarkResult {
  std::string file;
  int64_t problems = 0, k = 0;
  double avg_at_k = 0, standard_error = 0;
  std::vector<std::pair<int64_t, double>> pass_at;  // (k', pass@k')
  double response_length = 0, truncation_rate = 0;
};

int run_eval(MpiRuntime& runtime, const config::Config& config, const std::string& resolved_config);

}  // namespace acerl::eval
