// defines: RlState, where an RL run stands between two steps: the stage and its step, the global
// step, the prompt order's position (epoch and cursor of the stage's shuffle), the temperature
// controller, and the easy-prompt lists. It is what a checkpoint saves and a resume restores, and
// what the producer (prompts -> rollouts -> groups) and the consumer (groups -> update) of a
// step share.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "io/json.h"

namespace acerl::rl {

struct RlState {
  int64_t global_step = 0;  // steps done in the whole run
  size_t stage = 0;         // index of the stage the next step belongs to
  int64_t stage_step = 0;   // steps of that stage already done (0: the stage starts afresh)
  int64_t epoch = 0;        // the prompt sampler's epoch and cursor within the stage
  int64_t cursor = 0;
  int64_t stage_prompts = 0;  // the stage's prompt count when written (0: not recorded)
  double temperature = 0;     // of the next step (0: not chosen yet)
  bool controller_started = false;
  std::set<std::string> easy, solved;  // easy prompts; solved by every rollout this epoch

  // The checkpoint's "state" object ("phase": "rl"). At a stage boundary (stage_step 0) the
  // prompt position and the easy lists belong to the finished stage and are written empty.
  json::Value to_json() const;
  // From a checkpoint's state and step; UsageError naming `source` when a key is missing.
  static RlState from_json(const json::Value& state, int64_t global_step, const std::string& source);
};

}  // namespace acerl::rl
