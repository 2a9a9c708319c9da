// avg@k, its standard error, unbiased pass@k; see metrics.h.
#include "eval/metrics.h"

#include <cmath>

#include "runtime/error.h"

namespace acerl::eval {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  ACERL_CHECK(k >= 1 && k <= n && c >= 0 && c <= n, "pass@", k, " needs 1 <= k <= n = ", n,
              " and 0 <= c <= n");
  if (n - c < k) return 1.0;
  // C(n - c, k) / C(n, k) = prod_{i = n - c + 1}^{n} (1 - k / i), stable for large n.
  double fail = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i)
    fail *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - fail;
}

AvgAtK avg_at_k(const std::vector<int64_t>& correct, int64_t n) {
  AvgAtK out;
  if (correct.empty()) return out;
  const double p = static_cast<double>(correct.size());
  for (int64_t c : correct) out.mean += static_cast<double>(c) / static_cast<double>(n) / p;
  if (correct.size() < 2) return out;
  double var = 0;
  for (int64_t c : correct) {
    const double d = static_cast<double>(c) / static_cast<double>(n) - out.mean;
    var += d * d / (p - 1);
  }
  out.standard_error = std::sqrt(var / p);
  return out;
}

}  // namespace acerl::eval
