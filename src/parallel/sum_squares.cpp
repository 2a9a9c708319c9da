// The float64 sum of squares; see sum_squares.h. Built with the vectorised loops' flags
// (src/CMakeLists.txt), cloned per vector unit (parallel/cpu_math.h).
#include "parallel/sum_squares.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "parallel/cpu_math.h"

namespace acerl::parallel {
namespace {

using namespace cpu_math;

constexpr int64_t kChunk = 1 << 16;

ACERL_CLONES double chunk_sum(const float* x, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const double v = x[i + j];
      acc[j] += v * v;  // (exact: a float's square fits a double)
    }
  for (int j = 0; i < n; ++i, ++j) {
    const double v = x[i];
    acc[j] += v * v;
  }
  return lane_sum(acc);
}

}  // namespace

double sum_of_squares(const torch::Tensor& x) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32 || !x.is_contiguous())
    return x.to(torch::kFloat64).pow(2).sum().item<double>();
  const float* p = x.data_ptr<float>();
  const int64_t n = x.numel(), chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      partial[static_cast<size_t>(c)] = chunk_sum(p + c * kChunk, std::min(kChunk, n - c * kChunk));
  });
  double total = 0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace acerl::parallel
