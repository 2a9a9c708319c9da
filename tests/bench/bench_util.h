// defines: small helpers shared by the benchmarks: the model shapes they run, wall-clock timing
// of a callable (median of repeats after warm-up), the machine's measured matmul peak, and
// running the PyTorch eager reference script of the same computation.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "model/qwen2_config.h"

namespace acerl::bench {

// The "small" shape (55M parameters) or the Qwen2.5-0.5B shape (random weights in the benches).
inline model::Qwen2Config shape(bool qwen05b) {
  model::Qwen2Config c;
  c.hidden_size = qwen05b ? 896 : 512;
  c.n_layer = qwen05b ? 24 : 8;
  c.n_head = qwen05b ? 14 : 8;
  c.n_head_kv = 2;
  c.intermediate_size = qwen05b ? 4864 : 1408;
  c.vocab_size = qwen05b ? 151936 : 32000;
  c.tie_word_embeddings = qwen05b;
  c.rope_theta = 1e6;
  return c;
}

template <class Fn>
double median_seconds(Fn fn, int repeats, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// GFLOP/s of a (n x n) @ (n x n) matmul in `dtype` with the current thread count.
inline double matmul_peak_gflops(torch::ScalarType dtype, int64_t n = 2048) {
  auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  double s = median_seconds([&] { torch::matmul(a, b); }, 5, 2);
  return 2.0 * n * n * n / s / 1e9;
}

// Runs `python script args` and returns its stdout (empty when it failed).
inline std::string run_python(const std::string& script, const std::string& args) {
  std::string command = std::string(ACERL_BENCH_PYTHON) + " " + script + " " + args;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  return pclose(pipe) == 0 ? out : "";
}

}  // namespace acerl::bench
