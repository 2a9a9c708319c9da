// defines: run_rl, stage two of the recipe: GRPO with verifiable rewards over the stages of the
// config ([stage.NAME], run in order; or one stage from [rl] and data.path), colocated (every
// rank generates, then every rank learns). A step is a producer and a consumer around the run's
// state (rl/rl_state: stage, step, prompt order, temperature controller, easy prompts):
//   producer: draw prompts -> generate G rollouts each -> score -> (dynamic sampling: refill)
//             -> the step's kept groups and totals (StepBatch)
//   consumer: advantages + learner rows -> GRPO update(s)
// then temperature control, trace and log, checkpoint / stop. The producer/consumer seam is
// where a split layout puts generation and learning on different ranks.
#pragma once

#include <string>

#include "config/config.h"
#include "runtime/mpi_runtime.h"

namespace acerl::train {

int run_rl(MpiRuntime& runtime, const config::Config& config, const std::string& resolved_config, bool resume);

}  // namespace acerl::train
