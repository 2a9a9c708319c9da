// defines: the evaluation metrics of the recipe: pass@1 reported as avg@k (mean accuracy over k
// samples per problem) with its standard error over problems, and the unbiased pass@k estimator
// 1 - C(n - c, k) / C(n, k) for n samples of which c are correct.
// Worked example: two problems with 4 samples, 1 and 3 correct: avg@4 = (0.25 + 0.75) / 2 = 0.5,
// standard error = std([0.25, 0.75]) / sqrt(2) = 0.3536 / 1.414 = 0.25; pass@2 of the first is
// 1 - C(3, 2) / C(4, 2) = 0.5.
#pragma once

#include <cstdint>
#include <vector>

namespace acerl::eval {

double pass_at_k(int64_t n, int64_t c, int64_t k);

struct AvgAtK {
  double mean = 0;
  double standard_error = 0;  // sample standard deviation of per-problem accuracy / sqrt(problems)
};
// `correct[i]` of `n` samples for problem i.
AvgAtK avg_at_k(const std::vector<int64_t>& correct, int64_t n);

}  // namespace acerl::eval
