// defines: RunControl, the decisions both trainers (sft, rl) take together at every step
// boundary: skip the optimizer step when a loss or gradient norm is not finite on any rank (and
// fail the job after train.max_bad_steps such steps in a row), and stop with a checkpoint
// (exit 75) when a stop signal arrived on any rank or the next step would not fit before
// run.deadline. Each decision is one all-reduce over the world, so every rank takes it alike.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "config/config.h"
#include "parallel/communicator.h"

namespace acerl::train {

class RunControl {
 public:
  enum class Stop { none, signal, deadline };

  // Installs the stop-signal handlers and resolves run.deadline (with $SLURM_JOB_END_TIME).
  RunControl(const config::Config& cfg, parallel::Communicator& world, std::string phase);

  // Collective. True when `loss`, `grad_norm` and this rank's gradients (`grads`, checked
  // before the caller's global norm mixes them) are finite on every rank; otherwise logs the
  // step, the metric and the rank it came from, and returns false (the caller skips the
  // optimizer step). More than train.max_bad_steps false results in a row end the job on every
  // rank (exit 1) with a message naming the step, the metric and `last_checkpoint`.
  bool step_is_finite(int64_t step, double loss, double grad_norm,
                      const std::vector<torch::Tensor>& grads, const std::string& last_checkpoint);
  int64_t skipped_steps() const { return skipped_total_; }

  void record_step_seconds(double seconds);
  void record_checkpoint_seconds(double seconds) { checkpoint_seconds_ = seconds; }
  // Collective: whether to checkpoint and stop now (before the next step).
  // `signalled_elsewhere`: a stop signal reached a rank outside this world (acerl rl's rollout
  // ranks report theirs with their batches).
  Stop should_stop(bool signalled_elsewhere = false);
  // "a stop signal (SIGTERM/SIGUSR1)" / "run.deadline (... s left)": for the log line.
  std::string reason(Stop stop) const;
  double deadline() const { return deadline_; }  // Unix seconds; 0 = none

 private:
  parallel::Communicator& world_;
  std::string phase_;
  int64_t max_bad_steps_;
  int64_t bad_in_a_row_ = 0;
  int64_t skipped_total_ = 0;
  double deadline_ = 0;
  double margin_s_ = 0;
  std::deque<double> recent_steps_;  // seconds of the last few steps
  double checkpoint_seconds_ = 0;
};

// Test hook: ACERL_FAULT_NAN_STEPS ("3", "3,7", "5-" = from 5 on) names the steps (1-based, as
// logged) whose gradients are poisoned with NaN, on rank ACERL_FAULT_NAN_RANK (default 0).
bool fault_nan_at(int64_t step, int rank);
// Test hook: ACERL_FAULT_INF_WEIGHT_STEP=S makes one weight infinite after the optimizer step of
// step S (on rank ACERL_FAULT_NAN_RANK, default 0), for the checkpoint guard.
bool fault_inf_weight_at(int64_t step, int rank);

}  // namespace acerl::train
