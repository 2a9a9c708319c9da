// Temperature from an entropy curve; see temperature.h.
#include "rl/temperature.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace acerl::rl {

double temperature_for_entropy(const std::vector<double>& t, const std::vector<double>& h,
                               double target) {
  ACERL_CHECK(!t.empty() && t.size() == h.size(), "entropy curve: one entropy per temperature");
  if (target <= h.front()) return t.front();
  for (size_t i = 1; i < t.size(); ++i) {
    if ((h[i - 1] - target) * (h[i] - target) <= 0 && h[i] != h[i - 1])
      return t[i - 1] + (t[i] - t[i - 1]) * (target - h[i - 1]) / (h[i] - h[i - 1]);
  }
  return target >= h.back() ? t.back() : t.front();
}

double next_temperature(double current, const std::vector<double>& t, const std::vector<double>& h,
                        const TemperatureControl& c) {
  double wanted = temperature_for_entropy(t, h, c.target_entropy);
  double step = std::clamp(wanted - current, -c.max_step, c.max_step);
  return std::clamp(current + step, c.t_min, c.t_max);
}

}  // namespace acerl::rl
