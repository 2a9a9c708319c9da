// defines: run_rl, stage two of the recipe: GRPO with verifiable rewards over the stages of the
// config ([stage.NAME], run in order; or one stage from [rl] and data.path). A step is a
// producer and a consumer around the run's state (rl/rl_state: stage, step, prompt order,
// temperature controller, easy prompts):
//   producer (train/rl_producer): draw prompts -> generate G rollouts each -> score ->
//             (dynamic sampling: refill) -> the step's kept groups and totals (train/rl_step)
//   consumer: advantages + learner rows -> GRPO update(s)
// then temperature control, trace and log, checkpoint / stop. Colocated, every rank produces,
// then every rank learns; the split layout (parallel.rollout_ranks) puts the producer on rollout
// ranks and the consumer on learner ranks, joined by train/split_link, with bounded lag.
#pragma once

#include <string>

#include "config/config.h"
#include "runtime/mpi_runtime.h"

namespace acerl::train {

int run_rl(MpiRuntime& runtime, const config::Config& config, const std::string& resolved_config, bool resume);

}  // namespace acerl::train
