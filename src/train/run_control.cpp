// Per-step collective decisions of the trainers; see run_control.h.
#include "train/run_control.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "config/deadline.h"
#include "runtime/clock.h"
#include "runtime/error.h"
#include "runtime/exit_codes.h"
#include "runtime/log.h"
#include "runtime/mpi_runtime.h"
#include "runtime/signals.h"

namespace acerl::train {
namespace {

constexpr size_t kRecentSteps = 5;

}  // namespace

RunControl::RunControl(const config::Config& cfg, parallel::Communicator& world, std::string phase)
    : world_(world),
      phase_(std::move(phase)),
      max_bad_steps_(cfg.train.max_bad_steps),
      margin_s_(cfg.run.deadline_margin_s) {
  install_stop_signal_handlers();
  deadline_ =
      config::parse_deadline(cfg.run.deadline, process_start_unix(), std::getenv("SLURM_JOB_END_TIME"));
  if (deadline_ > 0)
    log0(str(phase_, ": run.deadline in ", static_cast<int64_t>(deadline_ - unix_now()),
             " s; the run checkpoints and exits 75 when the next step would not fit"));
}

bool RunControl::step_is_finite(int64_t step, double loss, double grad_norm,
                                const std::vector<torch::Tensor>& grads,
                                const std::string& last_checkpoint) {
  bool grads_bad = false;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : grads)
      if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) {
        grads_bad = true;
        break;
      }
  }
  // Where it came from: a rank whose own gradients are bad first, then the lowest rank; the
  // minimum over ranks of (class, rank) encodes both. Class 0: gradients, 1: loss, 2: norm.
  const int64_t size = world_.size(), rank = world_.rank();
  const int64_t kind = grads_bad ? 0 : !std::isfinite(loss) ? 1 : !std::isfinite(grad_norm) ? 2 : 3;
  torch::Tensor flag = torch::tensor({kind * size + rank}, torch::kInt64);
  world_.all_reduce(flag, parallel::ReduceOp::min);
  const int64_t first = flag.item<int64_t>();
  if (first / size == 3) {
    bad_in_a_row_ = 0;
    return true;
  }
  ++bad_in_a_row_;
  ++skipped_total_;
  const char* metrics[] = {"gradient", "loss", "gradient norm"};
  const char* metric = metrics[first / size];
  const int64_t bad_rank = first % size;
  if (bad_in_a_row_ > max_bad_steps_)
    fail_collectively(
        world_.rank(),
        str(phase_, " step ", step, ": the ", metric, " is not finite (rank ", bad_rank, ") for ",
            bad_in_a_row_, " steps in a row, more than train.max_bad_steps = ", max_bad_steps_,
            "; stopping. Last good checkpoint: ",
            last_checkpoint.empty() ? "none" : last_checkpoint,
            " (lower the learning rate, or check the data, then resume from it)"),
        kExitFailure);
  log0(str(phase_, " step ", step, ": the ", metric, " is not finite on rank ", bad_rank,
           "; optimizer step skipped on every rank (", bad_in_a_row_, " in a row, at most ",
           max_bad_steps_, ")"));
  return false;
}

void RunControl::record_step_seconds(double seconds) {
  recent_steps_.push_back(seconds);
  if (recent_steps_.size() > kRecentSteps) recent_steps_.pop_front();
}

RunControl::Stop RunControl::should_stop(bool signalled_elsewhere) {
  int64_t deadline_hit = 0;
  if (deadline_ > 0) {
    const double next_step =
        recent_steps_.empty() ? 0 : *std::max_element(recent_steps_.begin(), recent_steps_.end());
    // Until one checkpoint was timed, assume it takes as long as a step.
    const double checkpoint = checkpoint_seconds_ > 0 ? checkpoint_seconds_ : next_step;
    deadline_hit = unix_now() + next_step + checkpoint + margin_s_ > deadline_ ? 1 : 0;
  }
  torch::Tensor flags =
      torch::tensor({static_cast<int64_t>(stop_signal_received() || signalled_elsewhere), deadline_hit},
                    torch::kInt64);
  world_.all_reduce(flags, parallel::ReduceOp::max);
  if (flags[0].item<int64_t>()) return Stop::signal;
  if (flags[1].item<int64_t>()) return Stop::deadline;
  return Stop::none;
}

std::string RunControl::reason(Stop stop) const {
  if (stop == Stop::signal) return "a stop signal (SIGTERM or SIGUSR1)";
  if (stop == Stop::deadline)
    return str("run.deadline (", static_cast<int64_t>(deadline_ - unix_now()), " s left, margin ",
               margin_s_, " s)");
  return "nothing";
}

bool fault_nan_at(int64_t step, int rank) {
  static const char* spec = std::getenv("ACERL_FAULT_NAN_STEPS");
  if (!spec) return false;
  static const char* rank_text = std::getenv("ACERL_FAULT_NAN_RANK");
  if (rank != (rank_text ? std::atoi(rank_text) : 0)) return false;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    if (item.back() == '-') {
      if (step >= std::atoll(item.c_str())) return true;
    } else if (step == std::atoll(item.c_str())) {
      return true;
    }
  }
  return false;
}

bool fault_inf_weight_at(int64_t step, int rank) {
  static const char* spec = std::getenv("ACERL_FAULT_INF_WEIGHT_STEP");
  static const char* rank_text = std::getenv("ACERL_FAULT_NAN_RANK");
  return spec && step == std::atoll(spec) && rank == (rank_text ? std::atoi(rank_text) : 0);
}

}  // namespace acerl::train
