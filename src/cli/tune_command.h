// defines: `acerl tune-temperature`: samples the starting model on a prompt set and reports the
// temperature whose temperature-adjusted entropy is closest to rl.target_entropy (0.3), by
// interpolation on the measured curve H(T) of rl.entropy_grid (all from the same logits).
#pragma once

#include "cli/command.h"

namespace acerl::cli {

int run_tune_temperature(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
