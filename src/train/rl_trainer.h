// defines: run_rl, stage two of the recipe: GRPO with verifiable rewards over the stages of the
// config ([stage.NAME], run in order; or one stage from [rl] and data.path), colocated (every
// rank generates, then every rank learns). A step is made of separable pieces, so that a later
// layout can overlap generation and learning on different ranks:
//   draw prompts -> generate G rollouts each -> score -> (dynamic sampling: refill) ->
//   advantages + learner rows -> GRPO update(s) -> temperature control -> trace / checkpoint.
#pragma once

#include <string>

#include "config/config.h"
#include "runtime/mpi_runtime.h"

namespace acerl::train {

int run_rl(MpiRuntime& runtime, const config::Config& config, const std::string& resolved_config, bool resume);

}  // namespace acerl::train
