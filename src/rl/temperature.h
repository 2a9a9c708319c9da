// defines: the sampling-temperature rule of the recipe as pure functions. From a measured
// entropy curve H(T) (mean temperature-adjusted entropy of the generated tokens at each grid
// temperature, all from the same logits), temperature_for_entropy finds the T whose entropy is
// the target (0.3 by default) by linear interpolation; next_temperature moves the current T
// toward it, at most max_step per call and within [t_min, t_max].
// Worked example: grid T = [0.6, 0.8, 1.0], H = [0.10, 0.24, 0.40], target 0.30 ->
// T* = 0.8 + 0.2 * (0.30 - 0.24) / (0.40 - 0.24) = 0.875; from T = 0.7 with max_step 0.1 the
// next temperature is 0.8.
#pragma once

#include <vector>

namespace acerl::rl {

// `temperatures` increasing, `entropies` the curve at them. H grows with T; where the curve is
// not monotonic the first crossing wins. A target below/above the curve gives the first/last
// grid temperature.
double temperature_for_entropy(const std::vector<double>& temperatures,
                               const std::vector<double>& entropies, double target);

struct TemperatureControl {
  double target_entropy = 0.3;
  double t_min = 0.3, t_max = 1.5;
  double max_step = 0.05;
};

double next_temperature(double current, const std::vector<double>& temperatures,
                        const std::vector<double>& entropies, const TemperatureControl& control);

}  // namespace acerl::rl
